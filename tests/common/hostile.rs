//! Hostile-input helpers (issue 7): raw attacks on a fresh connection and the server's
//! log line about them, handshake and chunk crafting, RSS readings, and a server guarded by
//! a well-behaved FFmpeg publisher whose recording must come out packet-identical.

use super::*;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// Read timeout of raw attack sockets: a server that never closes them fails the test.
pub const ATTACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `bytes` on a fresh raw connection, waits until the server closes it, and returns
/// the socket's local address (the `remote=` of the server's log lines about it).
pub fn send_and_wait_closed(server: &ServerProcess, bytes: &[u8]) -> SocketAddr {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(server.addr).unwrap();
    let local = socket.local_addr().unwrap();
    socket.set_read_timeout(Some(ATTACK_TIMEOUT)).unwrap();
    let _ = socket.write_all(bytes);
    let mut sink = [0u8; 65536];
    loop {
        match socket.read(&mut sink) {
            Ok(0) => return local,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("the server did not close the attacking connection {local} within {ATTACK_TIMEOUT:?}")
            }
            Err(_) => return local,
        }
    }
}

/// The server's "connection closed" line for the connection from `local` (its `reason=`
/// is the one observable of why the server closed one particular connection).
pub fn closed_line(server: &ServerProcess, local: SocketAddr) -> String {
    let line = server.wait_for_log(&format!(" remote={local} reason="), DEADLINE);
    assert!(line.contains(log_contract::CONNECTION_CLOSED), "{line}");
    line
}

/// The `reason=` of the server's close of the connection from `local`.
pub fn close_reason(server: &ServerProcess, local: SocketAddr) -> String {
    let line = closed_line(server, local);
    field(&line, "reason").unwrap_or_else(|| panic!("no reason= in {line:?}"))
}

/// Sends `bytes`, waits for the close and returns the server's "connection closed" line,
/// asserting its `reason=` is `reason` (a `log_contract::reason` value).
pub fn attack(server: &ServerProcess, bytes: &[u8], reason: &str) -> String {
    let local = send_and_wait_closed(server, bytes);
    let line = closed_line(server, local);
    assert_eq!(field(&line, "reason").as_deref(), Some(reason), "{line}");
    line
}

/// A simple-handshake prefix (C0, zero C1 and C2) followed by `chunks`.
pub fn after_handshake(chunks: &[u8]) -> Vec<u8> {
    let mut bytes = vec![3u8];
    bytes.extend_from_slice(&[0u8; 1536 * 2]);
    bytes.extend_from_slice(chunks);
    bytes
}

/// An AMF0 command message on csid 3, message stream `stream_id`.
pub fn amf_command(
    stream_id: u32,
    values: &[rtmp_server::protocol::amf0::Amf0Value],
) -> rtmp_server::protocol::chunk::RawMessage {
    let mut payload = Vec::new();
    rtmp_server::protocol::amf0::encode_all(values, &mut payload);
    rtmp_server::protocol::chunk::RawMessage {
        csid: 3,
        timestamp: 0,
        type_id: 20,
        stream_id,
        payload,
    }
}

/// `connect` to app `live` (transaction 1).
pub fn connect_command() -> rtmp_server::protocol::chunk::RawMessage {
    use rtmp_server::protocol::amf0::Amf0Value;
    amf_command(
        0,
        &[
            Amf0Value::String("connect".into()),
            Amf0Value::Number(1.0),
            Amf0Value::Object(vec![("app".into(), Amf0Value::String("live".into()))]),
        ],
    )
}

/// Messages chunked with a fresh encoder at the default chunk size (128).
pub fn encode_messages(messages: &[rtmp_server::protocol::chunk::RawMessage]) -> Vec<u8> {
    let mut encoder = rtmp_server::protocol::chunk::ChunkEncoder::new();
    let mut out = Vec::new();
    for message in messages {
        encoder.encode(message, &mut out);
    }
    out
}

/// Resident set size of a process in KiB (VmRSS in /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// A server recording everything while FFmpeg publishes a clip to live/good in real time:
/// the well-behaved neighbour every hostile test must leave untouched.
pub struct GuardedServer {
    pub server: ServerProcess,
    pub dir: TempDir,
    clip: PathBuf,
    good: Child,
}

impl GuardedServer {
    /// Starts the server (`--record-all --record-dir DIR/rec EXTRA...`) and the publisher
    /// of a `seconds` long clip, and waits until it publishes.
    pub fn start(tag: &str, seconds: u32, extra: &[&str]) -> GuardedServer {
        let dir = TempDir::new(tag);
        let clip = make_clip(dir.path(), "clip.flv", seconds);
        let record_dir = dir.path().join("rec");
        let mut args = vec!["--record-all", "--record-dir", record_dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let server = ServerProcess::start(&args);
        let good = ffmpeg_publish(&clip, &server.url("live/good"), true);
        super::http::wait_api_stream(&server, "live", "good", |s| s["publishing"] == true);
        GuardedServer {
            server,
            dir,
            clip,
            good,
        }
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.server.pid())
    }

    /// Asserts the publisher finished cleanly, its recording is packet-identical to the
    /// clip, and the server still accepts a new client.
    pub fn finish(mut self) {
        let status = wait_child(&mut self.good, DEADLINE);
        assert!(status.success(), "the good publisher was disturbed: {status}");
        let recording = wait_recording_closed(&self.server, "good");
        assert_eq!(
            packet_hashes(&framemd5(&recording)),
            packet_hashes(&framemd5(&self.clip)),
            "the good recording differs from its source"
        );
        rtmp_server::client::RtmpClient::connect(self.server.addr, "live", ATTACK_TIMEOUT)
            .expect("the server no longer accepts clients");
    }
}

/// Peak resident set size of a process in KiB (VmHWM in /proc/PID/status).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}
