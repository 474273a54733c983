//! Integration: a publisher that reconnects within the gap continues its file, and the
//! rebase of its restarted clock is logged at info (expected behaviour), while a real
//! discontinuity inside one publish stays a warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `count` video frames 40 ms apart from `start_ms`, the first a keyframe.
fn send_video(client: &mut RtmpClient, start_ms: u32, count: u32) {
    for i in 0..count {
        let body = [if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, start_ms + i * 40, &body).unwrap();
    }
    client.flush().unwrap();
}

#[test]
fn the_rebase_after_a_reconnect_is_info_and_a_discontinuity_within_a_publish_is_a_warning() {
    let dir = TempDir::new("reconnect-log");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish("rc").unwrap();
    send_video(&mut first, 0, 25);
    drop(first); // connection lost, no unpublish
    server.wait_for_log("recording parked for reconnect app=live stream=rc", DEADLINE);

    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    second.publish("rc").unwrap();
    send_video(&mut second, 0, 25); // the encoder's clock restarted: expected
    send_video(&mut second, 0, 5); // back to 0 within one publish: a real discontinuity
    second.unpublish().unwrap();
    let ended = server.wait_for_log("recording ended app=live stream=rc ", DEADLINE);
    assert_eq!(field(&ended, "files").as_deref(), Some("1"), "one file: {ended}");

    let rebases: Vec<String> = server
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("timestamp discontinuity rebased app=live stream=rc"))
        .collect();
    assert_eq!(rebases.len(), 2, "one rebase per discontinuity: {rebases:#?}");
    assert!(
        rebases[0].contains("[INFO]") && rebases[0].contains("after_reconnect=true"),
        "the reconnect's rebase is expected behaviour: {}",
        rebases[0]
    );
    assert!(
        rebases[1].contains("[WARN]"),
        "a discontinuity within one publish stays a warning: {}",
        rebases[1]
    );
}
