//! Domain events, seen the way an operator (or a webhook, next) sees them: GET /api/events
//! lists what happened in order (publish, recording started, unpublish, recording
//! finalized, play started/stopped, kicks) and waits for the next event when asked;
//! /metrics counts them by kind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, metric};
use common::{ServerProcess, TempDir, DEADLINE};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Instant;

/// Events after `after`, waiting (server side) up to 10 s for one.
fn events_after(api: SocketAddr, after: u64) -> Vec<Value> {
    let reply = http_request(api, "GET", &format!("/api/events?after={after}&wait=10"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["events"].as_array().unwrap().clone()
}

/// Collects events until `kind` for `stream` arrives; returns all collected so far.
fn wait_event(api: SocketAddr, seen: &mut Vec<Value>, kind: &str, stream: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(found) = seen.iter().find(|e| e["kind"] == kind && e["stream"] == stream) {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "no {kind} event for {stream}: {seen:?}");
        let after = seen.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
        seen.extend(events_after(api, after));
    }
}

#[test]
fn a_publish_with_a_recording_and_a_player_is_told_as_events_in_order() {
    let dir = TempDir::new("events-api");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut seen = Vec::new();

    let mut publisher = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    publisher.publish("cam").unwrap();
    publisher
        .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    for n in 0..20u32 {
        let key = if n % 10 == 0 { 0x17 } else { 0x27 };
        publisher
            .send_frame(FrameKind::Video, n * 40, &[key, 1, 0, 0, 0, n as u8])
            .unwrap();
    }
    publisher.round_trip().unwrap();
    let published = wait_event(api, &mut seen, "published", "cam");
    assert_eq!(published["app"], "live");
    assert_eq!(
        published["remote"],
        publisher.socket().local_addr().unwrap().to_string()
    );
    let started = wait_event(api, &mut seen, "recording_started", "cam");
    assert!(started["path"].as_str().unwrap().ends_with(".flv.part"), "{started}");

    let mut player = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    player.play("cam").unwrap();
    let play = wait_event(api, &mut seen, "play_started", "cam");
    drop(player);
    let stopped = wait_event(api, &mut seen, "play_stopped", "cam");
    assert_eq!(stopped["conn_id"], play["conn_id"]);

    publisher.unpublish().unwrap();
    let unpublished = wait_event(api, &mut seen, "unpublished", "cam");
    assert_eq!(unpublished["reason"], "unpublish");
    assert_eq!(unpublished["conn_id"], published["conn_id"]);
    let finalized = wait_event(api, &mut seen, "recording_finalized", "cam");
    let path = finalized["path"].as_str().unwrap();
    assert!(
        path.ends_with(".flv") && std::path::Path::new(path).is_file(),
        "{finalized}"
    );
    assert!(finalized["bytes"].as_u64().unwrap() > 0);
    assert_eq!(finalized["duration_ms"], 760, "20 frames 40 ms apart");

    // In order: each event's number is above the one before, and the story reads right.
    let seqs: Vec<u64> = seen.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let position = |kind: &str| seen.iter().position(|e| e["kind"] == kind).unwrap();
    assert!(position("published") < position("recording_started"));
    assert!(position("unpublished") < position("recording_finalized"));

    assert_eq!(metric(&server, "rtmp_events_total{kind=\"published\"}"), 1);
    assert_eq!(metric(&server, "rtmp_events_total{kind=\"recording_finalized\"}"), 1);
    assert_eq!(
        metric(&server, "rtmp_event_observer_dropped_total{observer=\"recent\"}"),
        0
    );
}

#[test]
fn a_reader_waits_for_the_next_event_and_bad_parameters_are_400() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let bad = http_request(api, "GET", "/api/events?after=soon", &[]);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "after must be an event number");
    let last = http_request(api, "GET", "/api/events", &[]).json()["last"]
        .as_u64()
        .unwrap();
    // A reader waiting for the next event gets it as soon as it happens.
    let waiter = std::thread::spawn(move || events_after(api, last));
    let mut publisher = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    publisher.publish("later").unwrap();
    let got = waiter.join().unwrap();
    // The RTMP connect is the first event now (issue 14's on_connect hook).
    assert_eq!(
        got.first().map(|e| e["kind"].clone()),
        Some("connected".into()),
        "{got:?}"
    );
}
