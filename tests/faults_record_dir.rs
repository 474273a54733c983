//! Fault test: the record directory removed (`rm -rf`) mid-stream. The writer notices its
//! file is gone (logged) instead of recording into a deleted file until the stream ends,
//! recreates the directory and records on in a new file from the next keyframe; the live
//! relay never misses a frame, and the next publish records again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::*;
use common::log_contract::*;
use common::*;

#[test]
fn record_dir_removed_mid_stream_is_logged_and_recording_goes_on_in_a_new_file() {
    let dir = TempDir::new("dir-removed");
    let clip = make_clip(dir.path(), "clip.flv", 10);
    let tags = source_tags(&clip);
    let source = packet_hashes(&framemd5(&clip));
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let player = Player::join(server.addr, "gone");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/gone"), true);
    let started = server.wait_for_log(&format!("{RECORDING_STARTED} app=live stream=gone"), DEADLINE);
    let first = std::path::PathBuf::from(field(&started, "file").unwrap());
    wait_part_grows(&first, 60_000);
    std::fs::remove_dir_all(&record_dir).unwrap();

    let removed = server.wait_for_log(&format!("{RECORDING_FILE_REMOVED} app=live stream=gone"), DEADLINE);
    assert_eq!(field(&removed, "file").as_deref(), first.to_str(), "{removed}");
    let restarted = server.wait_for_logs(&format!("{RECORDING_STARTED} app=live stream=gone"), 2, DEADLINE);
    let second = std::path::PathBuf::from(field(&restarted[1], "file").unwrap());
    assert!(second.starts_with(&record_dir), "{}", second.display());
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "the publish went on");
    let played = player.wait_end();
    assert_same_media("player", &played.media, &av_bodies(&tags), false);

    let file = wait_recording_closed(&server, "gone");
    assert!(file.exists(), "{}", file.display());
    flvmeta_check(&file);
    let recorded = packet_hashes(&framemd5(&file));
    let at = assert_contiguous_to_end("new file", &recorded, &source);
    eprintln!(
        "removed the directory after the first file; the new file holds packets {at}..{} of {}",
        source.len(),
        source.len()
    );
    assert!(
        !server.log_lines().iter().any(|l| l.contains(RECORDING_NOT_RENAMED)),
        "nothing left to rename"
    );

    // The next publish records again, whole.
    let short = make_clip(dir.path(), "short.flv", 2);
    let mut again = ffmpeg_publish(&short, &server.url("live/again"), false);
    assert!(wait_child(&mut again, DEADLINE).success());
    let file = wait_recording_closed(&server, "again");
    assert_eq!(framemd5(&file), framemd5(&short), "the next publish is recorded whole");
}
