//! The HTTP API: /healthz, /api/streams field by field while a stream is live, /metrics as
//! Prometheus text (checked with a small parser), kick, and JSON errors.

mod common;

use common::{field, ServerProcess, DEADLINE};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP/1.0 request; returns (status, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        socket,
        "{method} {path} HTTP/1.0\r\nHost: test\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Parses Prometheus text: every non-comment line is `name{labels} value`.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let kind = comment.split_whitespace().next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "bad comment line {line:?}");
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name {name:?}"
        );
        if name.contains('{') {
            assert!(name.ends_with('}'), "bad labels {name:?}");
        }
        samples.insert(
            name.to_owned(),
            value.parse::<f64>().unwrap_or_else(|_| panic!("bad value {line:?}")),
        );
    }
    samples
}

#[test]
fn api_reports_live_streams_and_metrics_and_kicks_publishers() {
    let server = ServerProcess::start(&[]);
    let api: SocketAddr = field(&server.wait_for_log("HTTP API listening", DEADLINE), "addr")
        .unwrap()
        .parse()
        .unwrap();
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
    server.wait_for_log("play conn_id=", DEADLINE);
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
    server.wait_for_log("reason=kicked_by_api", DEADLINE);
    assert_eq!(http(api, "POST", "/api/streams/live/none/kick").0, 404);
    let (status, body) = http(api, "GET", "/nope");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"], 404);
    assert_eq!(http(api, "POST", "/metrics").0, 405);
}

#[test]
fn api_and_metrics_report_the_disk_guard() {
    let server = ServerProcess::start(&["--record-min-free", "999999T"]);
    let api: SocketAddr = field(&server.wait_for_log("HTTP API listening", DEADLINE), "addr")
        .unwrap()
        .parse()
        .unwrap();
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
    let api: SocketAddr = field(&server.wait_for_log("HTTP API listening", DEADLINE), "addr")
        .unwrap()
        .parse()
        .unwrap();
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
    let line = server.wait_for_log("recorder closed app=live stream=ondemand ", DEADLINE);
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
}
