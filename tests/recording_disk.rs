//! Integration: the disk guard on a small tmpfs (needs root, as CI has; the test fails, never
//! skips, when it cannot mount). Below --record-min-free no file opens and the open one is
//! finalized, with a warning; recording resumes in a new file when space returns; a full disk
//! (ENOSPC) never stops ingest or the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::wait_metric;
use common::log_contract::*;
use common::*;
use rtmp_server::client::RtmpClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "cannot mount a tmpfs at {} (the disk guard tests need root): {status:?}",
            path.display()
        );
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn free_bytes(path: &Path) -> u64 {
    rtmp_server::record::disk::free_bytes(path).unwrap()
}

#[test]
fn low_space_finalizes_the_file_and_recording_resumes_in_a_new_one_when_space_returns() {
    let dir = TempDir::new("disk-guard");
    let clip = make_clip(dir.path(), "clip.flv", 8);
    let record_dir = dir.path().join("rec");
    let _tmpfs = Tmpfs::mount(&record_dir, "8m");
    let min_free: u64 = 4 * 1024 * 1024;
    // Leave room for about a second and a half of this clip above the minimum.
    let filler = record_dir.join("filler.bin");
    let fill = free_bytes(&record_dir) - min_free - 150 * 1024;
    std::fs::write(&filler, vec![1u8; fill as usize]).unwrap();
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-min-free",
        &min_free.to_string(),
    ]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/guard"), true);
    let paused = server.wait_for_log(&format!("{RECORDING_PAUSED_DISK_LOW} app=live stream=guard"), DEADLINE);
    assert!(field(&paused, "free_bytes").is_some(), "{paused}");
    let first = wait_recording_closed(&server, "guard");
    std::fs::remove_file(&filler).unwrap();
    server.wait_for_log(
        &format!("{RECORDING_RESUMES_DISK_BACK} app=live stream=guard"),
        DEADLINE,
    );
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ingest went on throughout");
    let ended = server.wait_for_log(&format!("{RECORDING_ENDED} app=live stream=guard "), DEADLINE);
    assert_eq!(field(&ended, "files").as_deref(), Some("2"));
    let files = wait_recordings_closed(&server, "guard", 2);
    assert_eq!(files[0], first);
    let source = packet_hashes(&framemd5(&clip));
    let before = packet_hashes(&framemd5(&files[0]));
    let after = packet_hashes(&framemd5(&files[1]));
    assert_eq!(
        before[..],
        source[..before.len()],
        "first file is the start of the stream"
    );
    let at = source
        .windows(after.len())
        .position(|w| w == after.as_slice())
        .expect("second file is one contiguous part of the stream");
    assert!(
        at >= before.len() && at + after.len() == source.len(),
        "resumed later, ran to the end"
    );
    for file in &files {
        flvmeta_check(file);
    }
    let stats = server.wait_for_log(MEDIA_STATISTICS, DEADLINE);
    assert!(field(&stats, "video_packets").is_some());
}

#[test]
fn start_up_warns_when_space_is_low_and_a_full_disk_never_stops_ingest() {
    let dir = TempDir::new("disk-full");
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let low_dir = dir.path().join("low");
    let full_dir = dir.path().join("full");
    let _low = Tmpfs::mount(&low_dir, "1m");
    let _full = Tmpfs::mount(&full_dir, "96k");

    // Below --record-min-free from the start: a warning at start-up, no file, ingest goes on.
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        low_dir.to_str().unwrap(),
        "--record-min-free",
        "2M",
    ]);
    let warning = server.wait_for_log(&format!("{RECORDING_PAUSED_DISK_LOW} dir="), DEADLINE);
    let listening = server.wait_for_log(RTMP_LISTENING, DEADLINE);
    let lines = server.log_lines();
    assert!(lines.iter().position(|l| *l == warning) < lines.iter().position(|l| *l == listening));
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/low"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    server.wait_for_log(&format!("{RECORDING_PAUSED_DISK_LOW} app=live stream=low"), DEADLINE);
    wait_until("the publish ended", DEADLINE, || {
        common::http::api_stream(&server, "live", "low").is_none_or(|s| s["publishing"] == false)
    });
    assert_eq!(
        common::http::metric(&server, "rtmp_recordings_finished_total"),
        0,
        "nothing recorded"
    );
    assert_eq!(
        common::http::metric(&server, "rtmp_recordings_active"),
        0,
        "nothing recorded"
    );
    assert!(!server.log_lines().iter().any(|l| l.contains(RECORDING_STARTED)));
    assert!(files_with_suffix(&low_dir, ".flv").is_empty());

    // --record-min-free 0 on a tiny disk: writes hit ENOSPC; what fits is kept, ingest goes on.
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        full_dir.to_str().unwrap(),
        "--record-min-free",
        "0",
    ]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/full"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ingest survives ENOSPC");
    // The write error stopped the file: counted as failed, and what fit finalized.
    wait_metric(&server, "rtmp_recordings_failed_total", |n| n >= 1);
    let kept = wait_recording_closed(&server, "full");
    let recorded = packet_hashes(&framemd5(&kept));
    let source = packet_hashes(&framemd5(&clip));
    assert!(!recorded.is_empty());
    assert_eq!(recorded[..], source[..recorded.len()], "what fit is a valid prefix");
    // The server still serves.
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish("after").unwrap();
    client.unpublish().unwrap();
}
