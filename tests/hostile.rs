//! Hostile input: malformed handshakes, chunks and commands each close only the offending
//! connection with a log line, while a well-behaved FFmpeg publisher records another stream
//! packet-identical to its source and the server stays up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{metric, wait_api_stream, wait_metric};
use common::log_contract::reason;
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::protocol::amf0::Amf0Value;
use rtmp_server::protocol::chunk::RawMessage;
use rtmp_server::protocol::handshake::HandshakeKind;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `bytes` on a fresh raw connection, waits for the server to close it, and checks
/// it was closed as a protocol error (the counter goes up by one, the close names it).
fn expect_protocol_error(server: &ServerProcess, bytes: &[u8]) {
    let before = metric(server, "rtmp_protocol_errors_total");
    let local = send_and_wait_closed(server, bytes);
    let line = closed_line(server, local);
    assert_eq!(
        field(&line, "reason").as_deref(),
        Some(reason::PROTOCOL_ERROR),
        "{line}"
    );
    assert_eq!(metric(server, "rtmp_protocol_errors_total"), before + 1, "{line}");
}

fn command(values: &[Amf0Value]) -> RawMessage {
    amf_command(0, values)
}

#[test]
fn hostile_connections_are_closed_while_a_good_publisher_records_intact() {
    let dir = TempDir::new("hostile");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut good = ffmpeg_publish(&clip, &server.url("live/good"), true);
    wait_api_stream(&server, "live", "good", |s| s["publishing"] == true);

    // Wrong version byte, and garbage where a handshake should be.
    expect_protocol_error(&server, &[6u8; 1537]);
    expect_protocol_error(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // fmt 1 as the first chunk of a chunk stream.
    expect_protocol_error(&server, &after_handshake(&[0x43, 0, 0, 0, 0, 0, 4, 20, 1, 2, 3, 4]));
    // Set Chunk Size 0 and 2^31.
    for size in [0u32, 0x8000_0000] {
        let message = RawMessage {
            csid: 2,
            timestamp: 0,
            type_id: 1,
            stream_id: 0,
            payload: size.to_be_bytes().to_vec(),
        };
        expect_protocol_error(&server, &after_handshake(&encode_messages(&[message])));
    }
    // 0xFFFFFF-byte messages announced on 70 chunk streams.
    let mut flood = Vec::new();
    for csid in 4u32..74 {
        rtmp_server::protocol::chunk::shared::basic_header(0, csid, &mut flood);
        flood.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF, 0xFF, 9, 1, 0, 0, 0]);
        flood.push(0x17);
    }
    expect_protocol_error(&server, &after_handshake(&flood));
    // AMF nesting 100 000 deep inside connect.
    let mut nested = vec![0x02, 0x00, 0x07];
    nested.extend_from_slice(b"connect");
    nested.extend_from_slice(&[0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]);
    for _ in 0..100_000 {
        nested.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
    }
    let deep = RawMessage {
        csid: 3,
        timestamp: 0,
        type_id: 20,
        stream_id: 0,
        payload: nested,
    };
    expect_protocol_error(&server, &after_handshake(&encode_messages(&[deep])));
    // publish before connect / createStream.
    let publish = command(&[
        Amf0Value::String("publish".into()),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::String("x".into()),
    ]);
    expect_protocol_error(
        &server,
        &after_handshake(&encode_messages(std::slice::from_ref(&publish))),
    );
    expect_protocol_error(
        &server,
        &after_handshake(&encode_messages(&[connect_command(), publish])),
    );

    // A name that tries to leave the record directory is confined to it.
    let mut sneaky = RtmpClient::connect_with(server.addr, "live", TIMEOUT, HandshakeKind::Simple).unwrap();
    sneaky.publish("../../escape/x").unwrap();
    sneaky
        .send_frame(rtmp_server::media::FrameKind::Audio, 0, &[0xAF, 0x00, 0x12, 0x10])
        .unwrap();
    sneaky
        .send_frame(rtmp_server::media::FrameKind::Audio, 23, &[0xAF, 0x01, 0x21])
        .unwrap();
    sneaky.unpublish().unwrap();
    wait_metric(&server, "rtmp_recordings_finished_total", |n| n >= 1);
    // Every recording is inside the record dir (the only other file is the clip).
    let outside: Vec<_> = files_with_suffix(dir.path(), "")
        .into_iter()
        .filter(|f| !f.starts_with(&record_dir) && *f != clip)
        .collect();
    assert!(outside.is_empty(), "escaped {}: {outside:?}", record_dir.display());
    assert_eq!(files_with_suffix(&record_dir, ".flv").len(), 1, "the sneaky recording");
    assert!(!dir.path().join("escape").exists());
    // Control characters in a name (log forging, NUL) close the connection.
    let before = metric(&server, "rtmp_protocol_errors_total");
    let mut forger = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    let forger_addr = forger.socket().local_addr().unwrap();
    assert!(forger.publish("cam\n2026 [INFO] fake\u{0}").is_err());
    let line = closed_line(&server, forger_addr);
    assert_eq!(
        field(&line, "reason").as_deref(),
        Some(reason::PROTOCOL_ERROR),
        "{line}"
    );
    assert_eq!(metric(&server, "rtmp_protocol_errors_total"), before + 1);
    assert!(
        !server.log_lines().iter().any(|l| l.starts_with("2026 [INFO] fake")),
        "a forged log line"
    );

    assert!(
        wait_child(&mut good, DEADLINE).success(),
        "the good publisher was disturbed"
    );
    let recording = wait_recording_closed(&server, "good");
    assert_eq!(packet_hashes(&framemd5(&recording)), packet_hashes(&framemd5(&clip)));
    // The server is still up and serving.
    RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
}

#[test]
fn handshake_dribbled_one_byte_at_a_time_is_closed_by_the_deadline() {
    let server = ServerProcess::start(&["--handshake-timeout", "2s"]);
    let mut socket = TcpStream::connect(server.addr).unwrap();
    let local = socket.local_addr().unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    // One byte every 200 ms: a full handshake would take over 10 minutes.
    for _ in 0..300 {
        if socket.write_all(&[3]).is_err() {
            closed = true;
            break;
        }
        let mut byte = [0u8; 1];
        match socket.read(&mut byte) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the dribbling connection was never closed");
    assert!(started.elapsed() < Duration::from_secs(30));
    let line = closed_line(&server, local);
    assert_eq!(
        field(&line, "reason").as_deref(),
        Some(reason::HANDSHAKE_TIMEOUT),
        "{line}"
    );
}

#[test]
fn publisher_that_stops_mid_message_is_closed_when_idle_and_its_recording_finalized() {
    let dir = TempDir::new("hostile-idle");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--idle-timeout",
        "2s",
        "--record-reconnect-gap",
        "0",
    ]);
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("stalls").unwrap();
    publisher
        .send_frame(rtmp_server::media::FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    publisher
        .send_frame(rtmp_server::media::FrameKind::Video, 0, &[0x17, 1, 0, 0, 0, 7, 7])
        .unwrap();
    publisher.flush().unwrap();
    // The header of a 5000-byte video message and only 100 bytes of it, then silence.
    let (mut partial, mut continuation) = (Vec::new(), Vec::new());
    rtmp_server::protocol::chunk::shared::message_headers(7, 40, 5000, 9, 1, &mut partial, &mut continuation);
    partial.extend_from_slice(&[0x27; 100]);
    publisher.send_raw(&partial).unwrap();
    let line = closed_line(&server, publisher.socket().local_addr().unwrap());
    assert_eq!(field(&line, "reason").as_deref(), Some(reason::IDLE_TIMEOUT), "{line}");
    let file = wait_recording_closed(&server, "stalls");
    let bytes = std::fs::read(file).unwrap();
    let (_, tags) = rtmp_server::flv::reader::read_all(&bytes).unwrap();
    assert_eq!(
        tags.iter().filter(|t| t.tag_type == 9).count(),
        2,
        "the whole frames before the stall"
    );
}
