//! The limits the protocol core enforces on a peer, with their defaults. The
//! server-wide `Limits` (tuned by flags) hands a session its part as `SessionLimits`.

use super::chunk::ChunkLimits;

/// Largest RTMP message a peer may send (bytes).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 8 * 1024 * 1024;
/// Most chunk streams (csids) one connection may have open at once.
pub const DEFAULT_MAX_CHUNK_STREAMS: usize = 64;
/// Most bytes one connection may hold in partially received messages: room for two messages
/// of the largest size (an audio and a video message interleaved).
pub const DEFAULT_MAX_PARTIAL_BYTES: usize = 2 * DEFAULT_MAX_MESSAGE_SIZE;
/// Deepest AMF nesting (objects in objects) a decoder follows. A constant, not a flag: real
/// clients nest 2 levels, and deeper only costs stack.
pub const DEFAULT_MAX_AMF_DEPTH: usize = 32;
/// Longest app or stream name (with its `?query`) accepted, in bytes. A constant, not a
/// flag: names become file names, which most file systems cap at 255 bytes.
pub const DEFAULT_MAX_NAME_LEN: usize = 256;

/// What one session enforces on its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// What the chunk decoder enforces (message size, chunk streams, unfinished bytes).
    pub chunk: ChunkLimits,
    pub max_amf_depth: usize,
    pub max_name_len: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            chunk: ChunkLimits::default(),
            max_amf_depth: DEFAULT_MAX_AMF_DEPTH,
            max_name_len: DEFAULT_MAX_NAME_LEN,
        }
    }
}
