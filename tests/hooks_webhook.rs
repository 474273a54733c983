//! Integration: webhooks. A receiver started by the test (`common::webhook`: std
//! TcpListener, scripted status per request) sees on_publish with the key in `query` and
//! decides (403 refuses, 200 allows, no answer refuses at --hook-timeout while another stream
//! publishes); publish_done and record_done arrive signed with their fields (record_done
//! naming the publisher); a receiver down then up gets the notification by retry; the key
//! never reaches the log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::webhook::Receiver;
use common::*;
use hmac::{Hmac, Mac};
use rtmp_server::client::RtmpClient;
use rtmp_server::media::FrameKind;
use serde_json::Value;
use sha2::Sha256;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const KEY: &str = "s3cr3t-KEY-4242";

fn publish(server: &ServerProcess, name: &str) -> Result<RtmpClient, String> {
    let mut client = RtmpClient::connect(server.addr, "live", TIMEOUT).map_err(|e| e.to_string())?;
    client.publish(name).map_err(|e| e.to_string())?;
    Ok(client)
}

fn send_some(client: &mut RtmpClient) {
    for i in 0..10u32 {
        let body = [if i == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, i as u8];
        client.send_frame(FrameKind::Video, i * 40, &body).unwrap();
    }
}

fn assert_key_never_logged(server: &ServerProcess) {
    for line in server.log_lines() {
        assert!(!line.contains(KEY), "the key is in the log: {line}");
    }
}

#[test]
fn on_publish_sees_the_key_and_its_status_decides_and_a_silent_receiver_refuses_at_the_timeout() {
    let receiver = Receiver::start(Arc::new(|v: &Value| match v["stream"].as_str() {
        Some("denied") => Some(403),
        Some("silent") => None,
        _ => Some(200),
    }));
    let url = receiver.url("/publish");
    let server = ServerProcess::start(&["--on-publish", &url, "--hook-timeout", "1s"]);

    let mut allowed = publish(&server, &format!("cam?key={KEY}")).expect("200 allows");
    let got = receiver.wait("publish", "cam").json();
    assert_eq!(got["query"], format!("key={KEY}"));
    assert_eq!(got["app"], "live");
    assert!(got["conn_id"].as_u64().is_some() && got["client_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(got["time"].as_str().unwrap().contains('T'));

    let denied = publish(&server, &format!("denied?key={KEY}"));
    assert!(denied.is_err(), "403 refuses");
    server.wait_for_log("publish denied", TIMEOUT);

    // The silent receiver holds one decision; the allowed stream keeps publishing meanwhile.
    let started = Instant::now();
    let silent = std::thread::spawn({
        let addr = server.addr;
        move || {
            let mut client = RtmpClient::connect(addr, "live", TIMEOUT).unwrap();
            client.publish("silent").is_err()
        }
    });
    receiver.wait("publish", "silent");
    send_some(&mut allowed);
    assert!(silent.join().unwrap(), "no answer refuses");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "{took:?}"
    );
    send_some(&mut allowed);
    allowed.unpublish().unwrap();
    assert_key_never_logged(&server);
}

#[test]
fn publish_done_and_record_done_arrive_signed_with_their_fields() {
    let dir = TempDir::new("hooks-signed");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "topsecret\n").unwrap();
    let receiver = Receiver::start(Arc::new(|_: &Value| Some(200)));
    let url = receiver.url("/done");
    let rec = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        rec.to_str().unwrap(),
        "--on-publish-done",
        &url,
        "--on-record-done",
        &url,
        "--hook-secret-file",
        secret_file.to_str().unwrap(),
    ]);
    let mut client = publish(&server, &format!("cam?key={KEY}")).unwrap();
    send_some(&mut client);
    client.unpublish().unwrap();
    let mut conn_ids = Vec::new();
    for (event, fields) in [
        ("publish_done", &["duration_ms", "bytes"][..]),
        ("record_done", &["path", "duration_ms", "bytes"][..]),
    ] {
        let got = receiver.wait(event, "cam");
        assert_eq!(got.header("content-type").as_deref(), Some("application/json"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"topsecret").unwrap();
        mac.update(&got.body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got.header("x-rtmp-signature"), Some(format!("sha256={hex}")), "{event}");
        let v = got.json();
        for field in fields {
            assert!(!v[field].is_null(), "{event} has {field}: {v}");
        }
        // record_done names the publisher too (its connection, address and query).
        common::webhook::assert_common_fields(&v, event, "live", "cam", &format!("key={KEY}"));
        assert!(v["bytes"].as_u64().unwrap() > 0);
        conn_ids.push(v["conn_id"].as_u64().unwrap());
    }
    assert_eq!(conn_ids[0], conn_ids[1], "the same connection published and recorded");
    assert_key_never_logged(&server);
}

#[test]
fn a_receiver_that_is_down_then_up_gets_the_notification_by_retry() {
    // Reserve a port, close it (down), and start listening on it after the first failure.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/done");
    let server = ServerProcess::start(&["--on-publish-done", &url, "--hook-retries", "5"]);
    let mut client = publish(&server, "cam").unwrap();
    send_some(&mut client);
    client.unpublish().unwrap();
    server.wait_for_log("hook failed, retrying", TIMEOUT);
    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        Arc::new(|_: &Value| Some(204)),
    );
    let got = receiver.wait("publish_done", "cam").json();
    assert_eq!(got["event"], "publish_done");
    server.wait_for_log("hook done", TIMEOUT);
}
