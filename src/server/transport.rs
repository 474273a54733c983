//! What a server connection reads from and writes to: a plain TcpStream, or RTMPS (TLS over
//! the TcpStream, see `tls::server_stream` for how its reader and writer share it). Both give
//! the TcpStream for timeouts, and a write half for the player writer thread (`PlayerSocket`):
//! plain players keep a cloned TcpStream and its vectored writes, unchanged.

use crate::tls::server_stream::{TlsServerStream, TlsWriter};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};

#[derive(Debug)]
pub enum ServerTransport {
    Plain(TcpStream),
    Tls(Box<TlsServerStream>),
}

/// A write half for a player writer thread.
pub enum WriteHalf {
    Plain(TcpStream),
    Tls(TlsWriter),
}

/// What the player writer thread writes to; shut down when the writer ends so the
/// connection thread's read ends too.
pub trait PlayerSocket: Write {
    fn shutdown_both(&self);
    /// A second handle the publisher's thread may send frames on directly (non-blocking,
    /// see `player_direct`); None for TLS, whose records only the writer can produce.
    fn direct_handle(&self) -> Option<TcpStream>;
}

impl PlayerSocket for TcpStream {
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }

    fn direct_handle(&self) -> Option<TcpStream> {
        self.try_clone().ok()
    }
}

impl PlayerSocket for TlsWriter {
    fn shutdown_both(&self) {
        self.shutdown();
    }

    fn direct_handle(&self) -> Option<TcpStream> {
        None
    }
}

impl ServerTransport {
    /// The TCP connection underneath (timeouts, nodelay).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerTransport::Plain(tcp) => tcp,
            ServerTransport::Tls(tls) => tls.tcp(),
        }
    }

    pub fn write_half(&self) -> io::Result<WriteHalf> {
        Ok(match self {
            ServerTransport::Plain(tcp) => WriteHalf::Plain(tcp.try_clone()?),
            ServerTransport::Tls(tls) => WriteHalf::Tls(tls.writer()?),
        })
    }

    /// Ends a TLS session cleanly (close_notify); nothing for plain TCP.
    pub fn close(&self) {
        if let ServerTransport::Tls(tls) = self {
            tls.close_notify();
        }
    }
}

impl Read for ServerTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerTransport::Plain(tcp) => tcp.read(buf),
            ServerTransport::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for ServerTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerTransport::Plain(tcp) => tcp.write(buf),
            ServerTransport::Tls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            ServerTransport::Plain(tcp) => tcp.write_vectored(bufs),
            ServerTransport::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerTransport::Plain(tcp) => tcp.flush(),
            ServerTransport::Tls(tls) => tls.flush(),
        }
    }
}
