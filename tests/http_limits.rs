//! The HTTP server's limits: 300 idle connections neither lock /healthz out nor grow the
//! thread count past --http-max-connections (the oldest idle ones are evicted), a client
//! that stalls mid-request (or never sends one) is closed after --http-timeout, and one
//! HTTP/1.1 connection serves several requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::api_addr;
use common::{ServerProcess, DEADLINE};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Idle connections the first test opens.
const IDLE: usize = 300;
/// The server's default --http-max-connections.
const CAP: usize = 100;
/// Threads a server has besides its HTTP connection threads may vary a little (a connection
/// being evicted still has its thread for a moment): this much over baseline + cap is a leak.
const THREAD_MARGIN: usize = 24;

/// The server's thread count from /proc/PID/status.
fn threads(server: &ServerProcess) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Reads until EOF or error; the bytes read, or None if `timeout` passed first.
fn read_until_closed(socket: &mut TcpStream, timeout: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match socket.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if Instant::now() >= deadline {
                    return None;
                }
            }
            Err(_) => return Some(got),
        }
    }
}

/// GET /healthz over a fresh HTTP/1.0 connection; the status code.
fn healthz(api: SocketAddr) -> u16 {
    let mut socket = TcpStream::connect_timeout(&api, DEADLINE).unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: test\r\n\r\n")
        .unwrap();
    let reply = read_until_closed(&mut socket, DEADLINE).expect("healthz answered");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.ends_with(r#"{"status":"ok"}"#), "{text}");
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn idle_connections_neither_lock_out_healthz_nor_grow_the_thread_count() {
    // Every client here is 127.0.0.1: the per-address cap is raised so the total cap is met.
    let server = ServerProcess::start(&["--http-max-connections-per-ip", "1000"]);
    let api = api_addr(&server);
    assert_eq!(healthz(api), 200);
    let baseline = threads(&server);

    let mut idle: Vec<TcpStream> = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect_timeout(&api, DEADLINE).expect("connect"));
    }
    // Accepts are in order: once this answers, the server has taken all the idle ones.
    let started = Instant::now();
    assert_eq!(healthz(api), 200);
    assert!(started.elapsed() < DEADLINE);
    let now = threads(&server);
    assert!(
        now <= baseline + CAP + THREAD_MARGIN,
        "{now} threads with {IDLE} idle HTTP connections (baseline {baseline}, cap {CAP})"
    );
    // At the cap the oldest idle connections made room: the first one is closed by now.
    assert!(
        read_until_closed(&mut idle[0], DEADLINE).is_some(),
        "the oldest idle connection was not evicted"
    );
    server.wait_for_log("HTTP connection cap reached", DEADLINE);
    // And again, with the idle ones still open.
    assert_eq!(healthz(api), 200);
    assert!(threads(&server) <= baseline + CAP + THREAD_MARGIN);
}

#[test]
fn a_client_that_stalls_mid_request_or_sends_nothing_is_closed_after_the_timeout() {
    let server = ServerProcess::start(&["--http-timeout", "1s"]);
    let api = api_addr(&server);
    let started = Instant::now();
    let mut half = TcpStream::connect(api).unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: te").unwrap();
    let mut silent = TcpStream::connect(api).unwrap();

    let reply = read_until_closed(&mut half, DEADLINE).expect("half request closed by the server");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout, after {:?}: {text:?}\n{}",
        started.elapsed(),
        server.log_lines().join("\n")
    );
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(
        read_until_closed(&mut silent, DEADLINE),
        Some(Vec::new()),
        "a silent client is closed without a reply"
    );
    server.wait_for_log("HTTP request timed out", DEADLINE);
    // The server still serves.
    assert_eq!(healthz(api), 200);
}

#[test]
fn one_http11_connection_serves_several_requests() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let mut socket = TcpStream::connect(api).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    for _ in 0..3 {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0u8; length];
        socket.read_exact(&mut body).unwrap();
        assert_eq!(body, br#"{"status":"ok"}"#);
    }
    // A request too big for the header limit is refused with 431 and the connection closed.
    let mut big = TcpStream::connect(api).unwrap();
    let filler = "x".repeat(64 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nX-Filler: {filler}\r\n\r\n");
    let _ = big.write_all(request.as_bytes());
    let reply = read_until_closed(&mut big, DEADLINE).expect("closed");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
}

#[test]
fn http_limit_flags_are_validated() {
    for args in [
        ["--http-max-connections", "0"],
        ["--http-max-connections", "x"],
        ["--http-max-connections-per-ip", "0"],
        ["--http-timeout", "0"],
        ["--http-timeout", "soon"],
        ["--http-cors-origin", "example.com"],
        ["--http-cors-origin", "https://a.example/path"],
    ] {
        let output = common::run_server_command(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}
