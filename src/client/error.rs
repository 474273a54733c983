//! The client's error type: what failed while connecting, publishing or playing.

use crate::flv::reader::FlvReadError;
use crate::protocol::chunk::ChunkError;
use crate::protocol::command::CommandError;
use crate::protocol::handshake::HandshakeError;
use std::io;

#[derive(Debug)]
pub enum ClientError {
    Io(io::Error),
    Handshake(HandshakeError),
    Chunk(ChunkError),
    Command(CommandError),
    /// The server answered with an error status (its code).
    Rejected(String),
    /// The server closed the connection.
    Closed,
    /// No reply of the expected kind arrived.
    NoReply(&'static str),
    Flv(FlvReadError),
    /// TLS failed (e.g. the server's certificate is not trusted: `InvalidCertificate`).
    Tls(rustls::Error),
    /// The TLS server name is neither a DNS name nor an IP address.
    ServerName(rustls::pki_types::InvalidDnsNameError),
    /// An rtmps:// URL without a TLS client configuration to verify it with.
    TlsNotAvailable,
    /// The URL's host resolved to no address.
    NoAddress,
    /// An MP4 file to publish could not be read or mapped to Enhanced RTMP.
    Mp4(super::enhanced::EnhancedError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o: {e}"),
            ClientError::Handshake(e) => write!(f, "handshake: {e}"),
            ClientError::Chunk(e) => write!(f, "chunk stream: {e}"),
            ClientError::Command(e) => write!(f, "command: {e}"),
            ClientError::Rejected(code) => write!(f, "rejected by server: {code}"),
            ClientError::Closed => write!(f, "server closed the connection"),
            ClientError::NoReply(what) => write!(f, "no reply to {what}"),
            ClientError::Flv(e) => write!(f, "flv: {e}"),
            ClientError::Tls(e) => write!(f, "tls: {e}"),
            ClientError::ServerName(e) => write!(f, "tls server name: {e}"),
            ClientError::TlsNotAvailable => write!(f, "rtmps:// without a TLS client configuration"),
            ClientError::NoAddress => write!(f, "host resolved to no address"),
            ClientError::Mp4(e) => write!(f, "mp4: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_their_causes_with_display() {
        let chunk = ClientError::Chunk(ChunkError::InvalidChunkSize(0));
        assert_eq!(chunk.to_string(), "chunk stream: invalid chunk size 0");
        let handshake = ClientError::Handshake(HandshakeError::UnsupportedVersion(6));
        assert_eq!(handshake.to_string(), "handshake: unsupported RTMP handshake version 6");
    }
}
