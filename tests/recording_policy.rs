//! Integration: which streams record (--record/--no-record globs), the --on-record-done hook
//! and its environment, reconnects within the gap continuing one file, and retention
//! deleting the oldest finished recordings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

const TIMEOUT: Duration = Duration::from_secs(30);
const CLIP: &[u8] = include_bytes!("fixtures/clip2s.flv");

fn publish_frames(server: &ServerProcess, app: &str, stream: &str) {
    let mut client = RtmpClient::connect(server.addr, app, TIMEOUT).unwrap();
    client.publish(stream).unwrap();
    for i in 0..10u32 {
        let body = [if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
    client.unpublish().unwrap();
}

#[test]
fn record_and_no_record_globs_choose_the_streams() {
    let dir = TempDir::new("policy-globs");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record",
        "live/*",
        "--record",
        "*/cam?",
        "--no-record",
        "*/secret*",
    ]);
    for (app, stream) in [
        ("live", "a"),
        ("live", "secret1"),
        ("other", "cam1"),
        ("other", "cam12"),
    ] {
        publish_frames(&server, app, stream);
    }
    server.wait_for_log(&format!("{RECORDER_CLOSED} app=live stream=a "), DEADLINE);
    server.wait_for_log(&format!("{RECORDER_CLOSED} app=other stream=cam1 "), DEADLINE);
    server.wait_for_log(
        &format!("{RECORDING_OFF_FOR_STREAM} conn_id=2 app=live stream=secret1"),
        DEADLINE,
    );
    server.wait_for_log(
        &format!("{RECORDING_OFF_FOR_STREAM} conn_id=4 app=other stream=cam12"),
        DEADLINE,
    );
    let files = files_with_suffix(&record_dir, ".flv");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("live_a_")) && names.iter().any(|n| n.starts_with("other_cam1_")));
}

#[test]
fn the_hook_runs_after_each_file_with_its_environment_and_its_exit_status_is_logged() {
    let dir = TempDir::new("policy-hook");
    let out = dir.path().join("hook.out");
    let script = dir.path().join("on-done.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv | grep '^RTMP_' | sort > '{0}.tmp'\necho \"ARG=$1\" >> '{0}.tmp'\nmv '{0}.tmp' '{0}'\nexit 3\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        dir.path().join("rec").to_str().unwrap(),
        "--on-record-done",
        script.to_str().unwrap(),
    ]);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("hooked").unwrap();
    client.send_flv(CLIP).unwrap();
    client.unpublish().unwrap();
    let closed = server.wait_for_log(&format!("{RECORDER_CLOSED} app=live stream=hooked "), DEADLINE);
    let failed = server.wait_for_log(RECORD_HOOK_FAILED, DEADLINE);
    let status = field(&failed, "status").unwrap_or_default();
    assert!(status.ends_with(" 3"), "exit status logged: {failed}");
    wait_until("hook output written", DEADLINE, || out.exists());
    let env = std::fs::read_to_string(&out).unwrap();
    // The publisher's connection, address and the time vary: checked, then left out.
    let varying = ["RTMP_CLIENT_ADDR=127.0.0.1:", "RTMP_CONN_ID=", "RTMP_TIME="];
    for prefix in varying {
        assert!(
            env.lines().any(|l| l.starts_with(prefix) && l.len() > prefix.len()),
            "{prefix} in {env}"
        );
    }
    let env: String = env
        .lines()
        .filter(|l| !varying.iter().any(|p| l.starts_with(p)))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = field(&closed, "file").unwrap();
    let expected = format!(
        "RTMP_APP=live\nRTMP_BYTES={}\nRTMP_DURATION_MS={}\nRTMP_EVENT=record_done\nRTMP_QUERY=\nRTMP_RECORD_PATH={path}\nRTMP_STREAM=hooked\nARG={path}\n",
        field(&closed, "bytes").unwrap(),
        field(&closed, "duration_ms").unwrap(),
    );
    assert_eq!(env, expected);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len().to_string(),
        field(&closed, "bytes").unwrap()
    );
}

#[test]
fn a_reconnect_within_the_gap_continues_the_same_file() {
    let dir = TempDir::new("policy-reconnect");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish("rc").unwrap();
    first.send_flv(CLIP).unwrap();
    first.flush().unwrap();
    drop(first); // connection lost, no unpublish
    server.wait_for_log(&format!("{RECORDING_PARKED} app=live stream=rc"), DEADLINE);
    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    second.publish("rc").unwrap();
    second.send_flv(CLIP).unwrap();
    second.unpublish().unwrap();
    server.wait_for_log(RECORDING_CONTINUES, DEADLINE);
    let ended = server.wait_for_log(&format!("{RECORDING_ENDED} app=live stream=rc "), DEADLINE);
    assert_eq!(field(&ended, "files").as_deref(), Some("1"), "one file: {ended}");
    let path = wait_recording_closed(&server, "rc");
    assert_eq!(files_with_suffix(&record_dir, ".flv"), vec![path.clone()]);
    flvmeta_check(&path);
    let clip_path = dir.path().join("clip.flv");
    std::fs::write(&clip_path, CLIP).unwrap();
    let source = packet_hashes(&framemd5(&clip_path));
    let recorded = framemd5(&path);
    let twice: Vec<String> = source.iter().chain(&source).cloned().collect();
    assert_eq!(packet_hashes(&recorded), twice, "both publishes, in order");
    for stream in ["0", "1"] {
        let dts = packet_dts(&recorded, stream);
        assert!(
            dts.windows(2).all(|w| w[0] < w[1]),
            "stream {stream} timestamps increase: {dts:?}"
        );
    }
}

fn aged_file(path: &Path, bytes: usize, age: Duration) {
    std::fs::write(path, vec![0u8; bytes]).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn retention_deletes_the_oldest_finished_recordings_only() {
    let dir = TempDir::new("policy-retention");
    let record_dir = dir.path().join("rec");
    std::fs::create_dir_all(record_dir.join("sub")).unwrap();
    let hour = Duration::from_secs(3600);
    let oldest = record_dir.join("oldest.flv");
    let older = record_dir.join("sub/older.flv");
    let newer = record_dir.join("newer.flv");
    let part = record_dir.join("sub/unfinished.flv.part");
    let outside = dir.path().join("outside.flv");
    aged_file(&oldest, 100_000, 72 * hour);
    aged_file(&older, 100_000, 2 * hour);
    aged_file(&newer, 100_000, hour);
    aged_file(&part, 100_000, 120 * hour);
    aged_file(&outside, 100_000, 120 * hour);
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-retention-days",
        "2",
        "--record-retention-max",
        "210k",
    ]);
    // At start-up: the 3-day-old file goes by age; 200 kB fit.
    let first = server.wait_for_log(RETENTION_DELETED, DEADLINE);
    assert_eq!(field(&first, "file").unwrap(), oldest.to_str().unwrap());
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("kept").unwrap();
    client.send_flv(CLIP).unwrap();
    client.unpublish().unwrap();
    let recording = wait_recording_closed(&server, "kept");
    // After the new file: over 210 kB, so the oldest remaining one goes.
    let deletions = server.wait_for_logs(RETENTION_DELETED, 2, DEADLINE);
    assert_eq!(field(&deletions[1], "file").unwrap(), older.to_str().unwrap());
    assert!(!oldest.exists() && !older.exists());
    assert!(newer.exists() && recording.exists(), "newest kept");
    assert!(part.exists(), "a .part is never deleted");
    assert!(outside.exists(), "nothing outside --record-dir is touched");
    assert_eq!(
        server
            .log_lines()
            .iter()
            .filter(|l| l.contains(RETENTION_DELETED))
            .count(),
        2
    );
}

#[test]
fn a_parked_recording_is_finalized_and_its_hook_fired_at_shutdown() {
    let dir = TempDir::new("policy-park-shutdown");
    let out = dir.path().join("hook.out");
    let script = dir.path().join("on-done.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" > '{0}.tmp'\nmv '{0}.tmp' '{0}'\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        dir.path().join("rec").to_str().unwrap(),
        "--record-reconnect-gap",
        "10m",
        "--on-record-done",
        script.to_str().unwrap(),
    ]);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("parked").unwrap();
    client.send_flv(CLIP).unwrap();
    client.flush().unwrap();
    drop(client);
    server.wait_for_log(&format!("{RECORDING_PARKED} app=live stream=parked"), DEADLINE);
    assert_eq!(server.terminate().code(), Some(0));
    let path = wait_recording_closed(&server, "parked");
    wait_until("hook ran", DEADLINE, || out.exists());
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), path.to_str().unwrap());
    flvmeta_check(&path);
}
