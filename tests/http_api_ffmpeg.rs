//! The HTTP API checked field by field while real FFmpeg publishes a 320x240 H.264 + AAC
//! clip in real time, with a player attached and the stream recorded: picture size, codec
//! names, bitrate, publisher address, players, the recording file and its bytes against
//! the disk, and the recording counters in /metrics before and after the publisher leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, parse_prometheus, HttpReply};
use common::log_contract::*;
use common::{make_clip, wait_child, ServerProcess, DEADLINE};
use rtmp_server::client::{PlayEvent, RtmpClient};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Long enough to check everything while FFmpeg still publishes (it publishes in real time).
const CLIP_SECONDS: u32 = 12;
const AUTH: &str = "Authorization: Bearer ffmpeg-test-token";

fn get(api: SocketAddr, path: &str) -> HttpReply {
    let reply = http_request(api, "GET", path, &[AUTH]);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply
}

/// The one stream /api/streams lists.
fn the_stream(api: SocketAddr) -> serde_json::Value {
    let json = get(api, "/api/streams").json();
    let streams = json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{json}");
    streams[0].clone()
}

fn metrics(api: SocketAddr) -> std::collections::HashMap<String, f64> {
    parse_prometheus(&get(api, "/metrics").body)
}

/// Polls the stream until `ready` holds (panics with the last answer after the deadline).
fn stream_when(api: SocketAddr, what: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stream = the_stream(api);
        if ready(&stream) {
            return stream;
        }
        assert!(Instant::now() < deadline, "{what} not reached; last answer {stream}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn api_answers_checked_field_by_field_while_ffmpeg_publishes() {
    let dir = common::TempDir::new("api-ffmpeg");
    let clip = make_clip(dir.path(), "clip.flv", CLIP_SECONDS);
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, "ffmpeg-test-token\n").unwrap();
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--http-token-file",
        token_file.to_str().unwrap(),
    ]);
    let api = api_addr(&server);
    let before = metrics(api);
    assert_eq!(before["rtmp_recordings_active"], 0.0);
    assert_eq!(before["rtmp_recordings_finished_total"], 0.0);

    let published_at = unix_now();
    let mut ffmpeg = common::ffmpeg_publish(&clip, &server.url("live/cam"), true);
    common::wait_until("ffmpeg publishes", DEADLINE, || {
        let json = get(api, "/api/streams").json();
        json["streams"]
            .as_array()
            .is_some_and(|all| all.iter().any(|s| s["publishing"] == true))
    });
    let addr = server.addr;
    // The player stays (a waiting player keeps the stream listed) until told to leave.
    let (leave, leave_rx) = std::sync::mpsc::channel::<()>();
    let player = std::thread::spawn(move || {
        let mut player = RtmpClient::connect(addr, "live", DEADLINE).unwrap();
        player.play("cam").unwrap();
        let mut media = 0u32;
        loop {
            match player.read_play_event() {
                Ok(PlayEvent::Media(_)) => media += 1,
                Ok(PlayEvent::Status(code)) if code == "NetStream.Play.UnpublishNotify" => {
                    leave_rx.recv_timeout(DEADLINE).unwrap();
                    return media;
                }
                Ok(PlayEvent::Status(_)) => {}
                Err(e) => panic!("player failed after {media} messages: {e}"),
            }
        }
    });

    // Once the player is in, the bitrate window holds a few seconds and a file is flushed.
    let s = stream_when(api, "player, picture size, bitrate and recorded bytes", |s| {
        s["players"] == 1
            && s["width"].is_u64()
            && s["recording_bytes"].as_u64().is_some_and(|b| b > 0)
            && s["started_unix"].as_u64().is_some_and(|t| unix_now() >= t + 3)
    });
    assert_eq!(s["app"], "live");
    assert_eq!(s["stream"], "cam");
    assert_eq!(s["publishing"], true);
    let publisher = s["publisher_addr"].as_str().unwrap();
    assert!(publisher.starts_with("127.0.0.1:"), "{publisher}");
    let started = s["started_unix"].as_u64().unwrap();
    assert!(
        (published_at.saturating_sub(1)..=unix_now()).contains(&started),
        "{started}"
    );
    assert_eq!(s["video_codec"], "h264");
    assert_eq!(s["audio_codec"], "aac");
    assert_eq!(s["video_codec_id"], 7);
    assert_eq!(s["audio_codec_id"], 10);
    assert_eq!((s["width"].as_u64(), s["height"].as_u64()), (Some(320), Some(240)));
    assert!(s["frames"].as_u64().unwrap() > 0 && s["bytes"].as_u64().unwrap() > 0);

    // The clip's own average bitrate (file bytes over its duration) bounds what is plausible.
    let clip_bps = std::fs::metadata(&clip).unwrap().len() * 8 / u64::from(CLIP_SECONDS);
    let bitrate = s["bitrate_bps"].as_u64().unwrap();
    assert!(
        (clip_bps / 3..=clip_bps * 3).contains(&bitrate),
        "bitrate {bitrate} bit/s, clip average {clip_bps} bit/s"
    );

    // The recording: a .part file under the record dir, at least as long as the bytes shown.
    assert_eq!(s["recording"], true);
    let file = PathBuf::from(s["recording_file"].as_str().unwrap());
    assert!(file.starts_with(&record_dir), "{file:?}");
    assert!(file.to_str().unwrap().ends_with(".flv.part"), "{file:?}");
    let shown = s["recording_bytes"].as_u64().unwrap();
    let on_disk = std::fs::metadata(&file).unwrap().len();
    assert!(shown <= on_disk, "API says {shown} bytes, disk has {on_disk}");
    let later = stream_when(api, "recorded bytes growing", |s| {
        s["recording_bytes"].as_u64().is_some_and(|b| b > shown)
    });
    assert_eq!(later["recording_file"], s["recording_file"], "same file, no rotation");
    let grown = later["recording_bytes"].as_u64().unwrap();
    eprintln!("bitrate {bitrate} bit/s (clip average {clip_bps}), recorded bytes {shown} then {grown}, disk {on_disk}");
    assert!(grown <= std::fs::metadata(&file).unwrap().len());

    let live = metrics(api);
    assert_eq!(live["rtmp_recordings_active"], 1.0);
    assert_eq!(live["rtmp_recordings_finished_total"], 0.0);
    assert_eq!(live["rtmp_recordings_failed_total"], 0.0);
    assert_eq!(live["rtmp_publishers"], 1.0);
    assert_eq!(live["rtmp_players"], 1.0);
    let stream_bitrate = live["rtmp_stream_bitrate_bits_per_second{app=\"live\",stream=\"cam\"}"];
    assert!(
        (clip_bps as f64 / 3.0..=clip_bps as f64 * 3.0).contains(&stream_bitrate),
        "{stream_bitrate}"
    );

    // The publisher leaves: the file is finalized and counted; the API shows no recording.
    let status = wait_child(&mut ffmpeg, DEADLINE);
    assert!(status.success(), "ffmpeg failed: {status}");
    let closed = server.wait_for_log(&format!("{RECORDER_CLOSED} app=live stream=cam "), DEADLINE);
    let final_file = PathBuf::from(common::field(&closed, "file").unwrap());
    assert_eq!(final_file.with_extension("flv.part"), file);
    let final_bytes = std::fs::metadata(&final_file).unwrap().len();
    assert!(grown <= final_bytes);
    // The writer finalizes on its own thread: the publish may end just after the file.
    common::wait_until("publish ended", DEADLINE, || metrics(api)["rtmp_publishers"] == 0.0);
    let after = metrics(api);
    assert_eq!(after["rtmp_recordings_active"], 0.0);
    assert_eq!(after["rtmp_recordings_finished_total"], 1.0);
    assert_eq!(after["rtmp_recordings_failed_total"], 0.0);
    let s = the_stream(api);
    assert_eq!(s["publishing"], false);
    assert_eq!(s["players"], 1, "the player waits for the next publish");
    assert_eq!(s["bitrate_bps"], 0);
    assert!(s["recording_file"].is_null() && s["recording_bytes"].is_null(), "{s}");

    leave.send(()).unwrap();
    let media = player.join().unwrap();
    assert!(media > 0, "the player received media");
    // Nobody uses the stream any more: it is forgotten.
    common::wait_until("stream forgotten", DEADLINE, || {
        get(api, "/api/streams").json()["streams"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    // Bytes out count the media the player got (sent by its writer thread or directly by
    // the publisher's thread), not only session replies: the player joined a second or two
    // in, from a keyframe, so it got well over half of what was recorded.
    common::wait_until("bytes out counting the player's media", DEADLINE, || {
        metrics(api)["rtmp_bytes_out_total"] >= final_bytes as f64 / 2.0
    });
}
