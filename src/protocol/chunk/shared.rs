//! Shared media messages for fan-out: a message body is split into chunks once (fmt 3
//! continuation headers between the pieces) and shared by every receiver with the same chunk
//! size; each receiver only builds its own fmt 0 header (its timestamp and stream id).

use super::limits::EXTENDED_MARKER;
use super::{ChunkEncoder, RawMessage};

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

/// The body of a message split into `chunk_size` pieces with fmt 3 headers between them.
/// Valid after a fmt 0 header whose timestamp is below the extended marker.
pub fn prechunk_body(csid: u32, chunk_size: u32, payload: &[u8]) -> Vec<u8> {
    let size = chunk_size.max(1) as usize;
    let pieces = payload.len().div_ceil(size).max(1);
    let mut out = Vec::with_capacity(payload.len() + pieces * 3);
    for (i, piece) in payload.chunks(size).enumerate() {
        if i > 0 {
            basic_header(3, csid, &mut out);
        }
        out.extend_from_slice(piece);
    }
    out
}

/// A fmt 0 header for one receiver; returns false (and writes nothing) when the timestamp
/// needs the extended field, in which case continuation chunks differ per receiver too and
/// `encode_whole` must be used.
pub fn fmt0_header(csid: u32, timestamp: u32, length: usize, type_id: u8, stream_id: u32, out: &mut Vec<u8>) -> bool {
    if timestamp >= EXTENDED_MARKER {
        return false;
    }
    basic_header(0, csid, out);
    out.extend_from_slice(&timestamp.to_be_bytes()[1..]);
    out.extend_from_slice(&(length.min(0xFF_FFFF) as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    true
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

    #[test]
    fn prechunked_body_with_per_receiver_headers_decodes_to_the_message() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let body = prechunk_body(7, 4096, &payload);
        assert_eq!(body.len(), payload.len() + 2, "two continuation headers");
        let mut wire = Vec::new();
        for (timestamp, stream_id) in [(40u32, 1u32), (80, 1)] {
            assert!(fmt0_header(7, timestamp, payload.len(), 9, stream_id, &mut wire));
            wire.extend_from_slice(&body);
        }
        let messages = decode(&wire, 4096);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].timestamp, 80);
        assert_eq!(messages[0].payload, payload);
        assert_eq!(
            (messages[0].csid, messages[0].type_id, messages[0].stream_id),
            (7, 9, 1)
        );
    }

    #[test]
    fn extended_timestamps_fall_back_to_whole_encoding() {
        let mut header = Vec::new();
        assert!(!fmt0_header(6, 0x0100_0000, 10, 8, 1, &mut header));
        assert!(header.is_empty());
        let message = RawMessage {
            csid: 6,
            timestamp: 0x0100_0000,
            type_id: 8,
            stream_id: 1,
            payload: vec![5; 300],
        };
        let mut wire = Vec::new();
        encode_whole(&message, 128, &mut wire);
        assert_eq!(decode(&wire, 128), vec![message]);
    }

    #[test]
    fn basic_headers_cover_all_csid_sizes() {
        for csid in [2u32, 63, 64, 319, 320, 65599] {
            let payload = vec![1u8; 300];
            let mut wire = Vec::new();
            assert!(fmt0_header(csid, 5, payload.len(), 8, 1, &mut wire));
            wire.extend_from_slice(&prechunk_body(csid, 128, &payload));
            let messages = decode(&wire, 128);
            assert_eq!(messages.len(), 1, "csid {csid}");
            assert_eq!(messages[0].csid, csid);
        }
    }

    #[test]
    fn empty_payload_has_an_empty_body() {
        assert!(prechunk_body(6, 128, &[]).is_empty());
    }
}
