//! Chunk encoder: splits messages into chunks with the smallest header that is correct.
//!
//! Sans-IO: appends bytes to a caller-owned `Vec<u8>`. Header choice matches what the decoder
//! (and FFmpeg) expect: fmt 0 on a new csid, a new stream id or a timestamp going backwards;
//! fmt 1 when length or type changed; fmt 2 when only the delta changed; fmt 3 otherwise.

use std::collections::HashMap;

use byteorder::{BigEndian, ByteOrder, LittleEndian};

use super::limits::{EXTENDED_MARKER, MAX_CHUNK_SIZE};
use super::shared::basic_header;
use super::RawMessage;

/// Lowest and highest chunk stream ids a basic header can carry.
pub const MIN_CSID: u32 = 2;
pub const MAX_CSID: u32 = 65599;

/// Longest message the 24-bit length field can announce.
pub const MAX_MESSAGE_LEN: usize = 0x00FF_FFFF;

/// What the peer's decoder remembers about a csid after our last header on it.
#[derive(Debug, Clone, Copy)]
struct SentState {
    timestamp: u32,
    /// Value of the last header's timestamp field: absolute after fmt 0, delta after fmt 1/2.
    /// A fmt 3 header starting a new message adds exactly this to the timestamp.
    field: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
}

/// Splits outgoing messages into chunks, remembering per-csid header state.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    streams: HashMap<u32, SentState>,
}

impl ChunkEncoder {
    pub fn new() -> Self {
        Self {
            chunk_size: super::INITIAL_CHUNK_SIZE,
            streams: HashMap::new(),
        }
    }

    /// Sets the chunk size for messages encoded from now on, clamped to 1..=`MAX_CHUNK_SIZE`.
    /// Send the Set Chunk Size message (encoded with the old size) before calling this.
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE);
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Forgets all header state, so the next message on every csid starts with fmt 0.
    pub fn reset(&mut self) {
        self.streams.clear();
    }

    pub fn encode(&mut self, message: &RawMessage, out: &mut Vec<u8>) {
        self.encode_parts(
            message.csid,
            message.timestamp,
            message.type_id,
            message.stream_id,
            &message.payload,
            out,
        );
    }

    /// Appends the chunks of one message to `out`. A csid outside 2..=65599 is clamped into that
    /// range; a payload longer than 0xFFFFFF bytes is truncated to that length (the wire limit).
    pub fn encode_parts(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        let csid = csid.clamp(MIN_CSID, MAX_CSID);
        let payload = payload.get(..MAX_MESSAGE_LEN).unwrap_or(payload);
        let length = u32::try_from(payload.len()).unwrap_or(0);
        let prev = self.streams.get(&csid).copied();

        let (fmt, field) = match prev {
            Some(p) if p.stream_id == stream_id && timestamp >= p.timestamp => {
                let delta = timestamp.wrapping_sub(p.timestamp);
                if p.length != length || p.type_id != type_id {
                    (1u8, delta)
                } else if delta != p.field {
                    (2, delta)
                } else {
                    (3, delta)
                }
            }
            _ => (0, timestamp),
        };
        let extended = field >= EXTENDED_MARKER;

        let chunk_size = usize::try_from(self.chunk_size).unwrap_or(usize::MAX).max(1);
        let chunks = payload.len().div_ceil(chunk_size).max(1);
        let header_guess = chunks.saturating_mul(7).saturating_add(18);
        out.reserve(payload.len().saturating_add(header_guess));

        basic_header(fmt, csid, out);
        let ts_bytes = if extended { EXTENDED_MARKER } else { field };
        if fmt <= 2 {
            write_u24(out, ts_bytes);
        }
        if fmt <= 1 {
            write_u24(out, length);
            out.push(type_id);
        }
        if fmt == 0 {
            let mut sid = [0u8; 4];
            LittleEndian::write_u32(&mut sid, stream_id);
            out.extend_from_slice(&sid);
        }
        if extended {
            write_u32(out, field);
        }

        let mut pieces = payload.chunks(chunk_size);
        if let Some(first) = pieces.next() {
            out.extend_from_slice(first);
        }
        for piece in pieces {
            basic_header(3, csid, out);
            if extended {
                write_u32(out, field);
            }
            out.extend_from_slice(piece);
        }

        self.streams.insert(
            csid,
            SentState {
                timestamp,
                field,
                length,
                type_id,
                stream_id,
            },
        );
    }
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

fn write_u24(out: &mut Vec<u8>, value: u32) {
    let mut b = [0u8; 3];
    BigEndian::write_u24(&mut b, value & 0x00FF_FFFF);
    out.extend_from_slice(&b);
}

fn write_u32(out: &mut Vec<u8>, value: u32) {
    let mut b = [0u8; 4];
    BigEndian::write_u32(&mut b, value);
    out.extend_from_slice(&b);
}

#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
