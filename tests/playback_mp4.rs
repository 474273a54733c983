//! The playback server's MP4 (issue 15 item 4): an FLV recording fetched with `?format=mp4`
//! is fragmented MP4 made on the fly whose packets equal the source's (order, size, hash,
//! timestamps) and whose moov carries the recording's duration; `&start=&duration=` sends
//! exactly the source's packets from the keyframe at or before the start to the end of the
//! range, times counted from that keyframe; an MP4 recording's range is its fragments from
//! that keyframe, copied; bad queries get 400, a start past the end 416.
//! In a real Chromium (Debian's, headless, driven by tests/browser/recordings.py) an MP4
//! recording plays, seeks to its middle within one GOP and plays on, and an FLV recording
//! plays through `?format=mp4` with its duration known.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::browser::run_browser_script;
use common::fetch::{fetch, header};
use common::http::api_addr;
use common::*;
use std::path::Path;
use std::process::Command;

/// One framemd5 line: (stream, dts, pts, duration, size, hash).
type Packet = (u32, i64, i64, i64, u64, String);

fn packets(lines: &[String]) -> Vec<Packet> {
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].to_owned(),
            )
        })
        .collect()
}

/// The packets of one stream.
fn of_stream(packets: &[Packet], stream: u32) -> Vec<Packet> {
    packets.iter().filter(|p| p.0 == stream).cloned().collect()
}

/// Fetches `target` and saves the body as `dir/name`; returns the header block.
fn save(api: std::net::SocketAddr, target: &str, dir: &Path, name: &str) -> (String, std::path::PathBuf) {
    let (status, head, body) = fetch(api, "GET", target, &[]);
    assert_eq!(status, 200, "{target}: {head}");
    assert_eq!(header(&head, "Content-Type").as_deref(), Some("video/mp4"), "{head}");
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    (head, path)
}

/// The dts (ms) of the video keyframes of an FLV file.
fn keyframe_dts(path: &Path) -> Vec<i64> {
    let output = run_ok(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v",
                "-show_entries",
                "packet=dts,flags",
            ])
            .args(["-of", "csv=p=0"])
            .arg(path),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(','))
        .filter(|(_, flags)| flags.starts_with('K'))
        .map(|(dts, _)| dts.parse().unwrap())
        .collect()
}

fn seconds_header(head: &str, name: &str) -> f64 {
    header(head, name)
        .unwrap_or_else(|| panic!("no {name}: {head}"))
        .parse()
        .unwrap()
}

/// A server recording FLV and MP4 in `dir`/rec; `clip` published to live/cam at full speed.
/// Returns the server and both finished files.
fn record_both(dir: &TempDir, clip: &Path) -> (ServerProcess, Vec<std::path::PathBuf>) {
    let records = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        records.to_str().unwrap(),
        "--record-format",
        "flv",
        "--record-format",
        "mp4",
    ]);
    let mut ffmpeg = ffmpeg_publish(clip, &server.url("live/cam"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let files = wait_recordings_closed(&server, "cam", 2);
    (server, files)
}

#[test]
fn flv_recordings_are_sent_as_mp4_whole_and_in_ranges() {
    let dir = TempDir::new("playback-mp4");
    // 10 s, a keyframe every second (15 fps, GOP 15).
    let clip = make_clip(dir.path(), "source.flv", 10);
    let (server, files) = record_both(&dir, &clip);
    let api = api_addr(&server);
    let flv = files.iter().find(|f| f.extension().unwrap() == "flv").unwrap();
    let mp4 = files.iter().find(|f| f.extension().unwrap() == "mp4").unwrap();
    let flv_name = flv.file_name().unwrap().to_str().unwrap();
    let mp4_name = mp4.file_name().unwrap().to_str().unwrap();
    let source_lines = framemd5(&clip);
    let source = packets(&source_lines);

    // The whole file: the source's packets exactly, the recording's duration in the moov.
    let (head, whole) = save(
        api,
        &format!("/recordings/{flv_name}?format=mp4"),
        dir.path(),
        "whole.mp4",
    );
    assert_eq!(framemd5(&whole), source_lines, "packets, sizes, hashes and timestamps");
    assert_eq!(ffprobe_streams(&whole), ["video", "audio"]);
    assert_eq!(decode_errors(&whole), "", "decodes cleanly");
    assert_eq!(seconds_header(&head, "X-Range-Start"), 0.0);
    let duration = seconds_header(&head, "X-Range-Duration");
    let last_dts = source.iter().map(|p| p.1).max().unwrap() as f64 / 1000.0;
    assert!(
        duration >= last_dts && duration <= last_dts + 0.2,
        "duration {duration} s, last dts {last_dts} s"
    );
    let probed = ffprobe_duration(&whole);
    assert!(
        (probed - duration).abs() <= 0.1,
        "ffprobe {probed} s, moov {duration} s"
    );

    // A range: from the keyframe at 4 s (the one before 4.5 s) to 7.5 s.
    let (head, cut) = save(
        api,
        &format!("/recordings/{flv_name}?format=mp4&start=4.5&duration=3"),
        dir.path(),
        "cut.mp4",
    );
    let first = seconds_header(&head, "X-Range-Start");
    let video = of_stream(&source, 0);
    let keyframe = keyframe_dts(&clip)
        .into_iter()
        .filter(|dts| *dts <= 4500)
        .max()
        .unwrap();
    assert!(video.iter().any(|p| p.1 == keyframe));
    assert_eq!(
        (first * 1000.0).round() as i64,
        keyframe,
        "starts at the keyframe before 4.5 s"
    );
    assert!((seconds_header(&head, "X-Range-Duration") - (7.5 - first)).abs() < 0.002);
    let got = packets(&framemd5(&cut));
    for stream in [0, 1] {
        let want: Vec<Packet> = of_stream(&source, stream)
            .into_iter()
            .filter(|p| p.1 >= keyframe && p.1 < 7500)
            .map(|(s, dts, pts, d, size, hash)| (s, dts - keyframe, pts - keyframe, d, size, hash))
            .collect();
        assert!(want.len() > 20, "stream {stream}: {} packets in the range", want.len());
        assert_eq!(
            of_stream(&got, stream),
            want,
            "stream {stream}: the range's packets, rebased"
        );
    }
    assert_eq!(
        decode_errors(&cut),
        "",
        "the range decodes cleanly (it starts at a keyframe)"
    );
    let probed = ffprobe_duration(&cut);
    assert!((probed - (7.5 - first)).abs() <= 0.1, "ffprobe duration {probed} s");

    // The MP4 recording's range: its whole fragments (cut at keyframes and every 500 ms)
    // from the same keyframe until one starts at or after 7.5 s.
    let (head, cut) = save(
        api,
        &format!("/recordings/{mp4_name}?format=mp4&start=4.5&duration=3"),
        dir.path(),
        "mp4cut.mp4",
    );
    // Time 0 is the fragment's earliest sample: the keyframe, or audio just before it.
    let base = (seconds_header(&head, "X-Range-Start") * 1000.0).round() as i64;
    assert!(
        (keyframe - 100..=keyframe).contains(&base),
        "{base} ms, keyframe {keyframe} ms"
    );
    let got = packets(&framemd5(&cut));
    assert_eq!(of_stream(&got, 0).first().map(|p| p.1), Some(keyframe - base));
    for stream in [0, 1] {
        let got = of_stream(&got, stream);
        let want: Vec<Packet> = of_stream(&source, stream)
            .into_iter()
            .filter(|p| p.1 >= base)
            .take(got.len())
            .map(|(s, dts, pts, d, size, hash)| (s, dts - base, pts - base, d, size, hash))
            .collect();
        assert_eq!(
            got, want,
            "stream {stream}: a run of the source's packets from the keyframe"
        );
        let last = got.last().unwrap().1 + base;
        assert!((7400..8000).contains(&last), "stream {stream} ends at {last} ms");
    }
    assert_eq!(decode_errors(&cut), "", "the MP4 range decodes cleanly");

    // HEAD: the answer's head only. An MP4 recording asked for as MP4 is the file itself.
    let (status, head, body) = fetch(api, "HEAD", &format!("/recordings/{flv_name}?format=mp4"), &[]);
    assert_eq!((status, body.len()), (200, 0), "{head}");
    assert_eq!(header(&head, "Content-Type").as_deref(), Some("video/mp4"));
    let (status, _, body) = fetch(api, "GET", &format!("/recordings/{mp4_name}?format=mp4"), &[]);
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(mp4).unwrap());

    for (query, want) in [
        ("format=webm", 400),
        ("start=3", 400),
        ("format=mp4&start=-1", 400),
        ("format=mp4&duration=0", 400),
        ("format=mp4&start=60", 416),
    ] {
        let (status, head, _) = fetch(api, "GET", &format!("/recordings/{flv_name}?{query}"), &[]);
        assert_eq!(status, want, "{query}: {head}");
    }
    let (status, _, _) = fetch(api, "GET", "/recordings/none.flv?format=mp4", &[]);
    assert_eq!(status, 404);
}

#[test]
fn chromium_plays_and_seeks_an_mp4_recording_and_plays_an_flv_one_as_mp4() {
    let dir = TempDir::new("playback-chromium");
    let clip = make_clip(dir.path(), "source.flv", 12);
    let (server, files) = record_both(&dir, &clip);
    let api = api_addr(&server);
    let name = |ext: &str| {
        let file = files.iter().find(|f| f.extension().unwrap() == ext).unwrap();
        file.file_name().unwrap().to_str().unwrap().to_owned()
    };
    let duration = ffprobe_duration(&clip);
    let (ok, output) = run_browser_script(
        "recordings.py",
        &[
            "--mp4".into(),
            format!("http://{api}/recordings/{}", name("mp4")),
            "--flv-as-mp4".into(),
            format!("http://{api}/recordings/{}?format=mp4", name("flv")),
            "--width".into(),
            "320".into(),
            "--gop".into(),
            "1".into(),
            "--duration".into(),
            duration.to_string(),
        ],
    );
    assert!(ok, "{output}");
    assert!(output.contains("recordings check passed"), "{output}");
    eprintln!("{output}");
}
