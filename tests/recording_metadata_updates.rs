//! Integration: a publisher that resends `@setDataFrame onMetaData` mid-stream (GStreamer's
//! flvmux, hardware encoders) gets one onMetaData in its recording, the reserved one, with
//! the updates merged in; other script data (onCuePoint) is still recorded in order, and
//! FFmpeg sees no phantom script-data stream made of repeated onMetaData tags.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::*;
use rtmp_server::client::RtmpClient;
use rtmp_server::flv::metadata::{is_reserved, parse_onmetadata};
use rtmp_server::flv::reader::read_all;
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::amf0::{self, Amf0Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Media time between two onMetaData resends.
const RESEND_EVERY_MS: u32 = 300;
/// Media time of the one onCuePoint.
const CUE_AT_MS: u32 = 1500;

fn script(name: &str, fields: Vec<(&str, Amf0Value)>) -> Vec<u8> {
    let mut body = Vec::new();
    amf0::encode(&Amf0Value::String(name.into()), &mut body);
    let fields = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    amf0::encode(&Amf0Value::EcmaArray(fields), &mut body);
    body
}

/// The n-th onMetaData a publisher sends: the clip's own fields on the first, then an
/// update counter and a title that appears mid-stream, plus OBS's `fileSize: 0`.
fn metadata_update(n: u32) -> Vec<u8> {
    let mut fields = vec![
        ("width", Amf0Value::Number(320.0)),
        ("height", Amf0Value::Number(240.0)),
        ("fileSize", Amf0Value::Number(0.0)),
        ("resends", Amf0Value::Number(f64::from(n))),
    ];
    if n >= 3 {
        fields.push(("title", Amf0Value::String("late title".into())));
    }
    script("onMetaData", fields)
}

/// Every packet ffprobe reports, as "codec_type,pts_time".
fn probe_packets(path: &Path) -> Vec<String> {
    let output = run_ok(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "packet=codec_type,pts_time",
                "-of",
                "csv=p=0",
            ])
            .arg(path),
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Publishes the clip's media as `stream` with the project's client, resending onMetaData
/// every [`RESEND_EVERY_MS`] (and one onCuePoint at [`CUE_AT_MS`] when `cue`); returns the
/// finalized recording and how many onMetaData were sent.
fn publish_with_resends(server: &ServerProcess, clip: &[u8], stream: &str, cue: bool) -> (PathBuf, u32) {
    let (_, tags) = read_all(clip).unwrap();
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish(stream).unwrap();
    let mut resends = 0u32;
    let mut next_resend = 0u32;
    let mut cue_pending = cue;
    for tag in tags.iter().filter(|t| t.tag_type != 18) {
        while tag.timestamp >= next_resend {
            client
                .send_frame(FrameKind::Data, next_resend, &metadata_update(resends))
                .unwrap();
            resends += 1;
            next_resend += RESEND_EVERY_MS;
        }
        if cue_pending && tag.timestamp >= CUE_AT_MS {
            let cue = script(
                "onCuePoint",
                vec![
                    ("name", Amf0Value::String("chapter-2".into())),
                    ("time", Amf0Value::Number(f64::from(CUE_AT_MS) / 1000.0)),
                ],
            );
            client.send_frame(FrameKind::Data, tag.timestamp, &cue).unwrap();
            cue_pending = false;
        }
        let kind = if tag.tag_type == 8 {
            FrameKind::Audio
        } else {
            FrameKind::Video
        };
        client.send_frame(kind, tag.timestamp, tag.body).unwrap();
    }
    client.flush().unwrap();
    client.unpublish().unwrap();
    assert!(resends >= 10, "the publisher resent onMetaData {resends} times");
    (wait_recording_closed(server, stream), resends)
}

/// Checks the file's one onMetaData (the reserved tag) carries the merged updates; returns
/// the file's tags' (type, timestamp, body).
fn check_merged_metadata(path: &Path, resends: u32) -> Vec<(u8, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, recorded) = read_all(&bytes).unwrap();
    let metadata: Vec<_> = recorded
        .iter()
        .filter(|t| t.tag_type == 18)
        .filter_map(|t| parse_onmetadata(t.body, 16))
        .collect();
    assert_eq!(metadata.len(), 1, "exactly one onMetaData tag in the file");
    let fields = &metadata[0];
    assert!(is_reserved(fields), "the one onMetaData is the reserved, refreshed tag");
    assert_eq!(recorded[0].tag_type, 18, "and it is the first tag");
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(
        get("resends"),
        Some(Amf0Value::Number(f64::from(resends - 1))),
        "the last update is merged"
    );
    assert_eq!(
        get("title"),
        Some(Amf0Value::String("late title".into())),
        "a field first sent mid-stream is merged"
    );
    assert_eq!(get("width"), Some(Amf0Value::Number(320.0)));
    assert_eq!(get("filesize"), Some(Amf0Value::Number(bytes.len() as f64)));
    assert!(
        !fields.iter().any(|(k, _)| k == "fileSize"),
        "the publisher's fileSize is dropped next to the computed filesize"
    );
    assert_eq!(decode_errors(path), "");
    recorded
        .iter()
        .map(|t| (t.tag_type, t.timestamp, t.body.to_vec()))
        .collect()
}

/// Packets ffprobe reports that are neither audio nor video, as "codec_type,pts_time".
fn script_packets(path: &Path) -> Vec<String> {
    probe_packets(path)
        .into_iter()
        .filter(|p| !p.starts_with("video") && !p.starts_with("audio"))
        .collect()
}

#[test]
fn resent_onmetadata_is_merged_into_the_reserved_tag_and_cue_points_stay_in_order() {
    let dir = TempDir::new("meta-updates");
    let clip = std::fs::read(make_clip(dir.path(), "clip.flv", 4)).unwrap();
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);

    // Resends only: FFmpeg shows video and audio, no phantom subtitle stream (each resend at
    // a timestamp past 0 used to become a packet of a `text` subtitle stream).
    let (path, resends) = publish_with_resends(&server, &clip, "resends", false);
    let tags = check_merged_metadata(&path, resends);
    assert_eq!(
        tags.iter().filter(|t| t.0 == 18).count(),
        1,
        "no script tag but the reserved one"
    );
    assert_eq!(ffprobe_streams(&path), ["video", "audio"]);
    assert_eq!(script_packets(&path), Vec::<String>::new());

    // Resends and a cue point: the cue point is kept, once, between the media around its
    // time; it is the only script packet FFmpeg sees.
    let (path, resends) = publish_with_resends(&server, &clip, "cue", true);
    let tags = check_merged_metadata(&path, resends);
    let scripts: Vec<usize> = (0..tags.len()).filter(|&i| tags[i].0 == 18).collect();
    assert_eq!(scripts.len(), 2, "the reserved onMetaData and the onCuePoint");
    let cue = scripts[1];
    assert_eq!(tags[cue].2.get(3..13), Some(b"onCuePoint".as_slice()));
    let before = tags[..cue].iter().rev().find(|t| t.0 != 18).unwrap();
    let after = tags[cue + 1..].iter().find(|t| t.0 != 18).unwrap();
    assert!(before.1 <= tags[cue].1 && tags[cue].1 <= after.1, "cue point in order");
    let packets = script_packets(&path);
    assert_eq!(packets.len(), 1, "only the cue point is a script packet: {packets:?}");
}
