//! Test helpers shared by the chunk codec tests: a caller-style decode loop and a xorshift RNG.

pub use super::RawMessage;
use super::{ChunkDecoder, ChunkError, ChunkLimits};

pub fn limits() -> ChunkLimits {
    ChunkLimits {
        max_message_size: 1 << 20,
        max_chunk_streams: 16,
        max_partial_bytes: 4 << 20,
    }
}

/// Drives `dec` the way the server does: append `piece` to `buf`, decode while progress is
/// made, drop consumed bytes, and (if `apply_scs`) apply Set Chunk Size messages.
pub fn drive(
    dec: &mut ChunkDecoder,
    buf: &mut Vec<u8>,
    piece: &[u8],
    apply_scs: bool,
    out: &mut Vec<RawMessage>,
) -> Result<(), ChunkError> {
    buf.extend_from_slice(piece);
    loop {
        let d = dec.decode(buf)?;
        assert!(d.consumed <= buf.len(), "consumed more than given");
        buf.drain(..d.consumed);
        let got = d.message.is_some();
        if let Some(m) = d.message {
            if apply_scs && m.type_id == 1 && m.payload.len() >= 4 {
                let size = u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]);
                dec.set_chunk_size(size & 0x7fff_ffff)?;
            }
            out.push(m);
        }
        if d.consumed == 0 && !got {
            return Ok(());
        }
    }
}

/// Decodes `bytes` split into the given piece lengths (the last piece takes the rest).
pub fn decode_split(
    dec: &mut ChunkDecoder,
    bytes: &[u8],
    splits: &[usize],
    apply_scs: bool,
) -> Result<Vec<RawMessage>, ChunkError> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    for &n in splits {
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        drive(dec, &mut buf, piece, apply_scs, &mut out)?;
        rest = tail;
    }
    drive(dec, &mut buf, rest, apply_scs, &mut out)?;
    assert!(buf.len() < 18, "decoder left {} bytes unconsumed", buf.len());
    Ok(out)
}

/// Decodes `bytes` fed in one piece.
pub fn decode_all(dec: &mut ChunkDecoder, bytes: &[u8]) -> Result<Vec<RawMessage>, ChunkError> {
    decode_split(dec, bytes, &[], false)
}

pub fn msg(csid: u32, timestamp: u32, type_id: u8, stream_id: u32, payload: Vec<u8>) -> RawMessage {
    RawMessage {
        csid,
        timestamp,
        type_id,
        stream_id,
        payload,
    }
}

/// Payload of `len` bytes with a recognisable pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Deterministic xorshift64* generator.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish value in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
