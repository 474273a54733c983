//! A slowloris flood for HTTP hardening tests: N connections that each send a partial
//! request head and then one more header byte per tick, reconnecting when the server drops
//! them; plus raw-socket HTTP helpers (read a response head, read until the server closes).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The head every slowloris connection starts with; a header line that never ends follows.
const PARTIAL_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ";

/// A running flood; `stop` ends it and returns how often the server dropped a connection.
pub struct Flood {
    stop: Arc<AtomicBool>,
    drops: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Flood {
    /// Opens `count` slowloris connections to `addr`, each sending one byte per `tick`.
    pub fn start(addr: SocketAddr, count: usize, tick: Duration) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicU64::new(0));
        let (stop_flag, drop_count) = (Arc::clone(&stop), Arc::clone(&drops));
        let thread = std::thread::spawn(move || {
            let mut conns: Vec<Option<TcpStream>> = (0..count).map(|_| open(addr)).collect();
            let mut next = Instant::now() + tick;
            while !stop_flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(100)));
                    continue;
                }
                next += tick;
                for conn in conns.iter_mut() {
                    let alive = conn.as_mut().is_some_and(|s| !closed(s) && s.write_all(b"a").is_ok());
                    if !alive {
                        drop_count.fetch_add(1, Ordering::Relaxed);
                        *conn = open(addr);
                    }
                }
            }
        });
        Flood {
            stop,
            drops,
            thread: Some(thread),
        }
    }

    /// Connections the server dropped so far (each was reopened).
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Ends the flood (its connections close); the drops seen.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.drops()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A new slowloris connection with its partial head sent (None if the connect failed).
fn open(addr: SocketAddr) -> Option<TcpStream> {
    let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    socket.set_nonblocking(true).ok()?;
    socket.write_all(PARTIAL_HEAD).ok()?;
    Some(socket)
}

/// True once the server closed the (non-blocking) socket or answered on it (a 408 or 503
/// is followed by a close).
fn closed(socket: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    !matches!(socket.read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Reads a response head (through the blank line) within `timeout`; None if the server
/// closed first or the time passed.
pub fn read_head(socket: &mut TcpStream, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let left = deadline.checked_duration_since(Instant::now())?;
        socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        match socket.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Reads until the server closes; the bytes, or None if `timeout` passed first.
pub fn read_until_closed(socket: &mut TcpStream, timeout: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        match socket.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Some(got),
        }
    }
}

/// Sends `request` on a new connection and reads the reply until the server closes.
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut socket = TcpStream::connect_timeout(&addr, timeout).unwrap();
    let _ = socket.write_all(request);
    let reply = read_until_closed(&mut socket, timeout).expect("the server answered and closed");
    String::from_utf8_lossy(&reply).into_owned()
}

/// The status code of a response text (0 if there is none).
pub fn status(reply: &str) -> u16 {
    reply
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The value of header `name` in a response head, if present.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}
