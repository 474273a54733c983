//! Integration: SIGTERM during a real-time FFmpeg publish finalizes the recording and exits
//! 0; an unusable record directory never stops ingest.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn sigterm_during_realtime_publish_exits_0_with_a_valid_prefix_recording() {
    let dir = TempDir::new("sigterm");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let record_dir = dir.path().join("rec");
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/term"), true);
    let started = server.wait_for_log("recording started app=live stream=term", DEADLINE);
    let path = std::path::PathBuf::from(field(&started, "file").unwrap());
    // Wait until a couple of seconds of media reached the file (flushed every 500 ms),
    // beyond the reserved onMetaData at its start.
    let deadline = Instant::now() + DEADLINE;
    let reserved = rtmp_server::flv::metadata::KEYFRAME_INDEX_CAPACITY as u64 * 18;
    while std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < reserved + 20_000 {
        assert!(Instant::now() < deadline, "recording did not grow");
        std::thread::sleep(Duration::from_millis(50));
    }
    let terminated_at = Instant::now();
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "server exit status");
    assert!(
        terminated_at.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        terminated_at.elapsed()
    );
    let _ = wait_child(&mut ffmpeg, DEADLINE);
    assert!(path.to_str().unwrap().ends_with(".flv.part"), "in progress as .part");
    let path = wait_recording_closed(&server, "term");
    assert!(path.to_str().unwrap().ends_with(".flv"), "finalized as .flv");
    assert!(!std::path::Path::new(&format!("{}.part", path.display())).exists());
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
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/nodisk"), false);
    assert!(
        wait_child(&mut ffmpeg, DEADLINE).success(),
        "publish must succeed without recording"
    );
    let failure = server.wait_for_log("recording failed to start app=live stream=nodisk", DEADLINE);
    assert!(failure.contains(record_dir.to_str().unwrap()), "{failure}");
    assert!(field(&failure, "error").is_some());
    server.wait_for_log("unpublish conn_id=", DEADLINE);
    let stats = server.wait_for_log("media statistics", DEADLINE);
    assert!(
        field(&stats, "video_packets").unwrap().parse::<u64>().unwrap() > 0,
        "ingest continued: {stats}"
    );
}
