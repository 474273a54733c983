//! Integration: on_publish webhooks deciding FFmpeg's publishes, against a receiver started
//! here. A 403 refuses (FFmpeg exits non-zero; no stream, no recording), a 200 allows; a
//! receiver that never answers refuses at --hook-timeout while another FFmpeg stream keeps
//! recording packet-identical (framemd5); the key in the URL never reaches the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::api_stream;
use common::webhook::{assert_common_fields, Receiver};
use common::*;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "ffmpeg-K3Y-7788";

/// Answers by stream: `denied` 403, `silent` never, anything else 200.
fn receiver() -> Receiver {
    Receiver::start(Arc::new(|v: &Value| match v["stream"].as_str() {
        Some("denied") => Some(403),
        Some("silent") => None,
        _ => Some(200),
    }))
}

fn record_server(dir: &TempDir, receiver: &Receiver, timeout: &str) -> ServerProcess {
    let rec = dir.path().join("rec");
    ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
        "--on-publish",
        &receiver.url("/publish"),
        "--hook-timeout",
        timeout,
    ])
}

/// Recording files (finished or not) whose name contains `stream`.
fn recordings_of(dir: &Path, stream: &str) -> Vec<std::path::PathBuf> {
    files_with_suffix(&dir.join("rec"), "")
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(stream))
        .collect()
}

fn assert_key_never_logged(server: &ServerProcess) {
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

#[test]
fn a_403_refuses_ffmpegs_publish_and_a_200_allows_it() {
    let dir = TempDir::new("hooks-ffmpeg-decide");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let receiver = receiver();
    let server = record_server(&dir, &receiver, "5s");

    let mut denied = ffmpeg_publish(&clip, &server.url(&format!("live/denied?key={KEY}")), false);
    assert!(!wait_child(&mut denied, DEADLINE).success(), "a 403 refuses FFmpeg");
    let asked = receiver.wait("publish", "denied").json();
    assert_common_fields(&asked, "publish", "live", "denied", &format!("key={KEY}"));
    server.wait_for_log(log_contract::PUBLISH_DENIED, DEADLINE);
    assert!(
        api_stream(&server, "live", "denied").is_none(),
        "no stream for a refused publish"
    );
    assert!(
        recordings_of(dir.path(), "denied").is_empty(),
        "no recording for a refused publish"
    );

    let mut allowed = ffmpeg_publish(&clip, &server.url(&format!("live/cam?key={KEY}")), false);
    assert!(wait_child(&mut allowed, DEADLINE).success(), "a 200 allows FFmpeg");
    let asked = receiver.wait("publish", "cam").json();
    assert_common_fields(&asked, "publish", "live", "cam", &format!("key={KEY}"));
    let recording = wait_recording_closed(&server, "cam");
    assert_eq!(
        framemd5(&recording),
        framemd5(&clip),
        "the allowed stream records packet-identical"
    );
    assert_key_never_logged(&server);
}

#[test]
fn a_silent_receiver_refuses_at_the_timeout_while_another_ffmpeg_stream_keeps_recording() {
    let dir = TempDir::new("hooks-ffmpeg-silent");
    let long = make_clip(dir.path(), "long.flv", 10);
    let short = make_clip(dir.path(), "short.flv", 1);
    let receiver = receiver();
    let server = record_server(&dir, &receiver, "2s");

    // The kept stream publishes in real time through the whole refusal.
    let mut kept = ffmpeg_publish(&long, &server.url(&format!("live/kept?key={KEY}")), true);
    receiver.wait("publish", "kept");
    common::http::wait_api_stream(&server, "live", "kept", |_| true);

    let started = Instant::now();
    let mut silent = ffmpeg_publish(&short, &server.url(&format!("live/silent?key={KEY}")), false);
    receiver.wait("publish", "silent");
    assert!(!wait_child(&mut silent, DEADLINE).success(), "no answer refuses FFmpeg");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "refused only at --hook-timeout: {took:?}"
    );
    assert!(
        kept.try_wait().unwrap().is_none(),
        "the kept stream was still publishing while the decision waited ({took:?})"
    );
    assert!(api_stream(&server, "live", "silent").is_none());

    assert!(
        wait_child(&mut kept, DEADLINE).success(),
        "the kept stream published to its end"
    );
    let recording = wait_recording_closed(&server, "kept");
    let expected = framemd5(&long);
    assert!(expected.len() > 100, "source has too few packets: {}", expected.len());
    assert_eq!(
        framemd5(&recording),
        expected,
        "the kept stream records packet-identical"
    );
    assert!(
        recordings_of(dir.path(), "silent").is_empty(),
        "no recording for the refused stream"
    );
    assert_key_never_logged(&server);
}
