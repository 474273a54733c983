//! Live playback with real clients: three FFmpeg players and one rtmpdump (librtmp) player
//! join a real-time FFmpeg publish at different times; each gets exactly the source's
//! packets from some keyframe to the end, with timestamps shifted by one constant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::wait_api_stream;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `ffmpeg -i rtmp://... -c copy -f framemd5 -` as a child writing to `out`.
fn ffmpeg_player(url: &str, out: &std::path::Path) -> Child {
    Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-i", url, "-c", "copy", "-f", "framemd5", "-y",
        ])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ffmpeg player")
}

fn framemd5_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// (stream, dts, size, hash) of a framemd5 line.
fn packet(line: &str) -> (String, i64, String, String) {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    (
        fields[0].to_owned(),
        fields[1].parse().unwrap(),
        fields[4].to_owned(),
        fields[5].to_owned(),
    )
}

/// Asserts `player` is `source` from some packet on: same packets, one constant time shift.
fn assert_suffix_of_source(name: &str, source: &[String], player: &[String]) {
    assert!(player.len() > 10, "{name} received {} packets", player.len());
    let first = packet(&player[0]);
    let start = source
        .iter()
        .position(|l| {
            let p = packet(l);
            (p.0 == first.0, &p.2, &p.3) == (true, &first.2, &first.3)
        })
        .unwrap_or_else(|| panic!("{name}: first packet not in source"));
    let expected = &source[start..];
    assert_eq!(player.len(), expected.len(), "{name}: not every packet to the end");
    let shift = packet(&expected[0]).1 - first.1;
    for (got, want) in player.iter().zip(expected) {
        let (g, w) = (packet(got), packet(want));
        assert_eq!((&g.0, &g.2, &g.3), (&w.0, &w.2, &w.3), "{name}: packet differs");
        assert_eq!(w.1 - g.1, shift, "{name}: timestamps not shifted by one constant");
    }
}

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
    let mut rtmpdump = Command::new("rtmpdump")
        .args(["-q", "-v", "-r", &url, "-o"])
        .arg(&dump)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rtmpdump");
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
