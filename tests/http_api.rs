//! The HTTP API: /healthz, /api/streams field by field while a stream is live, /metrics as
//! Prometheus text (checked with a small parser), kick, JSON errors, and the bearer token.
//! (tests/http_api_ffmpeg.rs checks the API while FFmpeg publishes.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, parse_prometheus, wait_api_stream};
use common::log_contract::*;
use common::{field, ServerProcess, DEADLINE};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::net::SocketAddr;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.0 request without a token; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let reply = http_request(addr, method, path, &[]);
    (reply.status, reply.body)
}

#[test]
fn api_reports_live_streams_and_metrics_and_kicks_publishers() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    assert_eq!(http(api, "GET", "/healthz"), (200, r#"{"status":"ok"}"#.to_owned()));

    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("cam?key=secret").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    publisher
        .send_frame(FrameKind::Audio, 0, &[0xAF, 0, 0x12, 0x10])
        .unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 1, 0, 0, 0, 9, 9, 9])
        .unwrap();
    publisher.flush().unwrap();
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("cam").unwrap();
    wait_api_stream(&server, "live", "cam", |s| s["players"] == 1);
    // The API sees the frames once the server took them: a round trip on the publisher says so.
    publisher.round_trip().unwrap();

    let (status, body) = http(api, "GET", "/api/streams");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let streams = json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{body}");
    let s = &streams[0];
    assert_eq!(s["app"], "live");
    assert_eq!(s["stream"], "cam");
    assert_eq!(s["publishing"], true);
    assert_eq!(
        s["publisher_addr"],
        publisher.socket().local_addr().unwrap().to_string()
    );
    assert_eq!(s["video_codec_id"], 7);
    assert_eq!(s["audio_codec_id"], 10);
    assert_eq!(s["frames"], 3);
    assert_eq!(s["players"], 1);
    assert!(s["started_unix"].as_u64().unwrap() > 1_700_000_000);
    assert!(!body.contains("secret"), "stream key leaked: {body}");

    let (status, text) = http(api, "GET", "/metrics");
    assert_eq!(status, 200);
    let samples = parse_prometheus(&text);
    assert_eq!(samples["rtmp_publishers"], 1.0);
    assert_eq!(samples["rtmp_players"], 1.0);
    assert_eq!(samples["rtmp_connections"], 2.0);
    assert!(samples["rtmp_bytes_in_total"] > 0.0);
    assert_eq!(samples["rtmp_stream_bytes_total{app=\"live\",stream=\"cam\"}"], 19.0);

    let (status, body) = http(api, "POST", "/api/streams/live/cam/kick");
    assert_eq!(status, 200, "{body}");
    server.wait_for_log(&closed_for(reason::KICKED_BY_API), DEADLINE);
    assert_eq!(http(api, "POST", "/api/streams/live/none/kick").0, 404);
    let (status, body) = http(api, "GET", "/nope");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"], 404);
    assert_eq!(http(api, "POST", "/metrics").0, 405);
}

#[test]
fn api_and_metrics_report_the_disk_guard() {
    let server = ServerProcess::start(&["--record-min-free", "999999T"]);
    let api = api_addr(&server);
    let (status, body) = http(api, "GET", "/api/recording");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["disk_low"], true, "{body}");
    assert!(json["free_bytes"].as_u64().is_some());
    assert_eq!(
        parse_prometheus(&http(api, "GET", "/metrics").1)["rtmp_record_disk_low"],
        1.0
    );
}

/// Publishes video frames `from..to` (keyframe every 10, 40 ms apart), then waits until the
/// server has taken them (a command round trip).
fn publish_range(publisher: &mut RtmpClient, from: u32, to: u32) {
    for n in from..to {
        let body = vec![
            if n % 10 == 0 { 0x17 } else { 0x27 },
            1,
            0,
            0,
            0,
            (n >> 8) as u8,
            n as u8,
        ];
        publisher.send_frame(FrameKind::Video, n * 40, &body).unwrap();
    }
    publisher.round_trip().unwrap();
}

#[test]
fn record_start_and_stop_through_the_api_record_exactly_the_packets_between_from_a_keyframe() {
    let dir = common::TempDir::new("api-record");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-dir", record_dir.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("ondemand").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    publish_range(&mut publisher, 0, 25);
    assert_eq!(http(api, "POST", "/api/streams/live/ondemand/record/start").0, 202);
    publish_range(&mut publisher, 25, 57);
    assert_eq!(http(api, "POST", "/api/streams/live/ondemand/record/stop").0, 202);
    publish_range(&mut publisher, 57, 70);
    let line = server.wait_for_log(&format!("{RECORDER_CLOSED} app=live stream=ondemand "), DEADLINE);
    let bytes = std::fs::read(field(&line, "file").unwrap()).unwrap();
    let (_, tags) = rtmp_server::flv::reader::read_all(&bytes).unwrap();
    let video: Vec<&[u8]> = tags.iter().filter(|t| t.tag_type == 9).map(|t| t.body).collect();
    assert_eq!(video[0][1], 0, "the AVC sequence header comes first");
    let numbers: Vec<u32> = video[1..]
        .iter()
        .map(|b| u32::from(b[5]) << 8 | u32::from(b[6]))
        .collect();
    assert_eq!(
        numbers,
        (30..57).collect::<Vec<u32>>(),
        "from the first keyframe after start to the stop"
    );
    assert_eq!(http(api, "POST", "/api/streams/live/absent/record/start").0, 404);
    assert_eq!(http(api, "GET", "/api/streams/live/ondemand/record/start").0, 405);
}

#[test]
fn bearer_token_guards_every_route_but_healthz_and_reloads_on_sighup() {
    let dir = common::TempDir::new("api-token");
    let token_file = dir.path().join("api.token");
    std::fs::write(&token_file, "first-Token-7f3a\n# not part of the token\n").unwrap();
    let server = ServerProcess::start(&["--http-token-file", token_file.to_str().unwrap()]);
    let api = api_addr(&server);
    let right = "Authorization: Bearer first-Token-7f3a";

    assert_eq!(
        http_request(api, "GET", "/healthz", &[]).status,
        200,
        "healthz stays open"
    );
    for path in ["/api/streams", "/api/recording", "/metrics"] {
        for headers in [
            &[][..],
            &["Authorization: Bearer first-Token-7f3b"][..],
            &["Authorization: Bearer first-Token-7f3a-and-more"][..],
            &["Authorization: Basic first-Token-7f3a"][..],
        ] {
            let reply = http_request(api, "GET", path, headers);
            assert_eq!(reply.status, 401, "{path} with {headers:?}: {}", reply.body);
            assert_eq!(reply.json()["status"], 401);
            assert!(
                reply
                    .header("WWW-Authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{}",
                reply.headers
            );
        }
        assert_eq!(http_request(api, "GET", path, &[right]).status, 200, "{path}");
    }
    let kick = http_request(api, "POST", "/api/streams/live/none/kick", &[]);
    assert_eq!(kick.status, 401, "POST routes too");
    assert_eq!(
        http_request(api, "POST", "/api/streams/live/none/kick", &[right]).status,
        404
    );
    let metrics = parse_prometheus(&http_request(api, "GET", "/metrics", &[right]).body);
    assert_eq!(metrics["rtmp_http_auth_failures_total"], 13.0);

    // SIGHUP: a broken file keeps the token in use, a new one replaces it.
    std::fs::write(&token_file, "\n").unwrap();
    server.signal("HUP");
    server.wait_for_log(HTTP_TOKEN_RELOAD_FAILED, DEADLINE);
    assert_eq!(http_request(api, "GET", "/metrics", &[right]).status, 200);
    std::fs::write(&token_file, "second-Token-91c2").unwrap();
    server.signal("HUP");
    server.wait_for_log(HTTP_TOKEN_RELOADED, DEADLINE);
    assert_eq!(http_request(api, "GET", "/metrics", &[right]).status, 401);
    let second = "Authorization: bearer second-Token-91c2";
    assert_eq!(http_request(api, "GET", "/metrics", &[second]).status, 200);

    let log = server.log_lines().join("\n");
    assert!(log.contains(HTTP_REQUEST_REFUSED), "refusals are logged");
    assert!(
        !log.contains("Token-7f3a") && !log.contains("Token-91c2"),
        "token in the log:\n{log}"
    );
}

#[test]
fn server_refuses_to_start_with_an_unusable_token_file() {
    let dir = common::TempDir::new("api-token-bad");
    let empty = dir.path().join("empty.token");
    std::fs::write(&empty, "").unwrap();
    for file in [empty, dir.path().join("missing.token")] {
        let output = common::run_server_command(&[
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--http-token-file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(1), "{file:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cannot load the HTTP token file"), "{stderr}");
    }
}

#[test]
fn a_token_file_is_not_read_while_the_api_is_off() {
    let dir = common::TempDir::new("api-token-off");
    let missing = dir.path().join("missing.token");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--http-listen", "off", "--http-token-file"])
        .arg(&missing)
        .stdin(std::process::Stdio::null());
    let server = ServerProcess::start_command(command);
    server.wait_for_log(HTTP_TOKEN_FILE_IGNORED, DEADLINE);
    // Serving RTMP as usual: a client connects.
    RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
}

#[test]
fn a_recording_that_cannot_open_its_file_counts_as_failed() {
    let dir = common::TempDir::new("api-record-fail");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let api = api_addr(&server);
    // After start-up (which refuses an unusable record dir), a plain file takes the record
    // dir's place: no file can be created below it.
    std::fs::remove_dir(&record_dir).unwrap();
    std::fs::write(&record_dir, b"not a directory").unwrap();
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("broken").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    publish_range(&mut publisher, 0, 5);
    server.wait_for_log(RECORDING_FAILED_TO_START, DEADLINE);
    let samples = parse_prometheus(&http(api, "GET", "/metrics").1);
    assert!(samples["rtmp_recordings_failed_total"] >= 1.0);
    assert_eq!(samples["rtmp_recordings_active"], 0.0);
    assert_eq!(samples["rtmp_recordings_finished_total"], 0.0);
    let json: serde_json::Value = serde_json::from_str(&http(api, "GET", "/api/streams").1).unwrap();
    let s = &json["streams"][0];
    assert_eq!(s["recording"], true, "the publish records, but no file is open");
    assert!(s["recording_file"].is_null() && s["recording_bytes"].is_null(), "{s}");
}
