//! Fault test: `kill -9` of the server while real FFmpeg publishes in real time. What the
//! server had received is bounded below by what a player got from it; the `.part` left
//! behind, and the file start-up repair makes of it, hold all of that but at most 1 s, and
//! are a packet-identical prefix of the source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::*;
use common::http::wait_api_stream;
use common::*;
use std::process::Command;

/// Media time published before the kill (ms).
const KILL_AFTER_MS: u32 = 3_000;
/// Most media a crash may lose (ms).
const MAX_LOSS_MS: i64 = 1_000;

fn assert_within_loss(what: &str, recorded: &[String], source: &[String], relayed_ms: u32) {
    assert!(!recorded.is_empty(), "{what}: empty");
    assert_eq!(recorded[..], source[..recorded.len()], "{what}: a prefix of the source");
    let last = *packet_dts(recorded, "0").last().expect("video packets");
    eprintln!(
        "{what}: server had relayed up to {relayed_ms} ms; recorded up to {last} ms (lost {} ms)",
        i64::from(relayed_ms) - last
    );
    assert!(
        last >= i64::from(relayed_ms) - MAX_LOSS_MS,
        "{what}: lost more than 1 s: last video dts {last} ms, {relayed_ms} ms relayed before the kill"
    );
}

#[test]
fn kill_9_during_a_realtime_ffmpeg_publish_loses_at_most_a_second_after_repair() {
    let dir = TempDir::new("kill9-ffmpeg");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let tags = source_tags(&clip);
    let source = framemd5(&clip);
    let record_dir = dir.path().join("rec");
    let rec = record_dir.to_str().unwrap();
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", rec]);
    let player = Player::join(server.addr, "k9");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/k9"), true);
    wait_api_stream(&server, "live", "k9", |s| s["recording_file"].is_string());

    // The timestamps of the audio/video messages the player receives, in order.
    let av_times: Vec<u32> = tags
        .iter()
        .filter(|t| t.tag_type == 8 || t.tag_type == 9)
        .map(|t| t.timestamp)
        .collect();
    let wanted = av_times.iter().filter(|&&t| t < KILL_AFTER_MS).count();
    wait_until("player receives 3 s of media", DEADLINE, || player.received() >= wanted);
    let pid = server.pid().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    server.wait_exit(DEADLINE);
    let played = player.wait_end();
    assert_same_media("player", &played.media, &av_bodies(&tags), true);
    let relayed_ms = av_times[played.media.len() - 1];
    let _ = wait_child(&mut ffmpeg, DEADLINE);

    let parts = files_with_suffix(&record_dir, ".flv.part");
    assert_eq!(parts.len(), 1, "one unfinished recording: {parts:?}");
    assert_eq!(ffprobe_streams(&parts[0]), vec!["video", "audio"]);
    assert_within_loss(".part", &framemd5(&parts[0]), &source, relayed_ms);

    // Repair runs before listening: once the restarted server logged its address (what
    // ServerProcess::start waits for) the record dir holds only the finished file.
    let _restarted = ServerProcess::start(&["--record-all", "--record-dir", rec]);
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    let file = std::path::PathBuf::from(parts[0].to_str().unwrap().strip_suffix(".part").unwrap());
    assert_eq!(
        files_with_suffix(&record_dir, ".flv"),
        vec![file.clone()],
        "recovered as .flv"
    );
    flvmeta_check(&file);
    assert_eq!(decode_errors(&file), "");
    assert_within_loss("repaired", &framemd5(&file), &source, relayed_ms);
}
