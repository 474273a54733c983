//! Every limit the server enforces, as one value with named defaults. The flags that tune
//! them (parsers in `limits_options`) are listed in README.md, section Limits.

use crate::protocol::chunk::ChunkLimits;
use crate::protocol::limits::SessionLimits;
use std::time::Duration;

pub use crate::protocol::limits::{
    DEFAULT_MAX_AMF_DEPTH, DEFAULT_MAX_CHUNK_STREAMS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_NAME_LEN,
    DEFAULT_MAX_PARTIAL_BYTES,
};
/// Largest inbound chunk size a peer may announce with Set Chunk Size (1..=this; a value
/// with the high bit set is above it and refused).
pub const MAX_INBOUND_CHUNK_SIZE: u32 = crate::protocol::chunk::MAX_CHUNK_SIZE;
/// The whole handshake must finish within this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After the handshake, a connection must deliver its first media message with gaps of no
/// more than this between reads (connect, publish and the first frame; SRS's
/// publish_1stpkt_timeout).
pub const DEFAULT_FIRST_PACKET_TIMEOUT: Duration = Duration::from_secs(20);
/// Once media has flowed, a connection that sends nothing for this long is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A write to a peer that makes no progress for this long fails.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of frames that may wait for one recorder's writer thread.
/// With backpressure on the publisher (a full queue makes it wait, up to 3 s) the queue only
/// absorbs bursts: 16 MiB is about half a minute of a 5 Mbit/s stream, and caps what eight
/// full-speed publishers can hold in memory at 128 MiB.
pub const DEFAULT_RECORD_QUEUE_BYTES: usize = 16 * 1024 * 1024;
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
    pub first_packet_timeout: Duration,
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
            first_packet_timeout: DEFAULT_FIRST_PACKET_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            record_queue_bytes: DEFAULT_RECORD_QUEUE_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The part of the limits the chunk decoder enforces.
    pub fn chunk_limits(&self) -> ChunkLimits {
        ChunkLimits {
            max_message_size: self.max_message_size,
            max_chunk_streams: self.max_chunk_streams,
            max_partial_bytes: self.max_partial_bytes,
        }
    }
}

impl Limits {
    /// The part of the limits a protocol session enforces.
    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            chunk: self.chunk_limits(),
            max_amf_depth: self.max_amf_depth,
            max_name_len: self.max_name_len,
        }
    }
}

/// The per-connection cap on bytes held in unfinished messages for a given largest message
/// size: room for two of them (an audio and a video message interleaved).
pub fn partial_bytes_for(max_message_size: usize) -> usize {
    max_message_size.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let limits = Limits::default();
        assert_eq!(limits.max_message_size, 8 << 20);
        assert_eq!(limits.max_partial_bytes, partial_bytes_for(8 << 20));
        assert_eq!(limits.max_chunk_streams, 64);
        assert_eq!(limits.max_amf_depth, 32);
        assert_eq!(limits.max_name_len, 256);
        assert_eq!(MAX_INBOUND_CHUNK_SIZE, 16 << 20);
        let timeouts = (
            limits.handshake_timeout,
            limits.first_packet_timeout,
            limits.idle_timeout,
        );
        assert_eq!(
            timeouts,
            (
                Duration::from_secs(10),
                Duration::from_secs(20),
                Duration::from_secs(30)
            )
        );
    }

    #[test]
    fn chunk_limits_carry_the_decoder_fields() {
        let limits = Limits {
            max_message_size: 1000,
            max_chunk_streams: 3,
            max_partial_bytes: 2000,
            ..Limits::default()
        };
        let chunk = limits.chunk_limits();
        assert_eq!(
            (chunk.max_message_size, chunk.max_chunk_streams, chunk.max_partial_bytes),
            (1000, 3, 2000)
        );
    }
}
