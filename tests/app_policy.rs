//! Per-application policy from the config file (`[[app]]` tables) with real FFmpeg
//! publishers and two server processes: only the table that says so records, only the one
//! that says so pushes (the origin's recording packet-identical to the source);
//! `apps_strict` refuses a stream no table matches; SIGHUP with a changed table applies to
//! the next publish and a broken file keeps the running policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_streams, metric, wait_metric};
use common::log_contract::*;
use common::*;
use rtmp_server::client::{ClientError, RtmpClient};
use rtmp_server::media::FrameKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// The file of app/stream's "recorder closed" line, once it is logged.
fn recording_closed(server: &ServerProcess, app: &str, stream: &str) -> PathBuf {
    let line = server.wait_for_log(&format!("{RECORDER_CLOSED} app={app} stream={stream} "), DEADLINE);
    PathBuf::from(field(&line, "file").unwrap())
}

fn assert_rejected(result: Result<(), ClientError>, code: &str) {
    match result {
        Err(ClientError::Rejected(got)) => assert_eq!(got, code),
        other => panic!("expected rejection {code}, got {other:?}"),
    }
}

/// Publishes a few frames with the project's client and unpublishes.
fn publish_briefly(server: &ServerProcess, app: &str, stream: &str) {
    let mut client = RtmpClient::connect(server.addr, app, TIMEOUT).unwrap();
    client.publish(stream).unwrap();
    let keyframe = [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65];
    for n in 0..5u32 {
        client.send_frame(FrameKind::Video, n * 40, &keyframe).unwrap();
    }
    client.unpublish().unwrap();
}

#[test]
fn only_the_cams_table_records_and_only_the_live_table_pushes() {
    let dir = TempDir::new("apps-a");
    let clip = make_clip(dir.path(), "source.flv", 3);
    let (origin_dir, edge_dir) = (dir.path().join("origin"), dir.path().join("edge"));
    let origin = ServerProcess::start(&["--record-all", "--record-dir", origin_dir.to_str().unwrap()]);
    let config = dir.path().join("edge.toml");
    write_config(
        &config,
        &format!(
            "record_dir = {:?}\n\n[[app]]\nmatch = \"cams/*\"\nrecord_all = true\n\n\
             [[app]]\nmatch = \"live/*\"\npush = [\"rtmp://127.0.0.1:{}/{{app}}/{{stream}}\"]\n",
            edge_dir.to_str().unwrap(),
            origin.addr.port()
        ),
    );
    let edge = ServerProcess::start(&["--config", config.to_str().unwrap()]);

    let mut cams = ffmpeg_publish(&clip, &edge.url("cams/door"), false);
    let mut live = ffmpeg_publish(&clip, &edge.url("live/show"), false);
    assert!(wait_child(&mut cams, DEADLINE).success());
    assert!(wait_child(&mut live, DEADLINE).success());

    let source = framemd5(&clip);
    let edge_cams = recording_closed(&edge, "cams", "door");
    assert_eq!(framemd5(&edge_cams), source, "the cams table records");
    let origin_live = recording_closed(&origin, "live", "show");
    assert_eq!(
        framemd5(&origin_live),
        source,
        "the live table pushes, packet-identical"
    );

    wait_until("both publishes ended on the edge", DEADLINE, || {
        api_streams(&edge).is_empty()
    });
    wait_until("the push ended on the origin", DEADLINE, || {
        api_streams(&origin).is_empty()
    });
    assert_eq!(
        metric(&edge, "rtmp_recordings_finished_total"),
        1,
        "live/show is not recorded"
    );
    assert_eq!(files_with_suffix(&edge_dir, ".flv"), vec![edge_cams]);
    assert_eq!(metric(&origin, "rtmp_publishes_total"), 1, "cams/door is not pushed");
    assert_eq!(files_with_suffix(&origin_dir, ".flv"), vec![origin_live]);
}

#[test]
fn apps_strict_refuses_a_stream_no_table_matches() {
    let dir = TempDir::new("apps-strict");
    let config = dir.path().join("strict.toml");
    write_config(&config, "apps_strict = true\n\n[[app]]\nmatch = \"live/*\"\n");
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);

    let mut unknown = RtmpClient::connect(server.addr, "other", TIMEOUT).unwrap();
    assert_rejected(unknown.publish("cam"), "NetStream.Publish.BadName");
    let mut player = RtmpClient::connect(server.addr, "other", TIMEOUT).unwrap();
    assert_rejected(player.play("cam"), "NetStream.Play.StreamNotFound");
    let mut known = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    known.publish("cam").unwrap();
    assert!(api_streams(&server)
        .iter()
        .any(|s| s["app"] == "live" && s["stream"] == "cam"));
    assert_eq!(metric(&server, "rtmp_publishes_total"), 1);
}

#[test]
fn sighup_applies_a_changed_table_to_the_next_publish_and_a_broken_file_keeps_it() {
    let dir = TempDir::new("apps-reload");
    let records = dir.path().join("rec");
    let config = dir.path().join("reload.toml");
    let table = |record: bool| {
        format!(
            "record_dir = {:?}\n\n[[app]]\nmatch = \"cams/*\"\nrecord_all = {record}\n",
            records.to_str().unwrap()
        )
    };
    write_config(&config, &table(false));
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);

    publish_briefly(&server, "cams", "one");
    wait_until("first publish ended", DEADLINE, || api_streams(&server).is_empty());
    assert_eq!(
        metric(&server, "rtmp_recordings_finished_total"),
        0,
        "not recorded before the reload"
    );

    write_config(&config, &table(true));
    server.signal("HUP");
    wait_metric(&server, "rtmp_config_reloads_total", |n| n >= 1);
    publish_briefly(&server, "cams", "two");
    recording_closed(&server, "cams", "two");

    write_config(&config, "[[app]]\nmatch = \"cams/*\"\nrecord_all = 3\n");
    server.signal("HUP");
    wait_metric(&server, "rtmp_config_reload_failures_total", |n| n >= 1);
    assert_eq!(metric(&server, "rtmp_config_reloads_total"), 1);
    publish_briefly(&server, "cams", "three");
    recording_closed(&server, "cams", "three");
    assert_eq!(files_with_suffix(&records, ".flv").len(), 2);
}

/// A webhook receiver answering every request with `status`; counts the requests.
fn answering_receiver(status: u16) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            socket.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the Content-Length body.
            while let Ok(n) = socket.read(&mut buf) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(
                socket,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, count)
}

#[test]
fn a_table_s_on_publish_hook_decides_only_for_its_streams() {
    let dir = TempDir::new("apps-hooks");
    let (url, asked) = answering_receiver(403);
    let config = dir.path().join("hooks.toml");
    write_config(
        &config,
        &format!("[[app]]\nmatch = \"secure/*\"\non_publish = [{url:?}]\n"),
    );
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);

    let mut refused = RtmpClient::connect(server.addr, "secure", TIMEOUT).unwrap();
    assert_rejected(refused.publish("cam"), "NetStream.Publish.BadName");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    let mut open = RtmpClient::connect(server.addr, "open", TIMEOUT).unwrap();
    open.publish("cam").unwrap();
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the top level has no hook"
    );
}
