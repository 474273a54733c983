//! Integration: crash safety. After `kill -9` mid-recording the `.part` file plays up to at
//! most 1 s (wall time) before the kill, and the next start finalizes it before listening;
//! `rtmp-server repair` fixes a truncated copy and refuses non-FLV input unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::metadata::parse_onmetadata;
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::record::output::{FLUSH_INTERVAL, METADATA_REFRESH_INTERVAL};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Publishing is cut this far into the (6 s) clip, in ms of media: late enough for a
/// metadata refresh well inside the clip.
const KILL_AFTER_MS: u32 = 5_000;
/// Scheduling delays of a loaded machine, on top of the server's own intervals.
const SLACK: Duration = Duration::from_millis(500);

/// Most wall time of media a crash may lose: staged data reaches the OS every
/// FLUSH_INTERVAL, checked on a timer of the same period (1 s with the slack: the module's
/// "at most 1 s before the kill").
fn max_loss() -> Duration {
    FLUSH_INTERVAL * 2 + SLACK
}

/// Most wall time the in-place onMetaData of a `.part` may lag behind: it is rewritten every
/// METADATA_REFRESH_INTERVAL, checked on the writer's FLUSH_INTERVAL-long tick.
fn max_staleness() -> Duration {
    METADATA_REFRESH_INTERVAL + FLUSH_INTERVAL + SLACK
}

/// One tag the test publisher sent and when it was handed to the kernel.
struct Sent {
    tag_type: u8,
    timestamp: u32,
    at: Instant,
}

/// The highest timestamp of the tags (of `tag_type`, if given) sent at least `window`
/// before `kill`: what the server must have had the time to handle. Measured in wall time,
/// so a publisher that fell behind and caught up in a burst just before the kill (a loaded
/// machine) does not count against the server.
fn due_ms(sent: &[Sent], kill: Instant, window: Duration, tag_type: Option<u8>) -> i64 {
    sent.iter()
        .filter(|s| tag_type.is_none_or(|t| t == s.tag_type))
        .filter(|s| s.at + window <= kill)
        .map(|s| i64::from(s.timestamp))
        .max()
        .unwrap_or(0)
}

fn last_video_dts(lines: &[String]) -> i64 {
    *packet_dts(lines, "0").last().expect("video packets")
}

fn assert_prefix_within_loss(recorded: &[String], source: &[String], due_ms: i64) {
    assert!(!recorded.is_empty());
    assert_eq!(
        recorded[..],
        source[..recorded.len()],
        "recording is a prefix of the source"
    );
    let last = last_video_dts(recorded);
    eprintln!(
        "video sent {:?} before the kill up to {due_ms} ms, recorded up to {last} ms",
        max_loss()
    );
    assert!(
        last >= due_ms,
        "lost more than {:?}: last video dts {last} ms, video up to {due_ms} ms sent {:?} before the kill",
        max_loss(),
        max_loss()
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
    // Publish in real time (paced by the tags' timestamps), as an encoder would, each tag
    // handed to the kernel at once.
    let started = Instant::now();
    let mut sent = Vec::new();
    for tag in &tags {
        let due = started + Duration::from_millis(u64::from(tag.timestamp));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let kind = match tag.tag_type {
            8 => FrameKind::Audio,
            9 => FrameKind::Video,
            _ => FrameKind::Data,
        };
        client.send_frame(kind, tag.timestamp, tag.body).unwrap();
        client.flush().unwrap();
        sent.push(Sent {
            tag_type: tag.tag_type,
            timestamp: tag.timestamp,
            at: Instant::now(),
        });
        if tag.timestamp >= KILL_AFTER_MS {
            break;
        }
    }
    let pid = server.pid().to_string();
    let killed_at = Instant::now();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    server.wait_exit(DEADLINE);
    drop(client);
    let due_video_ms = due_ms(&sent, killed_at, max_loss(), Some(9));

    let parts = files_with_suffix(&record_dir, ".flv.part");
    assert_eq!(parts.len(), 1, "one unfinished recording: {parts:?}");
    assert_eq!(
        ffprobe_streams(&parts[0]),
        vec!["video", "audio"],
        "the .part is readable"
    );
    assert_prefix_within_loss(&framemd5(&parts[0]), &source, due_video_ms);
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
    let due_refresh_ms = due_ms(&sent, killed_at, max_staleness(), None);
    eprintln!(
        ".part onMetaData duration {stale} s, {part_last} ms written, media up to {due_refresh_ms} ms sent {:?} before the kill",
        max_staleness()
    );
    assert!(
        stale > 0.0 && stale * 1000.0 <= f64::from(part_last) + 0.5,
        ".part onMetaData duration {stale} s vs {part_last} ms written: never refreshed, or beyond the data"
    );
    assert!(
        stale * 1000.0 + 0.5 >= due_refresh_ms as f64,
        ".part onMetaData duration {stale} s is older than {:?}: media up to {due_refresh_ms} ms was sent before that",
        max_staleness()
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

    // The next start finalizes the .part before it listens: once it logged its address
    // (what ServerProcess::start waits for) the record dir holds only the finished file.
    let _restarted = ServerProcess::start(&["--record-all", "--record-dir", rec]);
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    let file = PathBuf::from(parts[0].to_str().unwrap().strip_suffix(".part").unwrap());
    assert_eq!(
        files_with_suffix(&record_dir, ".flv"),
        vec![file.clone()],
        "the .part was recovered as .flv"
    );
    flvmeta_check(&file);
    let recovered = framemd5(&file);
    assert_prefix_within_loss(&recovered, &source, due_video_ms);
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
