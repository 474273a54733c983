//! Hostile and extreme timestamps: extended-timestamp lies (extended timestamps that jump
//! back, fmt 3 continuations with and without the repeated extended field) and a publisher
//! whose 32-bit timestamps wrap around. The publisher stays connected, its recording stays
//! valid, monotonic and packet-identical to the source, and players see continuous time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::client::{PlayEvent, RtmpClient, CLIENT_CHUNK_SIZE};
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::chunk::shared::basic_header;
use std::path::Path;

/// Audio and video chunk streams the crafted chunks use (the client's own are 6 and 7).
const AUDIO_CSID: u32 = 10;
const VIDEO_CSID: u32 = 11;
const DATA_CSID: u32 = 12;

/// (tag type, timestamp, body) of every tag of an FLV file.
fn clip_tags(path: &Path) -> Vec<(u8, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, tags) = rtmp_server::flv::reader::read_all(&bytes).unwrap();
    tags.iter()
        .map(|t| (t.tag_type, t.timestamp, t.body.to_vec()))
        .collect()
}

/// One message as a fmt 0 chunk with an extended timestamp, its continuation chunks
/// repeating the extended field or not.
fn extended_message(csid: u32, timestamp: u32, type_id: u8, body: &[u8], repeat_ext: bool, out: &mut Vec<u8>) {
    basic_header(0, csid, out);
    out.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    for (i, piece) in body.chunks(CLIENT_CHUNK_SIZE as usize).enumerate() {
        if i > 0 {
            basic_header(3, csid, out);
            if repeat_ext {
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
        }
        out.extend_from_slice(piece);
    }
}

/// Asserts the recording holds the clip's packets (content, order per stream) with
/// non-decreasing dts in each stream; returns its framemd5 lines.
fn assert_valid_and_identical(recording: &Path, clip: &Path) -> Vec<String> {
    let lines = framemd5(recording);
    assert_eq!(packet_hashes(&lines), packet_hashes(&framemd5(clip)));
    for stream in ["0", "1"] {
        let dts = packet_dts(&lines, stream);
        assert!(!dts.is_empty(), "stream {stream} missing");
        assert!(
            dts.windows(2).all(|w| w[0] <= w[1]),
            "stream {stream} goes back: {dts:?}"
        );
    }
    decode_errors(recording);
    lines
}

#[test]
fn extended_timestamp_lies_are_rebased_and_the_recording_stays_valid() {
    let guarded = GuardedServer::start("hostile-ts", 8, &["--record-reconnect-gap", "0"]);
    let server = &guarded.server;
    let clip = make_clip(guarded.dir.path(), "liar.flv", 4);
    let tags = clip_tags(&clip);
    let mut liar = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    liar.publish("liar").unwrap();
    let long = |parity: usize| {
        let chunk = CLIENT_CHUNK_SIZE as usize;
        tags.iter()
            .enumerate()
            .filter(|(i, t)| i % 2 == parity && t.2.len() > chunk)
            .count()
    };
    assert!(long(0) > 0 && long(1) > 0, "the clip needs long messages of both kinds");
    let base = 0x0200_0000u32;
    let half = tags.len() / 2;
    let mut bytes = Vec::new();
    for (i, (tag_type, timestamp, body)) in tags.iter().enumerate() {
        // Halfway, the extended timestamps jump back by 5 s.
        let shift = if i < half { base } else { base - 5000 };
        let csid = match tag_type {
            8 => AUDIO_CSID,
            9 => VIDEO_CSID,
            _ => DATA_CSID,
        };
        // Every other long message omits the repeated extended field (as some encoders do).
        extended_message(csid, shift + timestamp, *tag_type, body, i % 2 == 0, &mut bytes);
    }
    liar.send_raw(&bytes).unwrap();
    liar.round_trip().expect("the publisher was dropped");
    liar.unpublish().unwrap();
    let jump = server.wait_for_log(&format!("{TIMESTAMP_REBASED} app=live stream=liar"), DEADLINE);
    eprintln!("{jump}");
    let recording = wait_recording_closed(server, "liar");
    assert_valid_and_identical(&recording, &clip);
    assert_eq!(
        common::http::metric(server, "rtmp_protocol_errors_total"),
        0,
        "a connection was closed for a protocol error"
    );
    let rss = guarded.rss_kib();
    eprintln!("server RSS KiB after the lies: {rss}");
    assert!(rss < 256 * 1024);
    guarded.finish();
}

#[test]
fn timestamps_wrapping_past_2_pow_32_stay_continuous_for_recording_and_players() {
    let guarded = GuardedServer::start("hostile-wrap", 8, &[]);
    let server = &guarded.server;
    let clip = make_clip(guarded.dir.path(), "wrap.flv", 6);
    let tags = clip_tags(&clip);
    let mut player = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    player.play("wrap").unwrap();
    // The clip's time 3 s lands on the wrap: 2^32 - 3000 + 3000 = 0.
    let start = u32::MAX - 2999;
    let mut publisher = RtmpClient::connect(server.addr, "live", ATTACK_TIMEOUT).unwrap();
    publisher.publish("wrap").unwrap();
    for (tag_type, timestamp, body) in &tags {
        let kind = match tag_type {
            8 => FrameKind::Audio,
            9 => FrameKind::Video,
            _ => FrameKind::Data,
        };
        publisher
            .send_frame(kind, start.wrapping_add(*timestamp), body)
            .unwrap();
    }
    publisher.flush().unwrap();
    publisher.unpublish().unwrap();

    // The recording: the clip's frames and timestamps exactly, across the wrap.
    let recording = wait_recording_closed(server, "wrap");
    let lines = assert_valid_and_identical(&recording, &clip);
    assert_eq!(lines, framemd5(&clip), "timestamps differ from the source");
    assert!(
        !server.log_lines().iter().any(|l| l.contains(TIMESTAMP_REBASED)),
        "the wrap was taken for a discontinuity"
    );

    // The player: video timestamps rise through the wrap, spaced as published.
    let mut video = Vec::new();
    loop {
        match player.read_play_event().unwrap() {
            PlayEvent::Media(m) if m.type_id == 9 => video.push(m.timestamp),
            PlayEvent::Media(_) => {}
            PlayEvent::Status(code) if code == "NetStream.Play.UnpublishNotify" => break,
            PlayEvent::Status(_) => {}
        }
    }
    let sent: Vec<u32> = tags.iter().filter(|t| t.0 == 9).map(|t| t.1).collect();
    assert_eq!(video.len(), sent.len(), "player missed video frames");
    assert!(
        video.windows(2).all(|w| w[0] <= w[1]),
        "player time goes back: {video:?}"
    );
    let spacing = |ts: &[u32]| ts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
    assert_eq!(spacing(&video), spacing(&sent));
    let rss = guarded.rss_kib();
    assert!(rss < 256 * 1024, "RSS {rss} KiB");
    guarded.finish();
}
