//! The TLS side of one server connection, over the blocking TcpStream.
//!
//! `accept` runs the TLS handshake on the connection thread against a deadline (the one the
//! RTMP handshake then continues with), so a peer that stalls mid-TLS-handshake is closed by
//! `--handshake-timeout` like one that stalls mid-RTMP-handshake.
//!
//! Design of the two halves. A plain connection gives its player writer thread a cloned
//! TcpStream; a rustls connection cannot be cloned, and a reader blocked inside rustls would
//! hold it. So the rustls state sits behind a mutex that is never held while waiting for the
//! peer: the reader (`TlsServerStream`, the connection thread) reads ciphertext from its own
//! TcpStream handle without the lock, then locks only to hand the bytes to rustls and take
//! out plaintext. The writer (`TlsWriter`, the player writer thread, or the connection thread
//! before it plays) locks, encrypts and writes the records to the socket before unlocking, so
//! records leave in the order they were sealed. A writer blocked on a slow peer thus delays
//! the reader by at most the socket's write timeout; it never deadlocks it. Records rustls
//! itself must send while reading (alerts, key updates) go out under the same lock.

use rustls::{ServerConfig, ServerConnection};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Ciphertext bytes read from the socket at a time.
pub const TLS_READ_BUFFER_SIZE: usize = 64 * 1024;

/// The first byte of a plain RTMP handshake (C0: version 3); TLS records start with 0x14-0x18.
const RTMP_VERSION_BYTE: u8 = 3;

/// Why the TLS handshake failed.
#[derive(Debug)]
pub enum TlsAcceptError {
    /// Not finished by the handshake deadline.
    Timeout,
    /// The peer closed the connection during the handshake.
    Closed,
    /// The peer speaks plain RTMP to the TLS port.
    PlainRtmp,
    Tls(rustls::Error),
    Io(io::Error),
}

impl std::fmt::Display for TlsAcceptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsAcceptError::Timeout => write!(f, "TLS handshake not finished in time"),
            TlsAcceptError::Closed => write!(f, "peer closed during the TLS handshake"),
            TlsAcceptError::PlainRtmp => write!(f, "plain RTMP sent to the TLS port"),
            TlsAcceptError::Tls(e) => write!(f, "TLS: {e}"),
            TlsAcceptError::Io(e) => write!(f, "i/o during the TLS handshake: {e}"),
        }
    }
}

impl std::error::Error for TlsAcceptError {}

type Shared = Arc<Mutex<ServerConnection>>;

fn lock(shared: &Shared) -> MutexGuard<'_, ServerConnection> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes every record rustls has ready to the socket.
fn send_pending(conn: &mut ServerConnection, mut tcp: &TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(&mut tcp)?;
    }
    Ok(())
}

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A server connection after its TLS handshake: reads plaintext, writes through `TlsWriter`.
#[derive(Debug)]
pub struct TlsServerStream {
    shared: Shared,
    tcp: TcpStream,
    raw: Vec<u8>,
    start: usize,
    end: usize,
}

/// Runs the server side of the TLS handshake until it is done or `deadline` passes. The
/// socket's read and write timeouts are left set to the time that was left.
pub fn accept(config: Arc<ServerConfig>, tcp: TcpStream, deadline: Instant) -> Result<TlsServerStream, TlsAcceptError> {
    let mut conn = ServerConnection::new(config).map_err(TlsAcceptError::Tls)?;
    let mut raw = vec![0u8; TLS_READ_BUFFER_SIZE];
    let mut first_byte = None;
    let (mut start, mut end) = (0, 0);
    while conn.is_handshaking() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or(TlsAcceptError::Timeout)?;
        tcp.set_read_timeout(Some(left)).map_err(TlsAcceptError::Io)?;
        tcp.set_write_timeout(Some(left)).map_err(TlsAcceptError::Io)?;
        send_pending(&mut conn, &tcp).map_err(handshake_io)?;
        if !conn.is_handshaking() {
            break;
        }
        let n = match (&tcp).read(&mut raw) {
            Ok(0) => return Err(TlsAcceptError::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(handshake_io(e)),
        };
        if first_byte.is_none() {
            first_byte = raw.first().copied();
        }
        let mut rest = raw.get(..n).unwrap_or(&[]);
        while !rest.is_empty() && conn.is_handshaking() {
            let fed = conn.read_tls(&mut rest).map_err(TlsAcceptError::Io)?;
            if let Err(e) = conn.process_new_packets() {
                // The alert rustls queued tells a TLS peer why; a plain one gets it too.
                let _ = send_pending(&mut conn, &tcp);
                return Err(if first_byte == Some(RTMP_VERSION_BYTE) {
                    TlsAcceptError::PlainRtmp
                } else {
                    TlsAcceptError::Tls(e)
                });
            }
            if fed == 0 {
                break;
            }
        }
        // Bytes after the handshake's last record (early application data) stay for the reader.
        start = n.saturating_sub(rest.len());
        end = n;
    }
    send_pending(&mut conn, &tcp).map_err(handshake_io)?;
    Ok(TlsServerStream {
        shared: Arc::new(Mutex::new(conn)),
        tcp,
        raw,
        start,
        end,
    })
}

fn handshake_io(e: io::Error) -> TlsAcceptError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TlsAcceptError::Timeout,
        _ => TlsAcceptError::Io(e),
    }
}

impl TlsServerStream {
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// A writer for another thread (the player writer), sharing the TLS state.
    pub fn writer(&self) -> io::Result<TlsWriter> {
        Ok(TlsWriter {
            shared: Arc::clone(&self.shared),
            tcp: self.tcp.try_clone()?,
        })
    }

    /// Sends close_notify (best effort, bounded by the write timeout).
    pub fn close_notify(&self) {
        let mut conn = lock(&self.shared);
        conn.send_close_notify();
        let _ = send_pending(&mut conn, &self.tcp);
    }
}

impl Read for TlsServerStream {
    /// Plaintext, reading ciphertext from the socket (without the lock) when none is buffered.
    /// 0 at close_notify or when the TCP connection ends.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = lock(&self.shared);
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.start < self.end {
                    let mut rest = self.raw.get(self.start..self.end).unwrap_or(&[]);
                    let fed = conn.read_tls(&mut rest)?;
                    if fed == 0 {
                        // After close_notify rustls takes nothing more.
                        self.start = self.end;
                    } else {
                        self.start = self.start.saturating_add(fed);
                    }
                    let processed = conn.process_new_packets();
                    send_pending(&mut conn, &self.tcp)?;
                    processed.map_err(tls_io_error)?;
                    continue;
                }
            }
            let n = (&self.tcp).read(&mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.start = 0;
            self.end = n;
        }
    }
}

/// `Write` for a type holding the session (`shared`) and its `tcp`: both halves write the
/// same way, through `write_locked`.
macro_rules! locked_write {
    ($type:ty) => {
        impl Write for $type {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                write_locked(&self.shared, &self.tcp, &[IoSlice::new(buf)])
            }

            fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                write_locked(&self.shared, &self.tcp, bufs)
            }

            fn flush(&mut self) -> io::Result<()> {
                send_pending(&mut lock(&self.shared), &self.tcp)
            }
        }
    };
}

locked_write!(TlsServerStream);

/// Encrypts and sends under the lock, so records leave in the order they were sealed.
fn write_locked(shared: &Shared, tcp: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let mut conn = lock(shared);
    let n = conn.writer().write_vectored(bufs)?;
    send_pending(&mut conn, tcp)?;
    Ok(n)
}

/// The write half of a TLS server connection, for the player writer thread.
#[derive(Debug)]
pub struct TlsWriter {
    shared: Shared,
    tcp: TcpStream,
}

impl TlsWriter {
    pub fn shutdown(&self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}

locked_write!(TlsWriter);
