//! Chunk codec limits, constants and the decoder's error type.

use std::fmt;

/// Largest chunk size accepted from a peer and used by the encoder (the spec calls sizes
/// above 0xFFFFFF meaningless; FFmpeg and SRS accept 16 MiB, so we do too).
pub const MAX_CHUNK_SIZE: u32 = 0x0100_0000;
/// Largest chunk size the server announces (`--chunk-size`): the spec's largest meaningful
/// size, which every peer accepts.
pub const MAX_ANNOUNCED_CHUNK_SIZE: u32 = 0x00FF_FFFF;

/// Longest possible chunk header: 3-byte basic header + 11-byte message header + 4-byte extended timestamp.
pub const MAX_HEADER_LEN: usize = 18;

/// The 24-bit timestamp field value that announces a 4-byte extended timestamp.
pub(crate) const EXTENDED_MARKER: u32 = 0x00FF_FFFF;

/// Resource limits a peer cannot exceed. Every byte held by the decoder is bounded by
/// `max_partial_bytes` (plus a few hundred bytes of bookkeeping per chunk stream, and buffer
/// capacity reserved ahead: per unfinished message at most the bytes it received).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest announced message length accepted (the wire field is 24 bits, so at most 0xFFFFFF matters).
    pub max_message_size: usize,
    /// Most chunk stream ids that may carry state at once (each csid that ever sent a fmt 0 header).
    pub max_chunk_streams: usize,
    /// Most payload bytes held across all unfinished messages.
    pub max_partial_bytes: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self {
            max_message_size: crate::protocol::limits::DEFAULT_MAX_MESSAGE_SIZE,
            max_chunk_streams: crate::protocol::limits::DEFAULT_MAX_CHUNK_STREAMS,
            max_partial_bytes: crate::protocol::limits::DEFAULT_MAX_PARTIAL_BYTES,
        }
    }
}

/// Why the decoder refused the input. All of these are fatal for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// fmt 1/2/3 on a chunk stream that never had a fmt 0 header.
    NoPreviousHeader { csid: u32 },
    /// A header announced a message longer than `max_message_size`.
    MessageTooLarge { csid: u32, length: usize, limit: usize },
    /// A fmt 0 header on a new csid while `max_chunk_streams` csids already have state.
    TooManyChunkStreams { limit: usize },
    /// Unfinished messages would hold more than `max_partial_bytes`.
    PartialBytesExceeded { limit: usize },
    /// Chunk size 0 or above `MAX_CHUNK_SIZE`.
    InvalidChunkSize(u32),
    /// A fmt 0 header on a chunk stream whose message is unfinished.
    NewMessageMidMessage { csid: u32 },
    /// A fmt 1 header announcing another length while the message is unfinished.
    LengthChangedMidMessage { csid: u32, length: u32, expected: u32 },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPreviousHeader { csid } => {
                write!(
                    f,
                    "chunk stream {csid}: fmt 1/2/3 header without a previous fmt 0 header"
                )
            }
            Self::MessageTooLarge { csid, length, limit } => {
                write!(f, "chunk stream {csid}: message length {length} exceeds limit {limit}")
            }
            Self::TooManyChunkStreams { limit } => {
                write!(f, "more than {limit} chunk streams in use")
            }
            Self::PartialBytesExceeded { limit } => {
                write!(f, "unfinished messages exceed {limit} bytes")
            }
            Self::InvalidChunkSize(size) => write!(f, "invalid chunk size {size}"),
            Self::NewMessageMidMessage { csid } => {
                write!(f, "chunk stream {csid}: fmt 0 header inside an unfinished message")
            }
            Self::LengthChangedMidMessage { csid, length, expected } => write!(
                f,
                "chunk stream {csid}: length changed to {length} inside an unfinished message of {expected}"
            ),
        }
    }
}

impl std::error::Error for ChunkError {}
