//! Integration: HEVC, AV1, VP9 and Opus published as Enhanced RTMP (FourCC) by the project's
//! client, from media FFmpeg makes into fragmented MP4 (Debian's FFmpeg cannot write E-RTMP
//! FLV), and recorded as MP4: ffprobe names each codec, a full decode is clean, and every
//! packet of each stream equals the source's (size and hash, in order).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Makes a fragmented MP4 with FFmpeg from lavfi sources (`video`/`audio`: encoder args):
/// encoded into Matroska first, then copied into MP4 with an empty `moov` (every sample in a
/// fragment), so encoders that put their configuration in-band (libaom) have it in the
/// `moov` too.
fn make_media(dir: &Path, name: &str, video: &[&str], audio: Option<&[&str]>) -> PathBuf {
    require_tool("ffmpeg");
    let encoded = dir.join(format!("{name}.mkv"));
    let mut command = Command::new("ffmpeg");
    command.args([
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=15:duration=2",
    ]);
    if audio.is_some() {
        command.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"]);
    }
    command.args(video).args(["-pix_fmt", "yuv420p"]);
    if let Some(audio) = audio {
        command.args(audio).arg("-shortest");
    }
    run_ok(command.arg(&encoded));
    let path = dir.join(name);
    run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&encoded)
            .args([
                "-c",
                "copy",
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "-f",
                "mp4",
            ])
            .arg(&path),
    );
    path
}

fn codec_names(path: &Path) -> Vec<String> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// (stream, size, hash) of each packet of one stream.
fn stream_packets(path: &Path, stream: &str) -> Vec<String> {
    packet_hashes(&framemd5(path))
        .into_iter()
        .filter(|l| l.split(',').next() == Some(stream))
        .collect()
}

fn publish_and_record(media: &Path, stream: &str, codecs: &[&str]) {
    let dir = TempDir::new(&format!("mp4-codec-{stream}"));
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-format",
        "mp4",
    ]);
    let mut client = RtmpClient::connect(server.addr, "live", Duration::from_secs(30)).unwrap();
    client.publish(stream).unwrap();
    let sent = client.send_mp4(&std::fs::read(media).unwrap()).unwrap();
    assert!(sent > 10, "{sent} frames");
    client.unpublish().unwrap();
    let file = wait_recording_closed(&server, stream);
    assert!(file.to_str().unwrap().ends_with(".mp4"), "{}", file.display());
    assert_eq!(codec_names(&file), codecs, "{}", file.display());
    assert_eq!(decode_errors(&file), "", "{} decodes cleanly", file.display());
    for (index, _) in codecs.iter().enumerate() {
        let stream = index.to_string();
        assert_eq!(
            stream_packets(&file, &stream),
            stream_packets(media, &stream),
            "stream {stream}: every packet"
        );
    }
}

#[test]
fn hevc_and_opus_from_the_client_record_as_mp4() {
    let dir = TempDir::new("mp4-media-hevc");
    let video = [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "keyint=15:log-level=error",
        "-tag:v",
        "hvc1",
    ];
    let media = make_media(
        dir.path(),
        "hevc.mp4",
        &video,
        Some(&["-c:a", "libopus", "-b:a", "64k"]),
    );
    publish_and_record(&media, "hevc", &["hevc", "opus"]);
}

#[test]
fn av1_from_the_client_records_as_mp4() {
    let dir = TempDir::new("mp4-media-av1");
    let video = ["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1", "-g", "15"];
    let media = make_media(dir.path(), "av1.mp4", &video, None);
    publish_and_record(&media, "av1", &["av1"]);
}

#[test]
fn vp9_from_the_client_records_as_mp4() {
    let dir = TempDir::new("mp4-media-vp9");
    let video = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-g", "15"];
    let media = make_media(dir.path(), "vp9.mp4", &video, None);
    publish_and_record(&media, "vp9", &["vp9"]);
}
