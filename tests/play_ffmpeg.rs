//! Live playback with real clients: three FFmpeg players and one rtmpdump (librtmp) player
//! join a real-time FFmpeg publish at different times; each gets exactly the source's
//! packets from some keyframe to the end, with timestamps shifted by one constant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::wait_api_stream;
use common::players::{assert_suffix_of_source, ffmpeg_player, framemd5_lines, rtmpdump_player};
use common::*;
use std::time::{Duration, Instant};

#[test]
fn ffmpeg_and_rtmpdump_players_get_the_source_from_a_keyframe_on() {
    require_tool("ffmpeg");
    require_tool("rtmpdump");
    let dir = TempDir::new("play-ffmpeg");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let url = server.url("live/show");
    let mut publisher = ffmpeg_publish(&clip, &url, true);
    wait_api_stream(&server, "live", "show", |s| s["publishing"] == true);
    let started = Instant::now();
    let mut players = Vec::new();
    for (i, join_after) in [0u64, 2, 4].iter().enumerate() {
        while started.elapsed() < Duration::from_secs(*join_after) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = dir.path().join(format!("player{i}.framemd5"));
        players.push((ffmpeg_player(&url, &out), out));
        wait_api_stream(&server, "live", "show", |s| s["players"] == i + 1);
    }
    let dump = dir.path().join("rtmpdump.flv");
    let mut rtmpdump = rtmpdump_player(&url, &dump);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    for (child, _) in players.iter_mut() {
        assert!(wait_child(child, DEADLINE).success(), "ffmpeg player failed");
    }
    wait_child(&mut rtmpdump, DEADLINE);
    let source = framemd5(&clip);
    for (i, (_, out)) in players.iter().enumerate() {
        assert_suffix_of_source(&format!("ffmpeg player {i}"), &source, &framemd5_lines(out));
    }
    assert_eq!(decode_errors(&dump), "", "rtmpdump's file decodes cleanly");
    assert_suffix_of_source("rtmpdump", &source, &framemd5(&dump));
    let recording = wait_recording_closed(&server, "show");
    assert_eq!(
        packet_hashes(&framemd5(&recording)),
        packet_hashes(&source),
        "recording unaffected by players"
    );
}
