//! Integration: a record directory that cannot be created or written. At start-up, with
//! recording configured, the server exits 1 with one line naming the directory and the OS
//! error; at run time an open that fails is a failed recording in /metrics
//! (`rtmp_recordings_failed_total`), not "disk space low".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, parse_prometheus};
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn an_unusable_record_dir_stops_start_up_with_exit_1_and_one_line_naming_it() {
    for args in [
        &["--record-all", "--record-dir", "/proc/x"][..],
        &["--record", "live/*", "--record-dir", "/proc"][..],
    ] {
        let (status, stderr) = run_server_to_exit(args);
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("[ERROR]")).collect();
        assert_eq!(errors.len(), 1, "one error line: {stderr}");
        let dir = *args.last().unwrap();
        assert_eq!(field(errors[0], "dir").as_deref(), Some(dir), "{}", errors[0]);
        assert!(field(errors[0], "error").is_some(), "the OS error: {}", errors[0]);
    }
}

#[test]
fn without_recording_flags_the_record_dir_is_not_checked() {
    let mut server = ServerProcess::start(&["--record-dir", "/proc/x"]);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_record_dir_that_becomes_unwritable_counts_failed_recordings_not_low_disk() {
    let dir = TempDir::new("record-dir-unwritable");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-min-free",
        "1k",
    ]);
    let api = api_addr(&server);
    // The directory is replaced by a link to a file system nothing can be written to.
    std::fs::remove_dir(&record_dir).unwrap();
    std::os::unix::fs::symlink("/proc", &record_dir).unwrap();

    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("nowhere").unwrap();
    let metrics = || parse_prometheus(&http_request(api, "GET", "/metrics", &[]).body);
    let mut i = 0u32;
    wait_until("a failed recording is counted", DEADLINE, || {
        for _ in 0..5 {
            let body = [if i.is_multiple_of(25) { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
            client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
            i += 1;
        }
        client.flush().unwrap();
        metrics()["rtmp_recordings_failed_total"] >= 1.0
    });
    let now = metrics();
    assert_eq!(now["rtmp_record_disk_low"], 0.0, "not a full disk");
    assert_eq!(now["rtmp_recordings_active"], 0.0);
    client.unpublish().unwrap();
}
