//! The bench's small keep-alive HTTP/1.1 client: GETs whose answers carry a Content-Length
//! (playlists, segments, parts), one connection reused while the server keeps it open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest answer head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest answer body accepted (a segment of a high bitrate stream fits).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct HttpClient {
    addr: SocketAddr,
    timeout: Duration,
    socket: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl HttpClient {
    pub fn new(addr: SocketAddr, timeout: Duration) -> HttpClient {
        HttpClient {
            addr,
            timeout,
            socket: None,
            buffer: Vec::new(),
        }
    }

    /// GET `target`: (status, body). A failure on a reused connection is tried once more on
    /// a new one.
    pub fn get(&mut self, target: &str) -> Result<(u16, Vec<u8>), String> {
        let reused = self.socket.is_some();
        match self.try_get(target) {
            Err(_) if reused => {
                self.socket = None;
                self.try_get(target)
            }
            other => other,
        }
    }

    fn try_get(&mut self, target: &str) -> Result<(u16, Vec<u8>), String> {
        let result = self.exchange(target);
        if result.is_err() {
            self.socket = None;
        }
        result
    }

    fn exchange(&mut self, target: &str) -> Result<(u16, Vec<u8>), String> {
        if self.socket.is_none() {
            let socket = TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|e| format!("connect: {e}"))?;
            socket.set_read_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
            let _ = socket.set_nodelay(true);
            self.socket = Some(socket);
            self.buffer.clear();
        }
        let Some(socket) = self.socket.as_mut() else {
            return Err("no connection".to_owned());
        };
        let request = format!("GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n");
        socket.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err("answer head too long".to_owned());
            }
            let n = socket.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("closed before the answer".to_owned());
            }
            self.buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
        };
        let head = String::from_utf8_lossy(self.buffer.get(..head_end).unwrap_or_default()).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad answer head {head:?}"))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        };
        let length: usize = header("Content-Length")
            .and_then(|v| v.parse().ok())
            .ok_or("answer without Content-Length")?;
        if length > MAX_BODY {
            return Err(format!("answer body of {length} bytes"));
        }
        let close = header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        self.buffer.drain(..head_end + 4);
        while self.buffer.len() < length {
            let n = socket.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("closed in the answer body".to_owned());
            }
            self.buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        let body: Vec<u8> = self.buffer.drain(..length).collect();
        if close {
            self.socket = None;
        }
        Ok((status, body))
    }
}
