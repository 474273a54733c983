//! Enhanced RTMP v2 reconnect requests: `POST /api/connections/ID/reconnect` asks a publisher
//! to reconnect (optionally to another server's tcUrl) and the project's client follows it
//! (republishes the same stream; on the same server its recording continues); the API's
//! error codes; a graceful shutdown asks publishers first and still finalizes recordings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, http_request_body};
use common::{wait_until, ServerProcess, TempDir, DEADLINE};
use rtmp_server::client::{ClientError, RtmpClient};
use rtmp_server::media::FrameKind;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A publisher of fake AVC (a keyframe every 10 frames) that reads what the server sends.
struct Publisher {
    client: RtmpClient,
    frame: u32,
}

impl Publisher {
    fn start(server: &ServerProcess, stream: &str) -> Publisher {
        let mut client = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
        client.publish(stream).unwrap();
        client
            .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
            .unwrap();
        let mut publisher = Publisher { client, frame: 0 };
        publisher.pump(20).unwrap();
        publisher.client.round_trip().unwrap();
        publisher
    }

    /// Sends `count` frames, handling what the server sent after each.
    fn pump(&mut self, count: u32) -> Result<(), ClientError> {
        for _ in 0..count {
            let n = self.frame;
            self.frame += 1;
            let key = if n.is_multiple_of(10) { 0x17 } else { 0x27 };
            self.client
                .send_frame(FrameKind::Video, n * 40, &[key, 1, 0, 0, 0, n as u8])?;
            self.client.flush()?;
            self.client.poll_incoming(DEADLINE)?;
        }
        Ok(())
    }

    /// Pumps until the client has followed `count` reconnect requests.
    fn pump_until_reconnected(&mut self, count: u64) {
        let deadline = Instant::now() + DEADLINE;
        while self.client.reconnects() < count {
            assert!(Instant::now() < deadline, "the client did not reconnect");
            self.pump(1).unwrap();
        }
        self.pump(20).unwrap();
        self.client.round_trip().unwrap();
    }
}

/// GET /api/streams: the entry of live/`stream`, if any.
fn stream_entry(api: SocketAddr, stream: &str) -> Option<Value> {
    let reply = http_request(api, "GET", "/api/streams", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["app"] == "live" && s["stream"] == stream)
        .cloned()
}

fn publisher_conn_id(api: SocketAddr, stream: &str) -> u64 {
    let entry = stream_entry(api, stream).expect("stream listed");
    entry["publisher_conn_id"].as_u64().expect("publishing")
}

/// Every event so far (waiting up to 10 s server side for one after `after`).
fn events_after(api: SocketAddr, after: u64) -> Vec<Value> {
    let reply = http_request(api, "GET", &format!("/api/events?after={after}&wait=10"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["events"].as_array().unwrap().clone()
}

/// Collects events until `count` of `kind` match `filter`; returns those.
fn wait_events(api: SocketAddr, kind: &str, count: usize, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + DEADLINE;
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let found: Vec<Value> = seen
            .iter()
            .filter(|e| e["kind"] == kind && filter(e))
            .cloned()
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "no {count} {kind} events: {seen:?}");
        let after = seen.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
        seen.extend(events_after(api, after));
    }
}

fn reconnect(api: SocketAddr, conn_id: u64, query: &str, body: &str) -> common::http::HttpReply {
    let path = format!("/api/connections/{conn_id}/reconnect{query}");
    http_request_body(api, "POST", &path, &[], body)
}

#[test]
fn the_client_reconnects_on_request_and_its_recording_continues() {
    let dir = TempDir::new("reconnect-same");
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut publisher = Publisher::start(&server, "cam");
    let first = publisher_conn_id(api, "cam");
    let file = stream_entry(api, "cam").unwrap()["recording_file"].clone();
    assert!(file.is_string(), "recording: {file}");

    let reply = reconnect(api, first, "", "");
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.json()["conn_id"], first);
    publisher.pump_until_reconnected(1);
    assert_eq!(publisher.client.reconnect_requests_seen(), 1);
    let request = publisher.client.last_reconnect_request().unwrap();
    assert_eq!(request.tc_url, None);

    // A second publish of the same stream by a new connection; the old one ended as a
    // reconnect, and the recording went on in the same file.
    let second = publisher_conn_id(api, "cam");
    assert_ne!(second, first);
    let requested = wait_events(api, "reconnect_requested", 1, |e| e["conn_id"] == first);
    assert_eq!(
        (requested[0]["cause"].as_str(), requested[0]["redirected"].as_bool()),
        (Some("api"), Some(false))
    );
    let published = wait_events(api, "published", 2, |e| e["stream"] == "cam");
    assert_eq!(published[1]["conn_id"], second);
    let ended = wait_events(api, "unpublished", 1, |e| e["conn_id"] == first);
    assert_eq!(ended[0]["reason"], "reconnect");
    assert_eq!(stream_entry(api, "cam").unwrap()["recording_file"], file);

    publisher.client.unpublish().unwrap();
    let finalized = wait_events(api, "recording_finalized", 1, |e| e["stream"] == "cam");
    let started = wait_events(api, "recording_started", 1, |e| e["stream"] == "cam");
    let everything = events_after(api, 0);
    let starts = everything.iter().filter(|e| e["kind"] == "recording_started").count();
    assert_eq!(starts, 1, "one recording across the reconnect: {everything:?}");
    assert_eq!(
        started[0]["path"].as_str().unwrap().trim_end_matches(".part"),
        finalized[0]["path"].as_str().unwrap()
    );
}

#[test]
fn a_redirect_moves_the_stream_to_the_named_server() {
    let origin = ServerProcess::start(&[]);
    let backup = ServerProcess::start(&[]);
    let (origin_api, backup_api) = (api_addr(&origin), api_addr(&backup));
    let mut publisher = Publisher::start(&origin, "cam");
    let conn_id = publisher_conn_id(origin_api, "cam");

    let target = format!("rtmp://{}/live", backup.addr);
    let body = serde_json::json!({ "tcUrl": target, "description": "Moving to the backup" }).to_string();
    let reply = reconnect(origin_api, conn_id, "", &body);
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.json()["tcUrl"], target.as_str());
    publisher.pump_until_reconnected(1);

    assert_eq!(publisher.client.tc_url(), target);
    let request = publisher.client.last_reconnect_request().unwrap();
    assert_eq!(request.description.as_deref(), Some("Moving to the backup"));
    let moved = stream_entry(backup_api, "cam").expect("the stream on the backup");
    assert_eq!(moved["publishing"], true);
    assert!(moved["frames"].as_u64().unwrap() > 0, "{moved}");
    wait_until("the origin lets the stream go", DEADLINE, || {
        stream_entry(origin_api, "cam").is_none_or(|s| s["publishing"] == false)
    });
    let requested = wait_events(origin_api, "reconnect_requested", 1, |e| e["conn_id"] == conn_id);
    assert_eq!(requested[0]["redirected"], true);
}

#[test]
fn the_api_refuses_unknown_connections_non_publishers_and_bad_urls() {
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let publisher = Publisher::start(&server, "cam");
    let conn_id = publisher_conn_id(api, "cam");
    let mut player = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    player.play("cam").unwrap();
    let play = wait_events(api, "play_started", 1, |e| e["stream"] == "cam");
    let player_id = play[0]["conn_id"].as_u64().unwrap();

    assert_eq!(reconnect(api, 999_999, "", "").status, 404);
    let reply = http_request(api, "POST", "/api/connections/nope/reconnect", &[]);
    assert_eq!(reply.status, 404);
    assert_eq!(reconnect(api, player_id, "", "").status, 409);
    for bad in ["?tcUrl=http%3A%2F%2Fh%2Flive", "?tcUrl=rtmp%3A%2F%2Fh", "?tcUrl=%zz"] {
        let reply = reconnect(api, conn_id, bad, "");
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    assert_eq!(reconnect(api, conn_id, "", "[1]").status, 400);
    assert_eq!(reconnect(api, conn_id, "", r#"{"tcUrl": 5}"#).status, 400);
    let reply = http_request(api, "GET", &format!("/api/connections/{conn_id}/reconnect"), &[]);
    assert_eq!(reply.status, 405);
    // A good query-string tcUrl is accepted (percent-decoded).
    let good = "?tcUrl=rtmps%3A%2F%2Fedge.example%3A4443%2Flive";
    let reply = reconnect(api, conn_id, good, "");
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.json()["tcUrl"], "rtmps://edge.example:4443/live");
    drop(publisher);
}

#[test]
fn a_graceful_shutdown_asks_publishers_to_reconnect_and_still_finalizes_recordings() {
    let dir = TempDir::new("reconnect-shutdown");
    let record_dir = dir.path().join("rec");
    let mut server = ServerProcess::start(&["--record-all", "--record-dir", record_dir.to_str().unwrap()]);
    let mut publisher = Publisher::start(&server, "cam");
    server.signal("TERM");
    // The client keeps publishing until the server closes it; the request came first.
    let deadline = Instant::now() + DEADLINE;
    let ended = loop {
        assert!(Instant::now() < deadline, "the server never closed the publisher");
        if let Err(e) = publisher.pump(1) {
            break e;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(publisher.client.reconnect_requests_seen(), 1, "closed with {ended}");
    let request = publisher.client.last_reconnect_request().unwrap();
    assert_eq!(request.tc_url, None);
    assert!(server.wait_exit(DEADLINE).success());
    let file = common::wait_recording_closed(&server, "cam");
    assert!(file.is_file(), "{}", file.display());
    assert!(common::files_with_suffix(&record_dir, ".part").is_empty());
}
