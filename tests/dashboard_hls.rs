//! The dashboard's live preview over low-latency HLS in a real browser: with `--hls`, Debian's
//! Chromium (headless, Playwright, tests/browser/dashboard.py as in dashboard_chromium.rs)
//! plays the preview through the vendored hls.js (currentTime advances) while FFmpeg
//! publishes in real time; every play the page made was an HLS session (it ended idle, an
//! HTTP-FLV viewer never does). The screenshot lands in target/test-artifacts/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::browser::{dashboard_args, run_browser_script};
use common::http::{api_addr, http_request};
use common::{ffmpeg_publish, make_clip, wait_child, ServerProcess, DEADLINE};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const TOKEN: &str = "dash-hls-Token-77a";

#[test]
fn chromium_plays_the_live_preview_over_hls() {
    let dir = common::TempDir::new("dash-hls");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(&record_dir).unwrap();
    let server = ServerProcess::start(&[
        "--hls",
        "--hls-segment",
        "1s",
        "--hls-session-idle",
        "2s",
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--http-token-file",
        token_file.to_str().unwrap(),
    ]);
    let api = api_addr(&server);
    let clip = make_clip(dir.path(), "clip.flv", 20);
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    let screenshot = artifacts.join("dashboard-hls.png");

    let mut publisher = ffmpeg_publish(&clip, &server.url("live/dashhls"), true);
    let (ok, output) = run_browser_script("dashboard.py", &dashboard_args(api, "live/dashhls", TOKEN, &screenshot));
    let published = wait_child(&mut publisher, Duration::from_secs(60));
    assert!(ok, "{output}");
    assert!(published.success(), "ffmpeg publish failed");
    assert!(screenshot.exists(), "no screenshot at {}", screenshot.display());

    // Every play the page made was an HLS session: each ends idle once the page stops asking.
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = http_request(api, "GET", "/api/events", &[&bearer]).json();
        let events = events["events"].as_array().unwrap().clone();
        let started = events.iter().filter(|e| e["kind"] == "play_started").count();
        let stopped: Vec<&serde_json::Value> = events.iter().filter(|e| e["kind"] == "play_stopped").collect();
        if started > 0 && stopped.len() == started {
            assert!(
                stopped.iter().all(|e| e["reason"] == "idle"),
                "only HLS sessions (they end idle): {stopped:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the page's plays end: {events:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
