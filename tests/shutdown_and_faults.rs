//! Integration: SIGTERM during a real-time FFmpeg publish finalizes the recording and exits
//! 0; an unusable record directory never stops ingest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::faults::Player;
use common::http::{metric, wait_api_stream};
use common::log_contract::RECORDING_FAILED_TO_START;
use common::*;
use rtmp_server::push::PUSH_SHUTDOWN_GRACE;
use rtmp_server::server::listener::SHUTDOWN_GRACE;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Beyond the grace periods: the signal reaching the server, threads ending, the process
/// exiting, on a loaded machine.
const EXIT_SLACK: Duration = Duration::from_secs(5);

#[test]
fn sigterm_during_realtime_publish_exits_0_with_a_valid_prefix_recording() {
    let dir = TempDir::new("sigterm");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let record_dir = dir.path().join("rec");
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/term"), true);
    let stream = wait_api_stream(&server, "live", "term", |s| s["recording_file"].is_string());
    let part = PathBuf::from(stream["recording_file"].as_str().unwrap());
    assert!(part.to_str().unwrap().ends_with(".flv.part"), "in progress as .part");
    // Wait until a couple of seconds of media reached the file (the recorder hands its
    // stage to the kernel every 250 ms),
    // beyond the reserved onMetaData at its start.
    faults::wait_part_grows(&part, 20_000);
    let terminated_at = Instant::now();
    let status = server.terminate();
    // Exit status 0 says connections, then recorders, each ended within SHUTDOWN_GRACE (the
    // server exits 1 otherwise); pushes get PUSH_SHUTDOWN_GRACE more. So a clean stop takes
    // at most their sum, whatever the machine's load.
    assert_eq!(status.code(), Some(0), "server exit status");
    let bound = SHUTDOWN_GRACE * 2 + PUSH_SHUTDOWN_GRACE + EXIT_SLACK;
    assert!(
        terminated_at.elapsed() < bound,
        "shutdown took {:?} (at most {bound:?})",
        terminated_at.elapsed()
    );
    let _ = wait_child(&mut ffmpeg, DEADLINE);
    // The server is gone: what it left on disk is final.
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    let finished = files_with_suffix(&record_dir, ".flv");
    let path = PathBuf::from(part.to_str().unwrap().strip_suffix(".part").unwrap());
    assert_eq!(finished, vec![path.clone()], "the .part was finalized as .flv");
    assert_eq!(decode_errors(&path), "");
    let source = framemd5(&clip);
    let recorded = framemd5(&path);
    assert!(recorded.len() > 10, "recording holds {} packets", recorded.len());
    assert!(recorded.len() < source.len(), "publish was interrupted, not complete");
    assert_eq!(
        recorded[..],
        source[..recorded.len()],
        "recording is not a prefix of the source"
    );
}

#[test]
fn unusable_record_dir_logs_an_error_and_publishing_still_succeeds() {
    let dir = TempDir::new("bad-record-dir");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    // After start-up (which refuses an unusable record dir), a file takes the dir's place.
    std::fs::remove_dir(&record_dir).unwrap();
    std::fs::write(&record_dir, b"a file where the record dir should be").unwrap();
    let player = Player::join(server.addr, "nodisk");
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/nodisk"), false);
    assert!(
        wait_child(&mut ffmpeg, DEADLINE).success(),
        "publish must succeed without recording"
    );
    // Ingest went on: the player got the stream to its end.
    let played = player.wait_end();
    assert_eq!(played.end, "NetStream.Play.UnpublishNotify");
    let videos = played.media.iter().filter(|(kind, _)| *kind == 9).count();
    assert!(videos > 10, "the player got {videos} video messages");
    assert!(metric(&server, "rtmp_recordings_failed_total") >= 1);
    assert_eq!(metric(&server, "rtmp_recordings_finished_total"), 0);
    assert_eq!(metric(&server, "rtmp_recordings_active"), 0);
    // The operator is told which directory failed (the log line is the contract here).
    let failure = server.wait_for_log(&format!("{RECORDING_FAILED_TO_START} app=live stream=nodisk"), DEADLINE);
    assert_eq!(field(&failure, "dir").as_deref(), record_dir.to_str());
    assert!(field(&failure, "error").is_some());
}
