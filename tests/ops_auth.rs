//! Integration: stream-key auth (plain keys through FFmpeg, signed expiring keys through
//! the own client, play keys, SIGHUP reload), --allow-publish, --deny and connection limits.
//! The secrets must never show up in the log or in recording file names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::wait_api_stream;
use common::log_contract::*;
use common::*;
use rtmp_server::client::{ClientError, RtmpClient};
use rtmp_server::ops::auth::sign;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TIMEOUT: Duration = Duration::from_secs(20);
const SECRET: &str = "Sup3rSecretKey";
const OTHER_SECRET: &str = "An0therSecretKey";

fn write_keys(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn assert_rejected(result: Result<(), ClientError>, code: &str) {
    match result {
        Err(ClientError::Rejected(got)) => assert_eq!(got, code),
        other => panic!("expected rejection {code}, got {other:?}"),
    }
}

fn assert_secrets_absent(server: &ServerProcess, dir: &Path) {
    for line in server.log_lines() {
        assert!(
            !line.contains(SECRET) && !line.contains(OTHER_SECRET),
            "secret in log: {line}"
        );
    }
    for file in files_with_suffix(dir, "") {
        let name = file.to_string_lossy();
        assert!(
            !name.contains(SECRET) && !name.contains("key="),
            "secret in file name: {name}"
        );
        // Recordings (not the source clip) must not hold the key either.
        if name.contains(".flv") && !name.ends_with("clip.flv") {
            let bytes = std::fs::read(&file).unwrap();
            let holds = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(!holds(SECRET) && !holds(OTHER_SECRET), "secret inside {name}");
        }
    }
}

#[test]
fn ffmpeg_publish_with_right_wrong_and_missing_key() {
    let dir = TempDir::new("auth-ffmpeg");
    let clip = make_clip(dir.path(), "clip.flv", 2);
    let keys = dir.path().join("publish.keys");
    write_keys(&keys, &format!("# who may publish\nlive/cam {SECRET}\n"));
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--publish-keys",
        keys.to_str().unwrap(),
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
    ]);
    server.wait_for_log(&format!("{KEYS_LOADED} publish_keys=1"), DEADLINE);

    let mut wrong = ffmpeg_publish(&clip, &server.url("live/cam?key=wrong"), false);
    assert!(!wait_child(&mut wrong, DEADLINE).success(), "wrong key must fail");
    let denied = server.wait_for_log(PUBLISH_DENIED, DEADLINE);
    assert_eq!(field(&denied, "error").as_deref(), Some(WRONG_KEY), "{denied}");
    assert!(field(&denied, "remote").unwrap().starts_with("127.0.0.1:"), "{denied}");
    assert_eq!(field(&denied, "stream").as_deref(), Some("cam"));

    let mut missing = ffmpeg_publish(&clip, &server.url("live/cam"), false);
    assert!(!wait_child(&mut missing, DEADLINE).success(), "missing key must fail");
    let denied = server.wait_for_logs(PUBLISH_DENIED, 2, DEADLINE).pop().unwrap();
    assert_eq!(field(&denied, "error").as_deref(), Some("missing key"), "{denied}");

    let url = server.url(&format!("live/cam?key={SECRET}"));
    let mut right = ffmpeg_publish(&clip, &url, false);
    assert!(wait_child(&mut right, DEADLINE).success(), "right key must publish");
    let file = wait_recording_closed(&server, "cam");
    assert!(file.exists(), "{}", file.display());
    assert!(!server
        .log_lines()
        .iter()
        .any(|l| l.contains(RECORDING_STARTED) && l.contains("error=")));
    assert_secrets_absent(&server, dir.path());
}

#[test]
fn signed_keys_valid_expired_and_forged() {
    let dir = TempDir::new("auth-signed");
    let keys = dir.path().join("publish.keys");
    write_keys(&keys, &format!("live/* {SECRET}\n"));
    let server = ServerProcess::start(&["--publish-keys", keys.to_str().unwrap()]);
    let exp = now() + 3600;
    let sig = sign(SECRET.as_bytes(), "live", "cam", exp);

    let mut valid = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    valid.publish(&format!("cam?exp={exp}&sig={sig}")).unwrap();
    wait_api_stream(&server, "live", "cam", |s| s["publishing"] == true);
    valid.unpublish().unwrap();
    drop(valid);

    let past = now() - 10;
    let expired_sig = sign(SECRET.as_bytes(), "live", "cam", past);
    let mut expired = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert_rejected(
        expired.publish(&format!("cam?exp={past}&sig={expired_sig}")),
        "NetStream.Publish.BadName",
    );
    server.wait_for_log(&format!("error=\"{SIGNED_KEY_EXPIRED}\""), DEADLINE);

    let cases = [
        // Signed with another secret.
        format!("cam?exp={exp}&sig={}", sign(b"not-the-secret", "live", "cam", exp)),
        // A valid signature moved to a later expiry.
        format!("cam?exp={}&sig={sig}", exp + 1),
        // A valid signature for another stream.
        format!("cam2?exp={exp}&sig={sig}"),
    ];
    for (n, name) in cases.iter().enumerate() {
        let mut forged = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
        assert_rejected(forged.publish(name), "NetStream.Publish.BadName");
        server.wait_for_logs(&format!("error=\"{BAD_SIGNATURE}\""), n + 1, DEADLINE);
    }
    assert_secrets_absent(&server, dir.path());
}

#[test]
fn play_keys_guard_playback() {
    let dir = TempDir::new("auth-play");
    let keys = dir.path().join("play.keys");
    write_keys(&keys, &format!("live/* {SECRET}\n"));
    let server = ServerProcess::start(&["--play-keys", keys.to_str().unwrap()]);
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("show").unwrap();
    let mut refused = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert_rejected(refused.play("show?key=nope"), "NetStream.Play.Failed");
    let denied = server.wait_for_log(PLAY_DENIED, DEADLINE);
    assert_eq!(field(&denied, "error").as_deref(), Some(WRONG_KEY));
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play(&format!("show?key={SECRET}")).unwrap();
    wait_api_stream(&server, "live", "show", |s| s["players"] == 1);
    assert_secrets_absent(&server, dir.path());
}

#[test]
fn sighup_reload_changes_who_may_publish() {
    let dir = TempDir::new("auth-reload");
    let keys = dir.path().join("publish.keys");
    write_keys(&keys, &format!("live/cam {SECRET}\n"));
    let server = ServerProcess::start(&["--publish-keys", keys.to_str().unwrap()]);
    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish(&format!("cam?key={SECRET}")).unwrap();
    first.unpublish().unwrap();
    drop(first);

    write_keys(
        &keys,
        &format!("# rotated\nlive/cam {OTHER_SECRET}\nlive/extra {SECRET}\n"),
    );
    server.signal("HUP");
    server.wait_for_log(&format!("{KEYS_RELOADED} publish_keys=2"), DEADLINE);

    let mut old = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert_rejected(old.publish(&format!("cam?key={SECRET}")), "NetStream.Publish.BadName");
    let mut new = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    new.publish(&format!("cam?key={OTHER_SECRET}")).unwrap();

    // A broken file is refused and the keys in use stay.
    write_keys(&keys, "live/cam\n");
    server.signal("HUP");
    server.wait_for_log(KEYS_RELOAD_FAILED, DEADLINE);
    let mut still = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    still.publish(&format!("extra?key={SECRET}")).unwrap();
    assert_secrets_absent(&server, dir.path());
}

#[test]
fn allow_publish_limits_who_may_publish() {
    let elsewhere = ServerProcess::start(&["--allow-publish", "10.0.0.0/8"]);
    let mut client = RtmpClient::connect(elsewhere.addr, "live", TIMEOUT).unwrap();
    assert_rejected(client.publish("cam"), "NetStream.Publish.BadName");
    let denied = elsewhere.wait_for_log(PUBLISH_DENIED, DEADLINE);
    assert_eq!(
        field(&denied, "error").as_deref(),
        Some("address not allowed to publish")
    );

    let local = ServerProcess::start(&["--allow-publish", "10.0.0.0/8", "--allow-publish", "127.0.0.0/8"]);
    let mut client = RtmpClient::connect(local.addr, "live", TIMEOUT).unwrap();
    client.publish("cam").unwrap();
}

#[test]
fn deny_closes_connections_right_after_accept() {
    let server = ServerProcess::start(&["--deny", "192.0.2.0/24", "--deny", "127.0.0.1"]);
    let refused = RtmpClient::connect(server.addr, "live", TIMEOUT);
    assert!(refused.is_err(), "denied address must not connect");
    let line = server.wait_for_log(CONNECTION_REFUSED, DEADLINE);
    assert!(field(&line, "remote").unwrap().starts_with("127.0.0.1:"), "{line}");
    assert!(line.contains("--deny 127.0.0.1/32"), "{line}");
    assert!(!server.log_lines().iter().any(|l| l.contains(CONNECTION_OPENED)));
}

#[test]
fn connection_limits_close_excess_connections() {
    let server = ServerProcess::start(&["--max-connections-per-ip", "2"]);
    let first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    let second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert!(RtmpClient::connect(server.addr, "live", TIMEOUT).is_err());
    server.wait_for_log(&format!("error=\"{}\"", max_connections_per_ip_reached(2)), DEADLINE);
    drop(first);
    server.wait_for_log(&format!("{CONNECTION_CLOSED} conn_id=1 "), DEADLINE);
    let third = RtmpClient::connect(server.addr, "live", TIMEOUT);
    assert!(third.is_ok(), "a freed slot is usable again");
    drop((second, third));

    let server = ServerProcess::start(&["--max-connections", "1"]);
    let only = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    assert!(RtmpClient::connect(server.addr, "live", TIMEOUT).is_err());
    server.wait_for_log(&format!("error=\"{}\"", max_connections_reached(1)), DEADLINE);
    drop(only);
}

#[test]
fn a_key_in_the_tc_url_or_app_never_reaches_the_log() {
    let server = ServerProcess::start(&[]);
    let api = common::http::api_addr(&server);
    // Clients that put the key in the connect URL: it arrives in the app and the tcUrl.
    let mut client = RtmpClient::connect(server.addr, &format!("live?key={SECRET}"), TIMEOUT).unwrap();
    client.round_trip().unwrap();
    let reply = common::http::http_request(api, "GET", "/api/events?after=0&wait=10", &[]);
    let events = reply.json()["events"].as_array().unwrap().clone();
    assert!(
        events.iter().any(|e| e["kind"] == "connected"),
        "the connect was handled: {events:?}"
    );
    let lines = server.log_lines();
    assert!(
        lines.iter().any(|l| l.contains("tc_url=") && l.contains("?***")),
        "the connect line shows where the query was: {lines:?}"
    );
    for line in lines {
        assert!(!line.contains(SECRET), "secret in log: {line}");
    }
}
