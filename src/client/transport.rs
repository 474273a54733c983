//! What the RTMP client talks over: a plain TcpStream, or TLS (rtmps://) with rustls'
//! blocking StreamOwned over the TcpStream. The TLS handshake is completed before any RTMP
//! byte, so a certificate the client does not trust is reported as a typed
//! `ClientError::Tls` (e.g. `InvalidCertificate(UnknownIssuer)`), not as a later i/o error.

use super::ClientError;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    /// A TCP connection with the client's timeouts and TCP_NODELAY.
    pub fn connect_tcp(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let socket = TcpStream::connect_timeout(&addr, timeout)?;
        socket.set_read_timeout(Some(timeout))?;
        socket.set_write_timeout(Some(timeout))?;
        socket.set_nodelay(true)?;
        Ok(socket)
    }

    /// Connects and completes the TLS handshake, verifying the server's certificate for
    /// `server_name` (a DNS name or an IP address) against `config`'s roots.
    pub fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        config: Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<Transport, ClientError> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(ClientError::ServerName)?;
        let socket = Self::connect_tcp(addr, timeout)?;
        let conn = ClientConnection::new(config, name).map_err(ClientError::Tls)?;
        let mut stream = StreamOwned::new(conn, socket);
        while stream.conn.is_handshaking() {
            match stream.conn.complete_io(&mut stream.sock) {
                Ok((0, 0)) if stream.conn.is_handshaking() => return Err(ClientError::Closed),
                Ok(_) => {}
                Err(e) => return Err(tls_error(e)),
            }
        }
        Ok(Transport::Tls(Box::new(stream)))
    }

    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(socket) => socket,
            Transport::Tls(stream) => &stream.sock,
        }
    }
}

/// The rustls error inside an i/o error, when there is one.
fn tls_error(e: io::Error) -> ClientError {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(tls) = inner.downcast::<rustls::Error>() {
                return ClientError::Tls(*tls);
            }
        }
        return ClientError::Closed;
    }
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return ClientError::Closed;
    }
    ClientError::Io(e)
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.read(buf),
            Transport::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write(buf),
            // Sent now, not when the next write comes (StreamOwned only buffers on error).
            Transport::Tls(stream) => {
                let n = stream.write(buf)?;
                stream.flush()?;
                Ok(n)
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write_vectored(bufs),
            Transport::Tls(stream) => {
                let n = stream.write_vectored(bufs)?;
                stream.flush()?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
        }
    }
}
