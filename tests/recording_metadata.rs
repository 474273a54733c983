//! Integration: recordings carry a finalized onMetaData (flvmeta --check clean, ffprobe
//! duration = last timestamp, keyframe index pointing at keyframe tags), start clean, have
//! header flags matching audio-only/video-only content, and survive timestamp jumps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::metadata::parse_onmetadata;
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::amf0::Amf0Value;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

fn record_server(dir: &TempDir, extra: &[&str]) -> ServerProcess {
    let record_dir = dir.path().join("rec");
    let mut args = vec!["--record-all", "--record-dir", record_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

fn publish_and_wait(server: &ServerProcess, clip: &Path, stream: &str) -> std::path::PathBuf {
    let mut ffmpeg = ffmpeg_publish(clip, &server.url(&format!("live/{stream}")), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success(), "ffmpeg publish");
    wait_recording_closed(server, stream)
}

fn metadata(bytes: &[u8]) -> Vec<(String, Amf0Value)> {
    let (_, tags) = read_all(bytes).unwrap();
    assert_eq!(tags[0].tag_type, 18, "onMetaData is the first tag");
    assert_eq!(tags[0].timestamp, 0);
    parse_onmetadata(tags[0].body, 16).expect("first tag is onMetaData")
}

fn get<'a>(fields: &'a [(String, Amf0Value)], key: &str) -> &'a Amf0Value {
    &fields
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .1
}

fn numbers(value: Option<&Amf0Value>) -> Vec<f64> {
    match value {
        Some(Amf0Value::StrictArray(items)) => items.iter().map(|v| v.as_number().unwrap()).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Last audio/video timestamp of a file (ms).
fn last_media_timestamp(bytes: &[u8]) -> u32 {
    let (_, tags) = read_all(bytes).unwrap();
    tags.iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| t.timestamp)
        .max()
        .unwrap()
}

#[test]
fn recording_passes_flvmeta_check_with_exact_duration_and_a_keyframe_index() {
    let dir = TempDir::new("meta-av");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let server = record_server(&dir, &[]);
    let path = publish_and_wait(&server, &clip, "meta");
    let report = flvmeta_check(&path);
    eprintln!("flvmeta --check: {report}");
    let bytes = std::fs::read(&path).unwrap();
    let fields = metadata(&bytes);
    let last = last_media_timestamp(&bytes);
    assert_eq!(get(&fields, "duration").as_number(), Some(f64::from(last) / 1000.0));
    assert_eq!(get(&fields, "filesize").as_number(), Some(bytes.len() as f64));
    assert_eq!(get(&fields, "hasVideo").as_bool(), Some(true));
    assert_eq!(get(&fields, "hasAudio").as_bool(), Some(true));
    assert_eq!(get(&fields, "width").as_number(), Some(320.0), "publisher fields kept");
    let probed = ffprobe_duration(&path);
    assert!(
        (probed - f64::from(last) / 1000.0).abs() < 0.0015,
        "ffprobe duration {probed} vs last timestamp {last} ms"
    );
    let keyframes = get(&fields, "keyframes");
    let times = numbers(keyframes.get("times"));
    let positions = numbers(keyframes.get("filepositions"));
    assert_eq!(times.len(), positions.len());
    assert!(times.len() >= 4, "one keyframe per second: {times:?}");
    let (_, tags) = read_all(&bytes).unwrap();
    for (time, position) in times.iter().zip(&positions) {
        let p = *position as usize;
        assert_eq!(bytes[p], 9, "index entry at {p} is a video tag");
        assert_eq!(bytes[p + 11] >> 4, 1, "index entry at {p} is a keyframe");
        let ts = u32::from_be_bytes([bytes[p + 7], bytes[p + 4], bytes[p + 5], bytes[p + 6]]);
        assert_eq!(f64::from(ts) / 1000.0, *time);
    }
    let keyframe_timestamps: Vec<u32> = tags
        .iter()
        .filter(|t| t.tag_type == 9 && t.body[0] >> 4 == 1)
        .map(|t| t.timestamp)
        .collect();
    let mut distinct = keyframe_timestamps.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), times.len(), "every keyframe time is indexed");
    assert_eq!(framemd5(&path), framemd5(&clip), "packet-identical to the source");
    assert_eq!(decode_errors(&path), "");
}

#[test]
fn audio_only_and_video_only_publishes_have_matching_flags_and_metadata() {
    let dir = TempDir::new("meta-single");
    let audio = make_single_track_clip(dir.path(), "audio.flv", 3, false);
    let video = make_single_track_clip(dir.path(), "video.flv", 3, true);
    let server = record_server(&dir, &[]);
    for (clip, stream, has_audio, has_video) in [(&audio, "audio", true, false), (&video, "video", false, true)] {
        let path = publish_and_wait(&server, clip, stream);
        flvmeta_check(&path);
        let bytes = std::fs::read(&path).unwrap();
        let (header, _) = read_all(&bytes).unwrap();
        assert_eq!(
            (header.has_audio, header.has_video),
            (has_audio, has_video),
            "{stream} flags"
        );
        let fields = metadata(&bytes);
        assert_eq!(get(&fields, "hasAudio").as_bool(), Some(has_audio));
        assert_eq!(get(&fields, "hasVideo").as_bool(), Some(has_video));
        assert_eq!(ffprobe_streams(&path), ffprobe_streams(clip));
        assert_eq!(framemd5(&path), framemd5(clip), "{stream} packet-identical");
        let last = last_media_timestamp(&bytes);
        assert!((ffprobe_duration(&path) - f64::from(last) / 1000.0).abs() < 0.0015);
    }
}

fn video(key: bool, n: u32) -> Vec<u8> {
    let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
    body.extend((0..200 + n % 50).map(|b| (b ^ n) as u8));
    body
}

const VIDEO_HEADER: &[u8] = &[0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f];
const AUDIO_HEADER: &[u8] = &[0xAF, 0x00, 0x12, 0x10];

/// Sends `seconds` of 25 fps video (keyframe each second) and audio from `start` ms.
fn send_span(client: &mut RtmpClient, start: u32, seconds: u32) -> usize {
    client.send_frame(FrameKind::Video, start, VIDEO_HEADER).unwrap();
    client.send_frame(FrameKind::Audio, start, AUDIO_HEADER).unwrap();
    for i in 0..seconds * 25 {
        client
            .send_frame(FrameKind::Video, start + i * 40, &video(i % 25 == 0, i))
            .unwrap();
        client
            .send_frame(FrameKind::Audio, start + i * 40 + 5, &[0xAF, 1, i as u8])
            .unwrap();
    }
    (seconds * 50) as usize
}

#[test]
fn timestamp_jumps_back_and_far_forward_are_rebased_and_the_file_never_goes_back() {
    let dir = TempDir::new("meta-jump");
    let server = record_server(&dir, &[]);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("jump").unwrap();
    // Encoders announce the picture size; flvmeta --check requires it in onMetaData.
    let mut body = Vec::new();
    rtmp_server::protocol::amf0::encode(&Amf0Value::String("onMetaData".into()), &mut body);
    rtmp_server::protocol::amf0::encode(
        &rtmp_server::protocol::amf0::ecma_array(&[("width", 320.0.into()), ("height", 240.0.into())]),
        &mut body,
    );
    client.send_frame(FrameKind::Data, 0, &body).unwrap();
    let mut media = send_span(&mut client, 5_000, 2);
    media += send_span(&mut client, 0, 1); // encoder restart: back to 0
    media += send_span(&mut client, 90_000, 1); // forward by more than 10 s
    client.flush().unwrap();
    client.unpublish().unwrap();
    let path = wait_recording_closed(&server, "jump");
    let lines = server.log_lines();
    let jumps = lines.iter().filter(|l| l.contains(TIMESTAMP_REBASED)).count();
    assert!(jumps >= 2, "rebases logged: {jumps}");
    let bytes = std::fs::read(&path).unwrap();
    let (_, tags) = read_all(&bytes).unwrap();
    let media_tags: Vec<_> = tags.iter().filter(|t| t.tag_type != 18 && t.body[1] != 0).collect();
    assert_eq!(media_tags.len(), media, "every frame recorded");
    for kind in [8u8, 9] {
        let stamps: Vec<u32> = tags
            .iter()
            .filter(|t| t.tag_type == kind)
            .map(|t| t.timestamp)
            .collect();
        assert!(
            stamps.windows(2).all(|w| w[0] <= w[1]),
            "track {kind} never goes back: {stamps:?}"
        );
    }
    let last = last_media_timestamp(&bytes);
    assert!((3_800..4_200).contains(&last), "4 s of media, no 85 s hole: {last}");
    flvmeta_check(&path);
}

#[test]
fn a_mid_gop_start_begins_at_the_first_keyframe_unless_record_from_any_frame() {
    for (any_frame, expected_video) in [(false, 26usize), (true, 31)] {
        let dir = TempDir::new("meta-midgop");
        let extra: &[&str] = if any_frame { &["--record-from-any-frame"] } else { &[] };
        let server = record_server(&dir, extra);
        let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
        client.publish("midgop").unwrap();
        client.send_frame(FrameKind::Video, 0, VIDEO_HEADER).unwrap();
        for i in 0..31u32 {
            // Five inter frames, then a keyframe every 25.
            let key = i >= 5 && (i - 5) % 25 == 0;
            client.send_frame(FrameKind::Video, i * 40, &video(key, i)).unwrap();
        }
        client.flush().unwrap();
        client.unpublish().unwrap();
        let path = wait_recording_closed(&server, "midgop");
        let bytes = std::fs::read(&path).unwrap();
        let (_, tags) = read_all(&bytes).unwrap();
        let frames: Vec<_> = tags.iter().filter(|t| t.tag_type == 9 && t.body[1] == 1).collect();
        assert_eq!(frames.len(), expected_video, "any_frame={any_frame}");
        assert_eq!(frames[0].timestamp, 0, "the file starts at 0");
        if !any_frame {
            assert_eq!(frames[0].body[0], 0x17, "the first frame is a keyframe");
        }
    }
}

#[test]
fn without_publisher_metadata_the_picture_size_comes_from_the_sequence_header() {
    let dir = TempDir::new("meta-nosize");
    let server = record_server(&dir, &[]);
    let clip = include_bytes!("fixtures/clip2s.flv");
    let (_, tags) = read_all(clip).unwrap();
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish("nosize").unwrap();
    for tag in tags.iter().filter(|t| t.tag_type != 18) {
        let kind = if tag.tag_type == 8 {
            FrameKind::Audio
        } else {
            FrameKind::Video
        };
        client.send_frame(kind, tag.timestamp, tag.body).unwrap();
    }
    client.unpublish().unwrap();
    let path = wait_recording_closed(&server, "nosize");
    flvmeta_check(&path);
    let fields = metadata(&std::fs::read(&path).unwrap());
    assert_eq!(get(&fields, "width").as_number(), Some(160.0));
    assert_eq!(get(&fields, "height").as_number(), Some(120.0));
}
