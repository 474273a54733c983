//! The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright
//! (tests/browser/dashboard.py, from the venv scripts/test.sh makes; never a downloaded
//! browser) while FFmpeg publishes a 20 s clip in real time with --record-all and an API
//! token: the page asks for the token, lists the stream with the clip's resolution, its live
//! preview (HTTP-FLV through mpegts.js) plays, and after the publish the FLV recording plays
//! in the page. Screenshots land in target/test-artifacts/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::browser::{dashboard_args, run_browser_script};
use common::{ffmpeg_publish, make_clip, wait_child, ServerProcess};
use std::path::PathBuf;
use std::time::Duration;

const TOKEN: &str = "dash-chromium-Token-5e1";

#[test]
fn chromium_shows_the_stream_plays_the_preview_and_the_recording() {
    let dir = common::TempDir::new("dash-chromium");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(&record_dir).unwrap();
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--http-token-file",
        token_file.to_str().unwrap(),
    ]);
    let api = common::http::api_addr(&server);
    let clip = make_clip(dir.path(), "clip.flv", 20);
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    let screenshot = artifacts.join("dashboard.png");

    let mut publisher = ffmpeg_publish(&clip, &server.url("live/dash"), true);
    let (ok, output) = run_browser_script("dashboard.py", &dashboard_args(api, "live/dash", TOKEN, &screenshot));
    let published = wait_child(&mut publisher, Duration::from_secs(60));
    assert!(ok, "{output}");
    assert!(published.success(), "ffmpeg publish failed");
    assert!(screenshot.exists(), "no screenshot at {}", screenshot.display());
    assert!(
        artifacts.join("dashboard-recording.png").exists(),
        "no recording screenshot"
    );
}
