//! RTMP chunk stream: splitting messages into chunks (encoder) and joining them (decoder).

mod csid_map;
mod decoder;
mod encoder;
mod limits;

pub use decoder::{ChunkDecoder, ChunkError, ChunkLimits, Decoded};
pub use encoder::ChunkEncoder;
pub mod shared;
pub use encoder::{MAX_CSID, MAX_MESSAGE_LEN, MIN_CSID};
pub use limits::{MAX_ANNOUNCED_CHUNK_SIZE, MAX_CHUNK_SIZE, MAX_HEADER_LEN};

/// Chunk size of both directions until Set Chunk Size says otherwise (the spec's 128).
pub const INITIAL_CHUNK_SIZE: u32 = 128;

/// One complete RTMP message, as reassembled from chunks or handed to the encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Chunk stream id it travelled on (2..=65599).
    pub csid: u32,
    /// Absolute timestamp in ms (32 bits, wraps).
    pub timestamp: u32,
    /// Message type id (1 = Set Chunk Size, 8 = audio, 9 = video, 20 = AMF0 command, ...).
    pub type_id: u8,
    /// Message stream id (little-endian on the wire).
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod test_util;
