//! Coalesced fan-out (`--play-coalesce`, config `play_coalesce`, per app): players of a
//! real-time FFmpeg publish with a 40 ms window get exactly the source's packets from a
//! keyframe on (FFmpeg and rtmpdump), and frames did leave in sends of several
//! (`rtmp_player_coalesced_frames_total`); an `[[app]]` table turns it on for its streams
//! only; a window over 100 ms is a usage error. (The default, 20 ms, is what every other
//! test's players run with.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{metric, wait_api_stream};
use common::players::{assert_suffix_of_source, ffmpeg_player, framemd5_lines, rtmpdump_player};
use common::*;
use std::process::{Command, Stdio};

const COALESCED: &str = "rtmp_player_coalesced_frames_total";

/// Publishes `clip` in real time to `app/stream` with two FFmpeg players and one rtmpdump
/// player from the start; asserts each got the source's packets from a keyframe on.
fn publish_and_check_players(server: &ServerProcess, dir: &std::path::Path, clip: &std::path::Path, path: &str) {
    let url = server.url(path);
    let (app, stream) = path.split_once('/').unwrap();
    let outs: Vec<_> = (0..2).map(|i| dir.join(format!("{stream}-{i}.framemd5"))).collect();
    let mut players: Vec<_> = outs.iter().map(|out| ffmpeg_player(&url, out)).collect();
    let dump = dir.join(format!("{stream}-rtmpdump.flv"));
    let mut rtmpdump = rtmpdump_player(&url, &dump);
    wait_api_stream(server, app, stream, |s| s["players"] == 3);
    let mut publisher = ffmpeg_publish(clip, &url, true);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    for player in players.iter_mut() {
        assert!(wait_child(player, DEADLINE).success(), "ffmpeg player failed");
    }
    wait_child(&mut rtmpdump, DEADLINE);
    let source = framemd5(clip);
    for (i, out) in outs.iter().enumerate() {
        assert_suffix_of_source(&format!("{path} ffmpeg player {i}"), &source, &framemd5_lines(out));
    }
    assert_eq!(decode_errors(&dump), "", "rtmpdump's file decodes cleanly");
    assert_suffix_of_source(&format!("{path} rtmpdump"), &source, &framemd5(&dump));
}

#[test]
fn players_of_a_coalesced_stream_get_every_packet_in_sends_of_several_frames() {
    require_tool("ffmpeg");
    require_tool("rtmpdump");
    let dir = TempDir::new("play-coalesce");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let server = ServerProcess::start(&["--play-coalesce", "40ms"]);
    publish_and_check_players(&server, dir.path(), &clip, "live/held");
    // 15 fps video and ~10 audio frames a second: many land in one 40 ms window.
    let coalesced = metric(&server, COALESCED);
    assert!(coalesced > 50, "{COALESCED} = {coalesced}");
}

#[test]
fn an_app_table_sets_the_window_for_its_streams_only() {
    require_tool("ffmpeg");
    require_tool("rtmpdump");
    let dir = TempDir::new("play-coalesce-app");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let config = dir.path().join("rtmp-server.toml");
    std::fs::write(
        &config,
        "play_coalesce = \"0\"\n\n[[app]]\nmatch = \"wall/*\"\nplay_coalesce = \"40ms\"\n",
    )
    .unwrap();
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);
    publish_and_check_players(&server, dir.path(), &clip, "live/direct");
    assert_eq!(
        metric(&server, COALESCED),
        0,
        "the top level (0) sends each frame at once"
    );
    publish_and_check_players(&server, dir.path(), &clip, "wall/held");
    assert!(metric(&server, COALESCED) > 0, "the wall/* table holds frames");
}

#[test]
fn a_window_over_100ms_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_rtmp-server"))
        .args(["--play-coalesce", "250ms"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--play-coalesce") && stderr.contains("100ms"),
        "{stderr}"
    );
}
