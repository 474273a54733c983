//! A raw HTTP/1.0 request whose answer body is bytes (recordings, MP4), and a header look-up.

use super::DEADLINE;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// One raw HTTP/1.0 request; returns (status, header block, body bytes).
pub fn fetch(addr: SocketAddr, method: &str, target: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut request = format!("{method} {target} HTTP/1.0\r\nHost: test\r\n");
    for line in headers {
        request.push_str(&format!("{line}\r\n"));
    }
    request.push_str("\r\n");
    socket.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    socket.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

/// The value of header `name` in a header block (name compared without regard to case).
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}
