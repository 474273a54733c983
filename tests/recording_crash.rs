//! Integration: crash safety. After `kill -9` mid-recording the `.part` file plays up to at
//! most 1 s before the kill, and the next start finalizes it before listening;
//! `rtmp-server repair` fixes a truncated copy and refuses non-FLV input unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::metadata::parse_onmetadata;
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Publishing is cut this far into the clip (ms of media).
const KILL_AFTER_MS: u32 = 3_000;
/// Most media a crash may lose.
const MAX_LOSS_MS: i64 = 1_000;

fn last_video_dts(lines: &[String]) -> i64 {
    *packet_dts(lines, "0").last().expect("video packets")
}

fn assert_prefix_within_loss(recorded: &[String], source: &[String], sent_ms: u32) {
    assert!(!recorded.is_empty());
    assert_eq!(
        recorded[..],
        source[..recorded.len()],
        "recording is a prefix of the source"
    );
    let last = last_video_dts(recorded);
    eprintln!("sent up to {sent_ms} ms, recorded up to {last} ms");
    assert!(
        last >= i64::from(sent_ms) - MAX_LOSS_MS,
        "lost more than 1 s: last video dts {last} ms, {sent_ms} ms sent before the kill"
    );
}

#[test]
fn kill_9_mid_recording_loses_at_most_a_second_and_the_next_start_recovers_the_part() {
    let dir = TempDir::new("crash-kill9");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let source = framemd5(&clip);
    let record_dir = dir.path().join("rec");
    let rec = record_dir.to_str().unwrap();
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", rec]);
    let clip_bytes = std::fs::read(&clip).unwrap();
    let (_, tags) = read_all(&clip_bytes).unwrap();
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish("crash").unwrap();
    // Publish in real time (paced by the tags' timestamps), as an encoder would.
    let started = Instant::now();
    let mut sent_ms = 0;
    for tag in &tags {
        let due = started + Duration::from_millis(u64::from(tag.timestamp));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            client.flush().unwrap();
            std::thread::sleep(wait);
        }
        let kind = match tag.tag_type {
            8 => FrameKind::Audio,
            9 => FrameKind::Video,
            _ => FrameKind::Data,
        };
        client.send_frame(kind, tag.timestamp, tag.body).unwrap();
        sent_ms = tag.timestamp;
        if sent_ms >= KILL_AFTER_MS {
            break;
        }
    }
    client.flush().unwrap();
    let pid = server.pid().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    server.wait_exit(DEADLINE);
    drop(client);

    let parts = files_with_suffix(&record_dir, ".flv.part");
    assert_eq!(parts.len(), 1, "one unfinished recording: {parts:?}");
    assert_eq!(
        ffprobe_streams(&parts[0]),
        vec!["video", "audio"],
        "the .part is readable"
    );
    assert_prefix_within_loss(&framemd5(&parts[0]), &source, sent_ms);
    // The in-place onMetaData was refreshed while recording: near-right even before repair.
    let part_bytes = std::fs::read(&parts[0]).unwrap();
    let (_, part_tags) = read_all(&part_bytes).unwrap();
    let part_fields = parse_onmetadata(part_tags[0].body, 16).unwrap();
    let stale = part_fields
        .iter()
        .find(|(k, _)| k == "duration")
        .unwrap()
        .1
        .as_number()
        .unwrap();
    let part_last = part_tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| t.timestamp)
        .max()
        .unwrap();
    assert!(
        stale > 0.0 && f64::from(part_last) / 1000.0 - stale <= 2.5,
        ".part onMetaData duration {stale} s vs {part_last} ms written"
    );
    let keyframes = part_fields
        .iter()
        .find(|(k, _)| k == "keyframes")
        .unwrap()
        .1
        .get("times")
        .cloned();
    assert!(
        matches!(keyframes, Some(rtmp_server::protocol::amf0::Amf0Value::StrictArray(ref t)) if !t.is_empty()),
        "the .part already carries a keyframe index"
    );

    let restarted = ServerProcess::start(&["--record-all", "--record-dir", rec]);
    let line = restarted.wait_for_log("recovered unfinished recording", DEADLINE);
    let lines = restarted.log_lines();
    let recovered_at = lines.iter().position(|l| l.contains("recovered unfinished")).unwrap();
    let listening_at = lines.iter().position(|l| l.contains("RTMP server listening")).unwrap();
    assert!(recovered_at < listening_at, "recovery happens before listening");
    let file = std::path::PathBuf::from(field(&line, "file").unwrap());
    assert!(file.to_str().unwrap().ends_with(".flv") && file.exists());
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    flvmeta_check(&file);
    let recovered = framemd5(&file);
    assert_prefix_within_loss(&recovered, &source, sent_ms);
    let bytes = std::fs::read(&file).unwrap();
    let (_, file_tags) = read_all(&bytes).unwrap();
    let last = file_tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| t.timestamp)
        .max()
        .unwrap();
    let fields = parse_onmetadata(file_tags[0].body, 16).unwrap();
    let duration = fields.iter().find(|(k, _)| k == "duration").unwrap().1.as_number();
    assert_eq!(duration, Some(f64::from(last) / 1000.0), "duration rebuilt");
    assert!((ffprobe_duration(&file) - f64::from(last) / 1000.0).abs() < 0.0015);
}

fn truncated_copy(from: &Path, to: &Path, cut: u64) {
    std::fs::copy(from, to).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(to).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len - cut).unwrap();
}

#[test]
fn repair_command_fixes_truncated_copies_and_refuses_non_flv_unchanged() {
    let dir = TempDir::new("crash-repair");
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let source = framemd5(&clip);
    let server = ServerProcess::start(&["--record-all", "--record-dir", dir.path().join("rec").to_str().unwrap()]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/whole"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let recording = wait_recording_closed(&server, "whole");

    let copy = dir.path().join("copy.flv");
    truncated_copy(&recording, &copy, 777);
    let part = dir.path().join("other.flv.part");
    truncated_copy(&recording, &part, 5);
    let output = run_server_command(&["repair", copy.to_str().unwrap(), part.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "repair failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("repaired ").count(), 2, "{stdout}");
    let renamed = dir.path().join("other.flv");
    assert!(renamed.exists() && !part.exists(), ".part renamed to .flv");
    for fixed in [&copy, &renamed] {
        flvmeta_check(fixed);
        let recorded = framemd5(fixed);
        assert_eq!(recorded[..], source[..recorded.len()]);
        assert!(recorded.len() + 3 >= source.len(), "only the torn tail is cut");
        let bytes = std::fs::read(fixed).unwrap();
        let (_, tags) = read_all(&bytes).unwrap();
        let last = tags
            .iter()
            .filter(|t| t.tag_type != 18)
            .map(|t| t.timestamp)
            .max()
            .unwrap();
        assert!((ffprobe_duration(fixed) - f64::from(last) / 1000.0).abs() < 0.0015);
    }

    let bogus = dir.path().join("notes.flv");
    std::fs::write(&bogus, b"these are not the frames you are looking for").unwrap();
    let output = run_server_command(&["repair", bogus.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an FLV file"), "{stderr}");
    assert_eq!(
        std::fs::read(&bogus).unwrap(),
        b"these are not the frames you are looking for"
    );
    assert_eq!(
        run_server_command(&["repair"]).status.code(),
        Some(2),
        "no files is a usage error"
    );
}
