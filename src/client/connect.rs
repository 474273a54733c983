//! Opening a client from an RTMP URL (resolve, connect with the URL's real tcUrl) and the
//! non-blocking check of what a server sent to a publishing client (used by push relays).

use super::transport::Transport;
use super::url::RtmpUrl;
use super::{ClientError, ClientResult, RtmpClient};
use crate::protocol::amf0::Amf0Value;
use crate::protocol::handshake::HandshakeKind;
use crate::protocol::message::type_id;
use rustls::ClientConfig;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

/// How long `poll_incoming` waits for bytes that are not there yet.
const POLL_WAIT: Duration = Duration::from_millis(1);
/// Most messages `poll_incoming` handles in one call.
const POLL_MAX_MESSAGES: usize = 256;

impl RtmpClient {
    /// Resolves the URL's host, connects (trying each address in turn), runs the digest
    /// handshake and `connect`s to the URL's app with its tcUrl. `rtmps://` URLs verify the
    /// server's certificate for the URL's host with `tls` (refused with `TlsNotAvailable`
    /// when there is none).
    pub fn connect_url(url: &RtmpUrl, tls: Option<&Arc<ClientConfig>>, timeout: Duration) -> ClientResult<RtmpClient> {
        let tls = match (url.tls, tls) {
            (true, None) => return Err(ClientError::TlsNotAvailable),
            (true, Some(config)) => Some(config),
            (false, _) => None,
        };
        let addrs = (url.host.as_str(), url.port).to_socket_addrs()?;
        let mut last = ClientError::NoAddress;
        for addr in addrs {
            let transport = match tls {
                Some(config) => Transport::connect_tls(addr, &url.host, Arc::clone(config), timeout),
                None => Transport::connect_tcp(addr, timeout)
                    .map(Transport::Plain)
                    .map_err(ClientError::Io),
            };
            match transport {
                Ok(transport) => {
                    let mut client = Self::start(transport, url.tc_url.clone(), &url.app, HandshakeKind::Digest)?;
                    client.follow.set_transport(tls.cloned(), timeout);
                    return Ok(client);
                }
                // Only a failure to reach this address moves on to the next one.
                Err(ClientError::Io(e)) => last = ClientError::Io(e),
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Handles whatever the server sent meanwhile (chunk size, pings, acks, status) without
    /// waiting for more. An error-level onStatus is `Rejected`; a closed connection `Closed`.
    /// Restores `read_timeout` afterwards.
    pub fn poll_incoming(&mut self, read_timeout: Duration) -> ClientResult<()> {
        self.socket.tcp().set_read_timeout(Some(POLL_WAIT))?;
        let result = self.poll_messages();
        self.socket.tcp().set_read_timeout(Some(read_timeout))?;
        result
    }

    fn poll_messages(&mut self) -> ClientResult<()> {
        for _ in 0..POLL_MAX_MESSAGES {
            let message = match self.read_message() {
                Ok(message) => message,
                Err(ClientError::Io(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(())
                }
                Err(e) => return Err(e),
            };
            if message.type_id != type_id::COMMAND_AMF0 {
                continue;
            }
            let depth = crate::limits::DEFAULT_MAX_AMF_DEPTH;
            let Ok(command) = crate::protocol::command::parse_command(message.type_id, &message.payload, depth) else {
                continue;
            };
            let info = command.arguments.first();
            let level = info.and_then(|i| i.get("level")).and_then(Amf0Value::as_str);
            if command.name == "onStatus" && level == Some("error") {
                return Err(ClientError::Rejected(super::status_code(&command)));
            }
        }
        Ok(())
    }

    /// FCUnpublish and deleteStream without waiting for the reply (a push that ends).
    pub fn unpublish_no_wait(&mut self) -> ClientResult<()> {
        self.follow.set_publishing(false);
        let name = Amf0Value::String(self.stream_name.clone());
        self.call("FCUnpublish", Amf0Value::Null, vec![name])?;
        let id = Amf0Value::Number(f64::from(self.stream_id));
        self.call("deleteStream", Amf0Value::Null, vec![id])?;
        Ok(())
    }

    /// The message stream id of the current publish or play.
    pub fn stream_id(&self) -> u32 {
        self.stream_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtmps_without_a_tls_configuration_is_refused_before_any_connection() {
        let url = RtmpUrl::parse("rtmps://127.0.0.1:1/live/cam").unwrap();
        assert!(matches!(
            RtmpClient::connect_url(&url, None, Duration::from_secs(1)),
            Err(ClientError::TlsNotAvailable)
        ));
    }

    #[test]
    fn an_unreachable_port_is_an_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/cam")).unwrap();
        assert!(matches!(
            RtmpClient::connect_url(&url, None, Duration::from_secs(5)),
            Err(ClientError::Io(_))
        ));
    }
}
