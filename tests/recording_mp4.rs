//! Integration: MP4 recording (`--record-format mp4`). FFmpeg's packets come back exact
//! (order, size, hash, timestamps) with the source's streams and a clean decode; both
//! formats at once are both exact; rotation splits at keyframes without losing or repeating
//! a packet; after `kill -9` the `.mp4.part` plays and the next start repairs it with at most
//! 1 s lost; `rtmp-server repair` fixes a truncated copy and refuses other files unchanged;
//! `rtmp-server remux` converts an FLV file packet-exact and never overwrites its output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::mp4::boxes::{be32, child, header};
use rtmp_server::record::output::FLUSH_INTERVAL;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Scheduling delays of a loaded machine, on top of the server's own intervals.
const SLACK: Duration = Duration::from_millis(500);

fn mp4_server(dir: &TempDir, extra: &[&str]) -> (ServerProcess, PathBuf) {
    let record_dir = dir.path().join("rec");
    let mut args = vec!["--record-all", "--record-dir", record_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    (ServerProcess::start(&args), record_dir)
}

/// The `mvhd` duration of an MP4 file (ms: the muxer's timescale).
fn mvhd_duration(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    let ftyp = header(&bytes, bytes.len() as u64).unwrap();
    assert_eq!(&ftyp.kind, b"ftyp");
    let moov = &bytes[ftyp.size as usize..];
    let h = header(moov, moov.len() as u64).unwrap();
    assert_eq!(&h.kind, b"moov");
    let mvhd = child(&moov[8..h.size as usize], b"mvhd").unwrap();
    assert_eq!(be32(mvhd, 12), Some(1000), "1 kHz timescale");
    be32(mvhd, 16).unwrap()
}

/// framemd5 lines of one stream index.
fn stream_lines(lines: &[String], stream: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.split(',').next().map(str::trim) == Some(stream))
        .cloned()
        .collect()
}

/// End of the last packet of the file's framemd5 lines (pts + duration, ms).
fn media_end(lines: &[String]) -> i64 {
    lines
        .iter()
        .map(|l| {
            let f: Vec<i64> = l
                .split(',')
                .skip(1)
                .take(3)
                .map(|v| v.trim().parse().unwrap())
                .collect();
            f[1] + f[2]
        })
        .max()
        .unwrap()
}

/// Whether the first video packet of a file is a keyframe.
fn starts_with_keyframe(path: &Path) -> bool {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .is_some_and(|l| l.starts_with('K'))
}

fn assert_exact(file: &Path, source: &[String]) {
    assert!(file.to_str().unwrap().ends_with(".mp4"), "{}", file.display());
    assert_eq!(
        framemd5(file),
        source,
        "{}: packets, sizes, hashes and timestamps",
        file.display()
    );
    assert_eq!(ffprobe_streams(file), ["video", "audio"]);
    assert_eq!(decode_errors(file), "", "{} decodes cleanly", file.display());
    // The real durations were written at finalize: the end of the last sample.
    let end = mvhd_duration(file);
    let last = source
        .iter()
        .map(|l| l.split(',').nth(1).unwrap().trim().parse::<i64>().unwrap())
        .max()
        .unwrap();
    assert!(
        i64::from(end) > last && i64::from(end) <= media_end(source) + 100,
        "mvhd {end} ms, last dts {last} ms"
    );
    let probed = ffprobe_duration(file);
    assert!(
        probed * 1000.0 >= last as f64 && probed * 1000.0 <= (media_end(source) + 150) as f64,
        "ffprobe duration {probed} s, last timestamp {last} ms"
    );
}

#[test]
fn mp4_recording_is_packet_identical_to_the_source() {
    let dir = TempDir::new("mp4-exact");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let source = framemd5(&clip);
    let (server, record_dir) = mp4_server(&dir, &["--record-format", "mp4"]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/exact"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ffmpeg publish");
    let file = wait_recording_closed(&server, "exact");
    assert_exact(&file, &source);
    assert!(files_with_suffix(&record_dir, ".part").is_empty());
    assert!(files_with_suffix(&record_dir, ".flv").is_empty(), "MP4 only");
}

#[test]
fn both_formats_at_once_are_both_exact_with_the_same_names() {
    let dir = TempDir::new("mp4-both");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let source = framemd5(&clip);
    let (server, record_dir) = mp4_server(&dir, &["--record-format", "flv", "--record-format", "mp4"]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/both"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ffmpeg publish");
    let files = wait_recordings_closed(&server, "both", 2);
    let flv = files_with_suffix(&record_dir, ".flv");
    let mp4 = files_with_suffix(&record_dir, ".mp4");
    assert_eq!((flv.len(), mp4.len()), (1, 1), "{files:?}");
    assert_eq!(flv[0].with_extension("mp4"), mp4[0], "same name but the extension");
    assert_eq!(framemd5(&flv[0]), source, "FLV exact");
    assert_exact(&mp4[0], &source);
}

#[test]
fn rotation_by_duration_splits_mp4_at_keyframes_without_losing_a_packet() {
    let dir = TempDir::new("mp4-rotate");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let (server, _) = mp4_server(&dir, &["--record-format", "mp4", "--record-max-duration", "2s"]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/rot"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let ended = server.wait_for_log(&format!("{RECORDING_ENDED} app=live stream=rot "), DEADLINE);
    assert_eq!(field(&ended, "files").as_deref(), Some("3"));
    let files = wait_recordings_closed(&server, "rot", 3);
    let mut joined = Vec::new();
    for file in &files {
        assert!(file.to_str().unwrap().ends_with(".mp4"));
        assert!(starts_with_keyframe(file), "{} starts at a keyframe", file.display());
        assert_eq!(decode_errors(file), "", "{} plays on its own", file.display());
        assert!(ffprobe_duration(file) <= 2.2, "{} lasts about 2 s", file.display());
        joined.extend(packet_hashes(&framemd5(file)));
    }
    assert_eq!(
        joined,
        packet_hashes(&framemd5(&clip)),
        "segments hold every packet exactly once"
    );
}

/// Asserts each stream of `recorded` is a prefix of the source's and video reaches `due_ms`.
fn assert_prefix_within_loss(recorded: &[String], source: &[String], due_ms: i64) {
    for stream in ["0", "1"] {
        let (got, all) = (stream_lines(recorded, stream), stream_lines(source, stream));
        assert!(!got.is_empty(), "stream {stream} recorded");
        assert_eq!(got[..], all[..got.len()], "stream {stream} is a prefix of the source");
    }
    let last = *packet_dts(recorded, "0").last().unwrap();
    assert!(
        last >= due_ms,
        "lost more than 1 s: last video dts {last} ms, video up to {due_ms} ms was sent"
    );
}

/// The repaired `mvhd` duration is where the kept samples end (framemd5's last packet end,
/// within its 1 ms rounding of audio durations).
fn assert_durations_rebuilt(file: &Path, recorded: &[String]) {
    let (end, expected) = (i64::from(mvhd_duration(file)), media_end(recorded));
    assert!(
        (end - expected).abs() <= 1,
        "durations rebuilt: mvhd {end} ms, packets end at {expected} ms"
    );
}

#[test]
fn kill_9_loses_at_most_a_second_and_the_next_start_repairs_the_mp4_part() {
    let dir = TempDir::new("mp4-kill9");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let source = framemd5(&clip);
    let (mut server, record_dir) = mp4_server(&dir, &["--record-format", "mp4"]);
    let clip_bytes = std::fs::read(&clip).unwrap();
    let (_, tags) = read_all(&clip_bytes).unwrap();
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish("crash").unwrap();
    let started = Instant::now();
    let mut sent: Vec<(u32, Instant)> = Vec::new();
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
        if tag.tag_type == 9 {
            sent.push((tag.timestamp, Instant::now()));
        }
        if tag.timestamp >= 5_000 {
            break;
        }
    }
    let killed_at = Instant::now();
    assert!(Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap()
        .success());
    server.wait_exit(DEADLINE);
    drop(client);
    // A fragment is written whole at most 500 ms of media after its first sample, and staged
    // data reaches the OS every FLUSH_INTERVAL: video sent 1 s before the kill is on disk.
    let window = Duration::from_millis(500) + FLUSH_INTERVAL + SLACK;
    assert!(window <= Duration::from_millis(1250));
    let due = sent
        .iter()
        .filter(|(_, at)| *at + window <= killed_at)
        .map(|(ts, _)| i64::from(*ts))
        .max()
        .unwrap();

    let parts = files_with_suffix(&record_dir, ".mp4.part");
    assert_eq!(parts.len(), 1, "one unfinished recording: {parts:?}");
    let part_bytes = std::fs::read(&parts[0]).unwrap();
    let ftyp = header(&part_bytes, part_bytes.len() as u64).unwrap().size as usize;
    let moov = header(&part_bytes[ftyp..], part_bytes.len() as u64).unwrap().size as usize;
    assert_eq!(
        &part_bytes[ftyp + moov + 4..ftyp + moov + 8],
        b"sidx",
        "the index was refreshed in place"
    );
    assert_eq!(ffprobe_streams(&parts[0]), ["video", "audio"], "the .part is readable");
    assert_prefix_within_loss(&framemd5(&parts[0]), &source, due);

    let _restarted = mp4_server(&dir, &["--record-format", "mp4"]);
    assert!(files_with_suffix(&record_dir, ".part").is_empty(), "no .part left");
    let file = PathBuf::from(parts[0].to_str().unwrap().strip_suffix(".part").unwrap());
    assert_eq!(files_with_suffix(&record_dir, ".mp4"), vec![file.clone()]);
    let recovered = framemd5(&file);
    assert_prefix_within_loss(&recovered, &source, due);
    assert_eq!(decode_errors(&file), "");
    assert_durations_rebuilt(&file, &recovered);
}

#[test]
fn repair_command_fixes_a_truncated_mp4_and_refuses_other_files_unchanged() {
    let dir = TempDir::new("mp4-repair");
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let source = framemd5(&clip);
    let (server, _) = mp4_server(&dir, &["--record-format", "mp4"]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/whole"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let recording = wait_recording_closed(&server, "whole");
    let part = dir.path().join("cut.mp4.part");
    std::fs::copy(&recording, &part).unwrap();
    let len = std::fs::metadata(&part).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&part)
        .unwrap()
        .set_len(len - 777)
        .unwrap();
    let output = run_server_command(&["repair", part.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let fixed = dir.path().join("cut.mp4");
    assert!(fixed.exists() && !part.exists(), ".part renamed to .mp4");
    let recovered = framemd5(&fixed);
    assert_prefix_within_loss(&recovered, &source, 2_000);
    assert_eq!(decode_errors(&fixed), "");
    assert_durations_rebuilt(&fixed, &recovered);

    let bogus = dir.path().join("notes.mp4");
    std::fs::write(&bogus, b"these are not the boxes you are looking for").unwrap();
    let output = run_server_command(&["repair", bogus.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&bogus).unwrap(),
        b"these are not the boxes you are looking for"
    );
}

#[test]
fn remux_converts_flv_exactly_and_never_overwrites() {
    let dir = TempDir::new("mp4-remux");
    let clip = make_clip(dir.path(), "clip.flv", 3);
    let out = dir.path().join("out.mp4");
    let output = run_server_command(&["remux", clip.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exact(&out, &framemd5(&clip));
    let before = std::fs::read(&out).unwrap();
    let again = run_server_command(&["remux", clip.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "an existing output is refused");
    assert_eq!(std::fs::read(&out).unwrap(), before, "and left unchanged");
    let missing = run_server_command(&["remux", clip.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_codec_mp4_cannot_carry_records_flv_instead_logged_once() {
    let dir = TempDir::new("mp4-unsupported");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let (server, record_dir) = mp4_server(&dir, &["--record-format", "mp4", "--record-reconnect-gap", "0"]);
    let clip_bytes = std::fs::read(&clip).unwrap();
    let (_, tags) = read_all(&clip_bytes).unwrap();
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish("speex").unwrap();
    for tag in &tags {
        match tag.tag_type {
            9 => client.send_frame(FrameKind::Video, tag.timestamp, tag.body).unwrap(),
            // Speex audio (SoundFormat 11): FLV carries it, this MP4 muxer does not.
            8 => client
                .send_frame(FrameKind::Audio, tag.timestamp, &[0xB2, 1, 2, 3])
                .unwrap(),
            _ => {}
        }
    }
    client.flush().unwrap();
    drop(client);
    let file = wait_recording_closed(&server, "speex");
    assert!(file.to_str().unwrap().ends_with(".flv"), "{}", file.display());
    assert_eq!(ffprobe_streams(&file), ["video", "audio"]);
    assert!(files_with_suffix(&record_dir, ".mp4").is_empty());
    assert!(files_with_suffix(&record_dir, ".part").is_empty());
    let line = server.wait_for_log(
        &format!("{RECORDING_FORMAT_UNSUPPORTED} app=live stream=speex "),
        DEADLINE,
    );
    assert_eq!(field(&line, "format").as_deref(), Some("mp4"));
    assert_eq!(field(&line, "flv_instead").as_deref(), Some("true"));
    let count = server
        .log_lines()
        .iter()
        .filter(|l| l.contains(RECORDING_FORMAT_UNSUPPORTED))
        .count();
    assert_eq!(count, 1, "logged once");
}
