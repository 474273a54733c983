//! Shared media messages for fan-out: each receiver builds only its own headers (a fmt 0
//! header with its timestamp and stream id, and the fmt 3 continuation header), and the
//! message goes out as slices: those headers between pieces of the one shared payload, so
//! nothing of the payload is copied per receiver or even once.

use super::limits::EXTENDED_MARKER;
use super::{ChunkEncoder, RawMessage};
use std::io::IoSlice;

/// Longest fmt 0 header: 3-byte basic header, 11-byte message header, extended timestamp.
pub const MAX_FMT0_HEADER: usize = 18;

/// Appends a basic header (1, 2 or 3 bytes by csid).
pub fn basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    let fmt_bits = fmt << 6;
    match csid {
        2..=63 => out.push(fmt_bits | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt_bits, (csid - 64) as u8]),
        _ => {
            let rest = csid.saturating_sub(64).min(65535);
            out.extend_from_slice(&[fmt_bits | 1, (rest & 0xFF) as u8, (rest >> 8) as u8]);
        }
    }
}

/// One receiver's headers for a message: `head` (fmt 0: basic header, message header and, for
/// a timestamp from 0xFFFFFF on, the extended timestamp) and `continuation` (the fmt 3 basic
/// header before each later chunk, repeating the extended timestamp when there is one, as
/// FFmpeg, librtmp and `ChunkEncoder` do). Both are cleared first.
pub fn message_headers(
    csid: u32,
    timestamp: u32,
    length: usize,
    type_id: u8,
    stream_id: u32,
    head: &mut Vec<u8>,
    continuation: &mut Vec<u8>,
) {
    head.clear();
    continuation.clear();
    let extended = timestamp >= EXTENDED_MARKER;
    basic_header(0, csid, head);
    let field = if extended { EXTENDED_MARKER } else { timestamp };
    head.extend_from_slice(&field.to_be_bytes()[1..]);
    head.extend_from_slice(&(length.min(0xFF_FFFF) as u32).to_be_bytes()[1..]);
    head.push(type_id);
    head.extend_from_slice(&stream_id.to_le_bytes());
    basic_header(3, csid, continuation);
    if extended {
        head.extend_from_slice(&timestamp.to_be_bytes());
        continuation.extend_from_slice(&timestamp.to_be_bytes());
    }
}

/// One message as one receiver gets it, without copying the payload: `head`, then the
/// payload in `chunk_size` pieces with `continuation` before every piece after the first.
#[derive(Debug, Clone, Copy)]
pub struct WireMessage<'a> {
    pub head: &'a [u8],
    pub continuation: &'a [u8],
    pub payload: &'a [u8],
    pub chunk_size: u32,
}

impl<'a> WireMessage<'a> {
    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        let pieces = self.payload.len().div_ceil(self.chunk_size.max(1) as usize);
        self.head.len() + self.payload.len() + pieces.saturating_sub(1) * self.continuation.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The wire bytes from `skip` on, as slices (none empty) of the headers and the payload.
    pub fn slices_from(self, skip: usize) -> impl Iterator<Item = IoSlice<'a>> {
        let mut skip = skip;
        self.segments().filter_map(move |segment| {
            if skip >= segment.len() {
                skip -= segment.len();
                return None;
            }
            let part = segment.get(skip..).unwrap_or(&[]);
            skip = 0;
            Some(IoSlice::new(part))
        })
    }

    fn segments(self) -> impl Iterator<Item = &'a [u8]> {
        let size = self.chunk_size.max(1) as usize;
        let continuation = self.continuation;
        std::iter::once(self.head).chain(
            self.payload
                .chunks(size)
                .enumerate()
                .flat_map(move |(i, piece)| [if i == 0 { &[][..] } else { continuation }, piece]),
        )
    }
}

/// Encodes a whole message with a fresh header state (fmt 0, then fmt 3 continuations that
/// repeat the extended timestamp when there is one).
pub fn encode_whole(message: &RawMessage, chunk_size: u32, out: &mut Vec<u8>) {
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(chunk_size);
    encoder.encode(message, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::chunk::{ChunkDecoder, ChunkLimits};

    fn decode(bytes: &[u8], chunk_size: u32) -> Vec<RawMessage> {
        let mut decoder = ChunkDecoder::new(ChunkLimits::default());
        decoder.set_chunk_size(chunk_size).unwrap();
        let mut rest = bytes;
        let mut out = Vec::new();
        loop {
            let decoded = decoder.decode(rest).unwrap();
            rest = &rest[decoded.consumed..];
            match decoded.message {
                Some(m) => out.push(m),
                None if decoded.consumed == 0 => break,
                None => {}
            }
        }
        out
    }

    /// The wire bytes of `payload` for one receiver, gathered from the slices from `skip` on.
    fn wire(csid: u32, timestamp: u32, chunk_size: u32, payload: &[u8], skip: usize) -> Vec<u8> {
        let (mut head, mut continuation) = (Vec::new(), Vec::new());
        message_headers(csid, timestamp, payload.len(), 9, 1, &mut head, &mut continuation);
        let message = WireMessage {
            head: &head,
            continuation: &continuation,
            payload,
            chunk_size,
        };
        let bytes: Vec<u8> = message.slices_from(skip).flat_map(|s| s.to_vec()).collect();
        assert_eq!(bytes.len(), message.len().saturating_sub(skip));
        bytes
    }

    #[test]
    fn wire_messages_are_exactly_what_the_encoder_writes() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        for timestamp in [0u32, 40, 0xFF_FFFE, 0xFF_FFFF, 0x0100_0000, u32::MAX] {
            for chunk_size in [128u32, 4096, 10_000, 65_536] {
                for len in [0usize, 1, 127, 128, 129, 4096, 10_000] {
                    let message = RawMessage {
                        csid: 7,
                        timestamp,
                        type_id: 9,
                        stream_id: 1,
                        payload: payload[..len].to_vec(),
                    };
                    let mut encoded = Vec::new();
                    encode_whole(&message, chunk_size, &mut encoded);
                    let ours = wire(7, timestamp, chunk_size, &payload[..len], 0);
                    assert!(ours == encoded, "ts {timestamp} chunk {chunk_size} len {len}");
                    assert_eq!(decode(&ours, chunk_size), vec![message]);
                }
            }
        }
    }

    #[test]
    fn slices_resume_at_any_byte_and_are_never_empty() {
        let payload: Vec<u8> = (0..9_000u32).map(|i| i as u8).collect();
        let whole = wire(7, 0x0100_0000, 4096, &payload, 0);
        for skip in [
            0,
            1,
            11,
            15,
            16,
            4111,
            4112,
            4116,
            4117,
            whole.len() - 1,
            whole.len(),
            whole.len() + 5,
        ] {
            let rest = wire(7, 0x0100_0000, 4096, &payload, skip);
            assert_eq!(rest[..], whole[skip.min(whole.len())..], "skip {skip}");
        }
        let (mut head, mut continuation) = (Vec::new(), Vec::new());
        message_headers(7, 0, payload.len(), 9, 1, &mut head, &mut continuation);
        let message = WireMessage {
            head: &head,
            continuation: &continuation,
            payload: &payload,
            chunk_size: 4096,
        };
        assert!(message.slices_from(0).all(|s| !s.is_empty()));
        assert_eq!(
            message.slices_from(0).count(),
            1 + 3 + 2,
            "head, three pieces, two continuations"
        );
        let payload_slice = message.slices_from(head.len()).next().unwrap();
        assert!(
            std::ptr::eq(payload_slice.as_ptr(), payload.as_ptr()),
            "the payload is not copied"
        );
    }

    #[test]
    fn basic_headers_cover_all_csid_sizes() {
        for csid in [2u32, 63, 64, 319, 320, 65599] {
            let payload = vec![1u8; 300];
            let messages = decode(&wire(csid, 5, 128, &payload, 0), 128);
            assert_eq!(messages.len(), 1, "csid {csid}");
            assert_eq!(messages[0].csid, csid);
            assert_eq!(messages[0].payload, payload);
        }
    }
}
