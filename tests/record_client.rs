//! Integration: the project's own client publishes to the real server; the recording is
//! read back tag by tag and compared with what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_stream, metric, wait_api_stream};
use common::log_contract::{reason, O_DIRECT_REFUSED};
use common::{close_reason, files_with_suffix, wait_recording_closed, wait_until, ServerProcess, TempDir, DEADLINE};
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::metadata::parse_onmetadata;
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::amf0::{self, Amf0Value};
use rtmp_server::protocol::handshake::HandshakeKind;
use std::path::PathBuf;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn record_server(dir: &TempDir) -> ServerProcess {
    let record_dir = dir.path().join("rec");
    ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()])
}

/// Publishes `frames` as `name` (query and all) with the project's client, unpublishes, and
/// returns the finalized recording.
fn publish_and_wait_recording(server: &ServerProcess, name: &str, frames: &[(FrameKind, u32, Vec<u8>)]) -> PathBuf {
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish(name).unwrap();
    for (kind, timestamp, body) in frames {
        client.send_frame(*kind, *timestamp, body).unwrap();
    }
    client.flush().unwrap();
    client.unpublish().unwrap();
    let stream = name.split('?').next().unwrap_or(name);
    wait_recording_closed(server, stream)
}

fn metadata_body() -> Vec<u8> {
    let mut body = Vec::new();
    amf0::encode(&Amf0Value::String("onMetaData".into()), &mut body);
    let fields = vec![
        ("width".to_owned(), Amf0Value::Number(320.0)),
        ("height".to_owned(), Amf0Value::Number(240.0)),
        ("encoder".to_owned(), Amf0Value::String("test".into())),
    ];
    amf0::encode(&Amf0Value::EcmaArray(fields), &mut body);
    body
}

/// AVC and AAC sequence headers at `timestamp`.
fn sequence_headers(timestamp: u32) -> Vec<(FrameKind, u32, Vec<u8>)> {
    vec![
        (FrameKind::Video, timestamp, vec![0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f]),
        (FrameKind::Audio, timestamp, vec![0xAF, 0x00, 0x12, 0x10]),
    ]
}

/// Synthetic frames: AVC/AAC sequence headers then 3 s of 25 fps video with keyframes every
/// second and 43 fps audio, timestamps starting at 1000 to check the rebase to 0.
fn synthetic_frames() -> Vec<(FrameKind, u32, Vec<u8>)> {
    let mut frames = sequence_headers(1000);
    for i in 0..75u32 {
        let keyframe = i % 25 == 0;
        let mut video = vec![if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0];
        video.extend((0..(200 + i * 37) % 9000).map(|b| (b ^ i) as u8));
        frames.push((FrameKind::Video, 1000 + i * 40, video));
        let mut audio = vec![0xAF, 0x01];
        audio.extend((0..(100 + i)).map(|b| (b * 3 + i) as u8));
        frames.push((FrameKind::Audio, 1000 + i * 40 + 3, audio));
    }
    frames
}

#[test]
fn own_client_publish_is_recorded_tag_for_tag_with_rebased_timestamps() {
    let dir = TempDir::new("client-record");
    let server = record_server(&dir);
    let frames = synthetic_frames();
    let mut sent = vec![(FrameKind::Data, 0, metadata_body())];
    sent.extend(frames.iter().cloned());
    let path = publish_and_wait_recording(&server, "synthetic?key=secret", &sent);
    assert!(path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("live_synthetic_"));
    assert!(!path.to_str().unwrap().contains("secret"), "key never in file names");
    let bytes = std::fs::read(&path).unwrap();
    let (header, tags) = read_all(&bytes).unwrap();
    assert!(header.has_audio && header.has_video);
    assert_eq!(tags.len(), frames.len() + 1);
    assert_eq!(tags[0].tag_type, 18);
    let fields = parse_onmetadata(tags[0].body, 16).expect("onMetaData first");
    let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("width"), Some(Amf0Value::Number(320.0)), "publisher fields kept");
    assert_eq!(get("encoder"), Some(Amf0Value::String("test".into())));
    assert_eq!(
        get("duration"),
        Some(Amf0Value::Number(2.963)),
        "last timestamp 1000+74*40+3"
    );
    assert_eq!(get("filesize"), Some(Amf0Value::Number(bytes.len() as f64)));
    for (tag, (kind, timestamp, body)) in tags[1..].iter().zip(&frames) {
        assert_eq!(tag.tag_type, kind.tag_type());
        assert_eq!(tag.timestamp, timestamp - 1000);
        assert_eq!(tag.body, body.as_slice());
    }
}

#[test]
fn fixture_clip_published_by_own_client_is_recorded_byte_identical_in_its_tags() {
    let clip = include_bytes!("fixtures/clip2s.flv");
    let dir = TempDir::new("client-clip");
    let server = record_server(&dir);
    let mut client = RtmpClient::connect_with(server.addr, "live", TIMEOUT, HandshakeKind::Simple).unwrap();
    client.publish("clip").unwrap();
    let sent = client.send_flv(clip).unwrap();
    client.unpublish().unwrap();
    let path = wait_recording_closed(&server, "clip");
    let recorded = std::fs::read(&path).unwrap();
    let (_, source_tags) = read_all(clip).unwrap();
    let (_, recorded_tags) = read_all(&recorded).unwrap();
    assert_eq!(sent, source_tags.len());
    assert_eq!(recorded_tags.len(), source_tags.len());
    assert_eq!((source_tags[0].tag_type, recorded_tags[0].tag_type), (18, 18));
    let source_fields = parse_onmetadata(source_tags[0].body, 16).unwrap();
    let recorded_fields = parse_onmetadata(recorded_tags[0].body, 16).unwrap();
    let encoder = |f: &[(String, Amf0Value)]| f.iter().find(|(k, _)| k == "encoder").cloned();
    assert_eq!(encoder(&source_fields), encoder(&recorded_fields));
    for (a, b) in source_tags[1..].iter().zip(&recorded_tags[1..]) {
        assert_eq!((a.tag_type, a.timestamp, a.body), (b.tag_type, b.timestamp, b.body));
    }
}

#[test]
fn second_publisher_of_a_live_stream_is_refused_and_the_first_keeps_recording() {
    let dir = TempDir::new("client-conflict");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--publish-conflict",
        "reject",
    ]);
    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish("dup").unwrap();
    first
        .send_frame(FrameKind::Audio, 0, &[0xAF, 0x00, 0x12, 0x10])
        .unwrap();
    first.flush().unwrap();
    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    let refused = second.publish("dup");
    assert!(
        matches!(refused, Err(rtmp_server::client::ClientError::Rejected(ref code)) if code == "NetStream.Publish.BadName"),
        "{refused:?}"
    );
    for i in 1..20u32 {
        first
            .send_frame(FrameKind::Audio, i * 23, &[0xAF, 0x01, i as u8])
            .unwrap();
    }
    first.unpublish().unwrap();
    let path = wait_recording_closed(&server, "dup");
    let bytes = std::fs::read(&path).unwrap();
    let (header, tags) = read_all(&bytes).unwrap();
    assert_eq!(tags.len(), 21, "onMetaData + 20 audio tags");
    assert!(header.has_audio && !header.has_video, "flags match an audio-only file");
}

#[test]
fn unknown_commands_get_an_error_reply_and_the_connection_stays_open() {
    let dir = TempDir::new("client-unknown");
    let server = record_server(&dir);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    let transaction = client.call("someVendorExtension", Amf0Value::Null, vec![]).unwrap();
    let reply = client.read_command().unwrap();
    assert_eq!((reply.name.as_str(), reply.transaction_id), ("_error", transaction));
    client.publish("after-unknown").unwrap();
    wait_api_stream(&server, "live", "after-unknown", |s| s["publishing"] == true);
    client.unpublish().unwrap();
    wait_until("the publish ended", DEADLINE, || {
        api_stream(&server, "live", "after-unknown").is_none_or(|s| s["publishing"] == false)
    });
    // No media was published, so no file was opened.
    assert_eq!(metric(&server, "rtmp_recordings_finished_total"), 0);
    assert_eq!(metric(&server, "rtmp_recordings_failed_total"), 0);
    assert_eq!(metric(&server, "rtmp_recordings_active"), 0);
    assert!(files_with_suffix(dir.path(), ".flv").is_empty());
    assert!(files_with_suffix(dir.path(), ".part").is_empty());
}

#[test]
fn disconnect_without_unpublish_still_finalizes_the_recording() {
    let dir = TempDir::new("client-drop");
    let server = record_server(&dir);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("dropped").unwrap();
    for i in 0..10u32 {
        client
            .send_frame(
                FrameKind::Video,
                i * 40,
                &[if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8],
            )
            .unwrap();
    }
    client.flush().unwrap();
    let local = client.socket().local_addr().unwrap();
    drop(client);
    let path = wait_recording_closed(&server, "dropped");
    let bytes = std::fs::read(&path).unwrap();
    let (header, tags) = read_all(&bytes).unwrap();
    assert_eq!(tags.len(), 11, "onMetaData + 10 video tags");
    assert!(header.has_video && !header.has_audio);
    assert_eq!(close_reason(&server, local), reason::PEER_CLOSED);
}

/// Frames large and many enough (about 24 MB in well under a flush interval's worth of
/// stages) that the recorder writes full stages with O_DIRECT between its buffered flushes.
fn bulk_frames() -> Vec<(FrameKind, u32, Vec<u8>)> {
    let mut frames = sequence_headers(0);
    for i in 0..240u32 {
        let keyframe = i % 30 == 0;
        let mut video = vec![if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0];
        let len = if keyframe {
            400_000
        } else {
            50_000 + (i * 7_919) % 90_000
        };
        video.extend((0..len).map(|b| (b.wrapping_mul(31) ^ i) as u8));
        frames.push((FrameKind::Video, i * 40, video));
        frames.push((FrameKind::Audio, i * 40 + 5, vec![0xAF, 0x01, i as u8, 7, 9]));
    }
    frames
}

#[test]
fn a_full_speed_publish_is_recorded_exactly_through_direct_and_buffered_writes() {
    let dir = TempDir::new("client-bulk");
    let server = record_server(&dir);
    let frames = bulk_frames();
    let path = publish_and_wait_recording(&server, "bulk", &frames);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 20_000_000, "{} bytes", bytes.len());
    let (header, tags) = read_all(&bytes).unwrap();
    assert!(header.has_audio && header.has_video);
    assert_eq!(tags[0].tag_type, 18, "onMetaData first");
    let fields = parse_onmetadata(tags[0].body, 16).expect("onMetaData");
    let filesize = fields.iter().find(|(k, _)| k == "filesize").map(|(_, v)| v.clone());
    assert_eq!(filesize, Some(Amf0Value::Number(bytes.len() as f64)));
    assert_eq!(tags.len(), frames.len() + 1);
    for (tag, (kind, timestamp, body)) in tags[1..].iter().zip(&frames) {
        assert_eq!((tag.tag_type, tag.timestamp), (kind.tag_type(), *timestamp));
        assert!(tag.body == body.as_slice(), "tag at {timestamp} ms differs");
    }
    assert!(
        !server.log_lines().iter().any(|l| l.contains(O_DIRECT_REFUSED)),
        "no fallback to buffered writes"
    );
}

/// OBS with no stream key publishes `rtmp://box/live` with an empty name: refused with
/// BadName, as is a name that is only a query, and nothing is recorded for either.
#[test]
fn publishing_with_an_empty_stream_name_is_refused_and_records_nothing() {
    let dir = TempDir::new("client-empty-name");
    let server = record_server(&dir);
    for name in ["", "?key=x", " "] {
        let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
        let refused = client.publish(name);
        assert!(
            matches!(refused, Err(rtmp_server::client::ClientError::Rejected(ref code)) if code == "NetStream.Publish.BadName"),
            "{name:?}: {refused:?}"
        );
        let _ = client.send_frame(FrameKind::Audio, 0, &[0xAF, 0x00, 0x12, 0x10]);
        let _ = client.flush();
    }
    server.wait_for_log("error=\"empty stream name\"", DEADLINE);
    // A named publish after them records, so the directory exists and was really checked.
    let path = publish_and_wait_recording(&server, "cam", &synthetic_frames());
    let files = files_with_suffix(&dir.path().join("rec"), ".flv");
    assert_eq!(files, vec![path], "only the named stream was recorded");
}
