//! HTTP-FLV viewers (`GET /live/APP/STREAM.flv`) with FFmpeg as the client: a viewer joining
//! a real-time publish gets exactly the source's packets from a keyframe on (one constant
//! time shift), counts as a player while it watches, and its end is a play_stopped event;
//! play keys govern it like an RTMP play (403 without the key), an unpublished stream is 404,
//! and the recording stays packet-identical.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, wait_api_stream};
use common::players::{assert_suffix_of_source, ffmpeg_player, framemd5_lines};
use common::*;

#[test]
fn an_ffmpeg_viewer_gets_the_source_from_a_keyframe_on() {
    let dir = TempDir::new("http-flv");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let api = api_addr(&server);
    assert_eq!(http_request(api, "GET", "/live/live/show.flv", &[]).status, 404);

    let mut publisher = ffmpeg_publish(&clip, &server.url("live/show"), true);
    wait_api_stream(&server, "live", "show", |s| s["publishing"] == true);
    let out = dir.path().join("viewer.framemd5");
    let mut viewer = ffmpeg_player(&format!("http://{api}/live/live/show.flv"), &out);
    wait_api_stream(&server, "live", "show", |s| s["players"] == 1);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    assert!(
        wait_child(&mut viewer, DEADLINE).success(),
        "the viewer ends with the stream"
    );

    let source = framemd5(&clip);
    assert_suffix_of_source("http-flv viewer", &source, &framemd5_lines(&out));
    let recording = wait_recording_closed(&server, "show");
    assert_eq!(packet_hashes(&framemd5(&recording)), packet_hashes(&source));
    let events = http_request(api, "GET", "/api/events", &[]).json();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"play_started") && kinds.contains(&"play_stopped"),
        "{kinds:?}"
    );
}

#[test]
fn play_keys_govern_http_flv_viewers() {
    let dir = TempDir::new("http-flv-keys");
    let keys = dir.path().join("play.keys");
    std::fs::write(&keys, "live/* viewer-secret-9\n").unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let server = ServerProcess::start(&["--play-keys", keys.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/cam"), true);
    wait_api_stream(&server, "live", "cam", |s| s["publishing"] == true);
    assert_eq!(http_request(api, "GET", "/live/live/cam.flv", &[]).status, 403);
    assert_eq!(
        http_request(api, "GET", "/live/live/cam.flv?key=wrong", &[]).status,
        403
    );
    let out = dir.path().join("keyed.framemd5");
    let mut viewer = ffmpeg_player(&format!("http://{api}/live/live/cam.flv?key=viewer-secret-9"), &out);
    wait_api_stream(&server, "live", "cam", |s| s["players"] == 1);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    assert!(wait_child(&mut viewer, DEADLINE).success());
    assert!(framemd5_lines(&out).len() > 10);
    assert!(
        !server.log_lines().iter().any(|l| l.contains("viewer-secret-9")),
        "the key is never logged"
    );
}
