//! Every limit the server enforces, as one value with named defaults.

use std::time::Duration;

/// Largest RTMP message a peer may send (bytes).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 8 * 1024 * 1024;
/// Most chunk streams (csids) one connection may have open at once.
pub const DEFAULT_MAX_CHUNK_STREAMS: usize = 64;
/// Largest inbound chunk size a peer may announce with Set Chunk Size.
pub const MAX_INBOUND_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Deepest AMF nesting (objects in objects) a decoder follows.
pub const DEFAULT_MAX_AMF_DEPTH: usize = 32;
/// Longest app or stream name accepted (bytes).
pub const DEFAULT_MAX_NAME_LEN: usize = 256;
/// Most bytes one connection may hold in partially received messages.
pub const DEFAULT_MAX_PARTIAL_BYTES: usize = 16 * 1024 * 1024;
/// The whole handshake must finish within this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A write to a peer that makes no progress for this long fails.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of frames that may wait for one recorder's writer thread.
pub const DEFAULT_RECORD_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Most simultaneous client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
/// Most simultaneous connections from one address; 0 is no limit.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 0;

/// Limits handed to decoders and connection threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_chunk_streams: usize,
    pub max_amf_depth: usize,
    pub max_name_len: usize,
    pub max_partial_bytes: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub record_queue_bytes: usize,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_chunk_streams: DEFAULT_MAX_CHUNK_STREAMS,
            max_amf_depth: DEFAULT_MAX_AMF_DEPTH,
            max_name_len: DEFAULT_MAX_NAME_LEN,
            max_partial_bytes: DEFAULT_MAX_PARTIAL_BYTES,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            record_queue_bytes: DEFAULT_RECORD_QUEUE_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}
