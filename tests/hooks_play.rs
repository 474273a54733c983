//! Integration: on_connect, on_play/on_play_done and the hooks' bookkeeping, against a
//! webhook receiver started here. on_connect tells the connect with its fields; on_play's
//! 403 refuses the player (Play.Failed), 200 allows; play_done arrives with its fields;
//! GET /api/hooks lists a failing webhook (its URL without query); a notification queue
//! that overflows counts the drops; shutdown does not wait for receivers that never answer;
//! the key never reaches the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_addr, http_request, wait_metric};
use common::webhook::{assert_common_fields, Receiver};
use common::*;
use rtmp_server::client::transport::Transport;
use rtmp_server::client::{ClientError, PlayEvent, RtmpClient};
use rtmp_server::media::FrameKind;
use rtmp_server::protocol::handshake::HandshakeKind;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const KEY: &str = "pl4y-KEY-9911";

fn assert_key_never_logged(server: &ServerProcess) {
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

/// Ten video frames from number `from` (a sequence header first when it is 0).
fn send_some(client: &mut RtmpClient, from: u32) {
    if from == 0 {
        client
            .send_frame(FrameKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64])
            .unwrap();
    }
    for i in from..from + 10 {
        let body = [if i % 10 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
    client.flush().unwrap();
}

#[test]
fn on_connect_tells_and_on_play_decides_and_play_done_arrives_with_its_fields() {
    let receiver = Receiver::start(Arc::new(|v: &Value| match v["stream"].as_str() {
        Some("denied") => Some(403),
        _ => Some(200),
    }));
    let url = receiver.url("/hook");
    let server = ServerProcess::start(&["--on-connect", &url, "--on-play", &url, "--on-play-done", &url]);

    // on_connect: the tcUrl's query is the connect's query.
    let socket = Transport::connect_tcp(server.addr, TIMEOUT).unwrap();
    let tc_url = format!("rtmp://{}/live?token={KEY}", server.addr);
    let mut publisher = RtmpClient::start(Transport::Plain(socket), tc_url, "live", HandshakeKind::Digest).unwrap();
    let connect = receiver.wait("connect", "").json();
    assert_common_fields(&connect, "connect", "live", "", &format!("token={KEY}"));
    publisher.publish("show").unwrap();
    send_some(&mut publisher, 0);

    let mut refused = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    match refused.play(&format!("denied?key={KEY}")) {
        Err(ClientError::Rejected(code)) => assert_eq!(code, "NetStream.Play.Failed"),
        Err(ClientError::Io(_)) => {} // closed after the refusal
        other => panic!("a 403 refuses the play: {other:?}"),
    }
    let asked = receiver.wait("play", "denied").json();
    assert_common_fields(&asked, "play", "live", "denied", &format!("key={KEY}"));
    server.wait_for_log(log_contract::PLAY_DENIED, TIMEOUT);

    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play(&format!("show?key={KEY}")).expect("a 200 allows the play");
    let asked = receiver.wait("play", "show").json();
    assert_common_fields(&asked, "play", "live", "show", &format!("key={KEY}"));
    assert!(
        asked.get("bytes").is_none() && asked.get("duration_ms").is_none(),
        "{asked}"
    );
    send_some(&mut publisher, 10);
    let deadline = Instant::now() + TIMEOUT;
    while !matches!(player.read_play_event().unwrap(), PlayEvent::Media(_)) {
        assert!(Instant::now() < deadline, "the player gets media");
    }
    drop(player);

    let done = receiver.wait("play_done", "show").json();
    assert_common_fields(&done, "play_done", "live", "show", &format!("key={KEY}"));
    assert_eq!(
        done["conn_id"], asked["conn_id"],
        "the same connection played and ended"
    );
    assert_eq!(done["client_addr"], asked["client_addr"]);
    assert!(done["duration_ms"].as_u64().is_some(), "{done}");
    assert!(done["bytes"].as_u64().unwrap() > 0, "{done}");
    assert!(done.get("path").is_none(), "{done}");
    assert_key_never_logged(&server);
}

#[test]
fn api_hooks_lists_a_failing_webhook_without_its_query() {
    let receiver = Receiver::answering(500);
    let url = receiver.url("/done?token=HOOKTOKEN");
    let server = ServerProcess::start(&["--on-publish-done", &url, "--hook-retries", "0"]);
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    client.publish(&format!("cam?key={KEY}")).unwrap();
    send_some(&mut client, 0);
    client.unpublish().unwrap();
    receiver.wait("publish_done", "cam");
    wait_metric(
        &server,
        r#"rtmp_hooks_total{event="publish_done",outcome="failed"}"#,
        |n| n == 1,
    );

    let reply = http_request(api_addr(&server), "GET", "/api/hooks", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let hooks = reply.json();
    let failures = hooks["recent_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{hooks}");
    let failure = &failures[0];
    assert_eq!(failure["event"], "publish_done");
    assert_eq!(failure["app"], "live");
    assert_eq!(failure["stream"], "cam");
    assert_eq!(failure["target"], receiver.url("/done"), "the URL without its query");
    assert_eq!(failure["error"], "status 500");
    assert!(failure["time"].as_str().unwrap().contains('T'));
    assert!(
        hooks["counts"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"event": "publish_done", "outcome": "failed", "count": 1})),
        "{hooks}"
    );
    assert!(
        !reply.body.contains(KEY) && !reply.body.contains("HOOKTOKEN"),
        "{}",
        reply.body
    );
    assert_key_never_logged(&server);
    for line in server.log_lines() {
        assert!(!line.contains("HOOKTOKEN"), "the webhook's token is in the log: {line}");
    }
}

#[test]
fn a_full_notification_queue_counts_its_drops_and_shutdown_does_not_wait_for_silent_receivers() {
    // Neither answers: each notification worker and each decision worker stays in its call.
    let silent = Receiver::start(Arc::new(|_: &Value| None));
    let url = silent.url("/silent");
    let mut server = ServerProcess::start(&[
        "--on-connect",
        &url,
        "--on-publish",
        &url,
        "--hook-timeout",
        "60s",
        "--hook-retries",
        "0",
    ]);
    let dropped = r#"rtmp_hooks_total{event="connect",outcome="dropped"}"#;
    // 4 workers hold one job each and 256 wait: connects beyond that are dropped.
    for _ in 0..300 {
        drop(RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap());
    }
    let n = wait_metric(&server, dropped, |n| n > 0);
    assert!(n <= 300 - 256, "only what does not fit is dropped: {n}");
    assert!(
        silent.of("connect").len() <= 4 + 1,
        "the workers are held by the silent receiver"
    );

    // A publish waiting for its decision, then SIGTERM: the server ends within its bounds.
    let addr = server.addr;
    let waiting = std::thread::spawn(move || {
        let mut client = RtmpClient::connect(addr, "live", TIMEOUT).unwrap();
        client.publish("waiting").is_err()
    });
    wait_until("the publish decision is pending", DEADLINE, || {
        !silent.of("publish").is_empty()
    });
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(waiting.join().unwrap(), "the waiting publish was refused");
}
