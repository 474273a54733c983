//! Integration with real FFmpeg: what `ffmpeg -c copy -f flv rtmp://...` publishes is
//! recorded packet-identical (framemd5), plays cleanly, and shows both streams in ffprobe.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use std::path::Path;

fn record_server(dir: &TempDir) -> ServerProcess {
    let record_dir = dir.path().join("rec");
    ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()])
}

fn assert_identical_recording(source: &Path, recording: &Path) {
    assert_eq!(ffprobe_streams(recording), vec!["video".to_owned(), "audio".to_owned()]);
    assert_eq!(decode_errors(recording), "", "decoding the recording printed errors");
    let expected = framemd5(source);
    let actual = framemd5(recording);
    assert!(expected.len() > 50, "source has too few packets: {}", expected.len());
    assert_eq!(actual, expected, "recording is not packet-identical to its source");
}

#[test]
fn ffmpeg_publish_is_recorded_packet_identical() {
    let dir = TempDir::new("ffmpeg-one");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let server = record_server(&dir);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/test"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ffmpeg publish failed");
    let recording = wait_recording_closed(&server, "test");
    assert_identical_recording(&clip, &recording);
    let closed = server.wait_for_log(&format!("{RECORDER_CLOSED} app=live stream=test "), DEADLINE);
    assert!(field(&closed, "tags").unwrap().parse::<u64>().unwrap() > 50);
    let logs = server.log_lines().join("\n");
    for needle in [
        "connection opened",
        "connect conn_id=",
        "publish conn_id=",
        "recording started",
        "media statistics",
    ] {
        assert!(logs.contains(needle), "log lacks {needle:?}:\n{logs}");
    }
}

#[test]
fn two_ffmpeg_publishers_at_once_get_two_identical_recordings() {
    let dir = TempDir::new("ffmpeg-two");
    let first_clip = make_clip(dir.path(), "first.flv", 3);
    let second_clip = make_clip(dir.path(), "second.flv", 5);
    let server = record_server(&dir);
    let mut first = ffmpeg_publish(&first_clip, &server.url("live/first"), false);
    let mut second = ffmpeg_publish(&second_clip, &server.url("live/second"), false);
    assert!(wait_child(&mut first, DEADLINE).success());
    assert!(wait_child(&mut second, DEADLINE).success());
    let first_recording = wait_recording_closed(&server, "first");
    let second_recording = wait_recording_closed(&server, "second");
    assert_ne!(first_recording, second_recording);
    assert_identical_recording(&first_clip, &first_recording);
    assert_identical_recording(&second_clip, &second_recording);
}

#[test]
fn captured_ffmpeg_clip_is_recorded_packet_identical() {
    let dir = TempDir::new("ffmpeg-fixture");
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip2s.flv");
    let server = record_server(&dir);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/fixture"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let recording = wait_recording_closed(&server, "fixture");
    assert_identical_recording(&clip, &recording);
}

/// FFmpeg (as OBS with no stream key) publishing to `rtmp://host/live`: refused with "No
/// stream name", so ffmpeg fails, and nothing is recorded.
#[test]
fn ffmpeg_publish_without_a_stream_name_is_refused() {
    let dir = TempDir::new("ffmpeg-no-name");
    let clip = make_clip(dir.path(), "clip.flv", 1);
    let server = record_server(&dir);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live"), false);
    assert!(!wait_child(&mut ffmpeg, DEADLINE).success(), "ffmpeg publish succeeded");
    server.wait_for_log("publish rejected", DEADLINE);
    assert!(files_with_suffix(&dir.path().join("rec"), ".flv").is_empty());
}
