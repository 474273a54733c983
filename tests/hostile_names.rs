//! Hostile app and stream names: `/` and non-UTF-8 bytes are confined to a sanitized file in
//! the record directory; NUL and 4 KiB names close only the offending connection with a log
//! line. Meanwhile FFmpeg records another stream packet-identical to its source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{metric, wait_metric};
use common::log_contract::reason;
use common::*;
use rtmp_server::protocol::amf0::{self, Amf0Value};
use rtmp_server::protocol::chunk::RawMessage;
use std::path::Path;

/// An AMF0 string marker and length for `bytes` (any bytes, valid UTF-8 or not).
fn raw_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

fn message(csid: u32, type_id: u8, stream_id: u32, payload: Vec<u8>) -> RawMessage {
    RawMessage {
        csid,
        timestamp: 0,
        type_id,
        stream_id,
        payload,
    }
}

/// connect to `app`, createStream (stream 1), publish `name` on it, two AAC frames and
/// deleteStream: a whole publish in one write, names given as raw bytes.
fn publish_bytes(app: &[u8], name: &[u8]) -> Vec<u8> {
    let mut connect = Vec::new();
    amf0::encode_all(
        &[Amf0Value::String("connect".into()), Amf0Value::Number(1.0)],
        &mut connect,
    );
    connect.extend_from_slice(&[0x03, 0x00, 0x03, b'a', b'p', b'p']);
    connect.extend_from_slice(&raw_string(app));
    connect.extend_from_slice(&[0x00, 0x00, 0x09]);
    let create = amf_command(
        0,
        &[
            Amf0Value::String("createStream".into()),
            Amf0Value::Number(2.0),
            Amf0Value::Null,
        ],
    );
    let mut publish = Vec::new();
    amf0::encode_all(
        &[
            Amf0Value::String("publish".into()),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
        ],
        &mut publish,
    );
    publish.extend_from_slice(&raw_string(name));
    amf0::encode(&Amf0Value::String("live".into()), &mut publish);
    let delete = amf_command(
        0,
        &[
            Amf0Value::String("deleteStream".into()),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
            Amf0Value::Number(1.0),
        ],
    );
    let mut first_audio = message(6, 8, 1, vec![0xAF, 0x00, 0x12, 0x10]);
    let mut second_audio = message(6, 8, 1, vec![0xAF, 0x01, 0x21, 0x22]);
    first_audio.timestamp = 0;
    second_audio.timestamp = 23;
    encode_messages(&[
        message(3, 20, 0, connect),
        create,
        message(8, 20, 1, publish),
        first_audio,
        second_audio,
        delete,
    ])
}

/// Publishes with these names (the publish ends with deleteStream) and returns the
/// recording it finalized: the one new `.flv` under `record_dir`.
fn recorded_file(server: &ServerProcess, record_dir: &Path, app: &[u8], name: &[u8]) -> std::path::PathBuf {
    use std::io::Write;
    let files_before = files_with_suffix(record_dir, ".flv");
    let finished = metric(server, "rtmp_recordings_finished_total");
    let protocol_errors = metric(server, "rtmp_protocol_errors_total");
    let mut socket = std::net::TcpStream::connect(server.addr).unwrap();
    let local = socket.local_addr().unwrap();
    socket.write_all(&after_handshake(&publish_bytes(app, name))).unwrap();
    wait_metric(server, "rtmp_recordings_finished_total", |n| n > finished);
    // Closing with the replies unread resets the connection (io_error): not refused.
    drop(socket);
    assert_ne!(close_reason(server, local), reason::PROTOCOL_ERROR, "refused");
    assert_eq!(metric(server, "rtmp_protocol_errors_total"), protocol_errors, "refused");
    let mut new: Vec<_> = files_with_suffix(record_dir, ".flv")
        .into_iter()
        .filter(|f| !files_before.contains(f))
        .collect();
    assert_eq!(new.len(), 1, "one new recording: {new:?}");
    new.pop().unwrap()
}

fn assert_confined(file: &Path, record_dir: &Path, expected_name_start: &str) {
    assert_eq!(
        file.parent(),
        Some(record_dir),
        "{} left the record dir",
        file.display()
    );
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(expected_name_start),
        "{name} does not start with {expected_name_start}"
    );
    assert!(name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    let bytes = std::fs::read(file).unwrap();
    let (_, tags) = rtmp_server::flv::reader::read_all(&bytes).unwrap();
    assert_eq!(
        tags.iter().filter(|t| t.tag_type == 8).count(),
        2,
        "both audio frames recorded"
    );
}

#[test]
fn hostile_names_are_confined_or_refused_while_a_good_publisher_records() {
    let guarded = GuardedServer::start("hostile-names", 8, &[]);
    let server = &guarded.server;
    let record_dir = guarded.dir.path().join("rec");
    let baseline = guarded.rss_kib();

    // `/` in app and stream name: one flat, sanitized file in the record directory.
    let file = recorded_file(server, &record_dir, b"live/x", b"a/b/c");
    assert_confined(&file, &record_dir, "live_x_a_b_c_");
    // Non-UTF-8 bytes are decoded lossily (U+FFFD each) and sanitized in the file name.
    let file = recorded_file(server, &record_dir, b"live", b"c\xFF\xFEm");
    assert_confined(&file, &record_dir, "live_c__m_");

    // NUL in the app or the stream name, and 4 KiB names, close the connection as a
    // protocol error (and record nothing).
    let long = vec![b'n'; 4096];
    let finished = metric(server, "rtmp_recordings_finished_total");
    for (what, app, name) in [
        ("NUL in app", &b"li\0ve"[..], &b"cam"[..]),
        ("NUL in stream", b"live", b"cam\0x"),
        ("4 KiB app", &long[..], b"cam"),
        ("4 KiB stream", b"live", &long[..]),
    ] {
        let before = metric(server, "rtmp_protocol_errors_total");
        let line = attack(
            server,
            &after_handshake(&publish_bytes(app, name)),
            reason::PROTOCOL_ERROR,
        );
        assert_eq!(
            metric(server, "rtmp_protocol_errors_total"),
            before + 1,
            "{what}: {line}"
        );
    }
    assert_eq!(
        metric(server, "rtmp_recordings_finished_total"),
        finished,
        "nothing recorded"
    );
    let files = files_with_suffix(&record_dir, ".flv");
    assert!(files.iter().all(|f| f.parent() == Some(record_dir.as_path())));
    let rss = guarded.rss_kib();
    eprintln!("server RSS KiB: baseline {baseline}, after the attacks {rss}");
    assert!(rss < 256 * 1024, "RSS {rss} KiB");
    guarded.finish();
}
