//! Push relay (`--push`), edge to origin with two real server processes: the origin's
//! recording is packet-identical to what FFmpeg published to the edge; an origin killed and
//! restarted on the same port gets a clean suffix starting at a keyframe while the edge's own
//! recording stays exact; a push to an unreachable upstream retries with backoff and leaves
//! players and the recording untouched. Status in GET /api/pushes and /metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::client::{PlayEvent, RtmpClient};
use rtmp_server::flv::reader::read_all;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

/// One HTTP/1.0 GET; returns the body.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(socket, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn api_addr(server: &ServerProcess) -> SocketAddr {
    field(&server.wait_for_log(HTTP_API_LISTENING, DEADLINE), "addr")
        .unwrap()
        .parse()
        .unwrap()
}

/// The first push of GET /api/pushes, if any.
fn first_push(api: SocketAddr) -> Option<serde_json::Value> {
    let body: serde_json::Value = serde_json::from_str(&http_get(api, "/api/pushes")).unwrap();
    body["pushes"].as_array().and_then(|list| list.first().cloned())
}

fn recording_server(dir: &Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--record-all", "--record-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Audio and video tags other than sequence headers: (type, timestamp, body).
fn media_tags(path: &Path) -> Vec<(u8, u32, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, tags) = read_all(&bytes).unwrap();
    tags.iter()
        .filter(|t| (t.tag_type == 8 || t.tag_type == 9) && t.body.get(1) != Some(&0))
        .map(|t| (t.tag_type, t.timestamp, t.body.to_vec()))
        .collect()
}

/// The sequence headers (AVC and AAC) of a file, in order.
fn sequence_headers(path: &Path) -> Vec<(u8, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, tags) = read_all(&bytes).unwrap();
    tags.iter()
        .filter(|t| (t.tag_type == 8 || t.tag_type == 9) && t.body.get(1) == Some(&0))
        .map(|t| (t.tag_type, t.body.to_vec()))
        .collect()
}

#[test]
fn origin_recording_of_a_pushed_stream_is_packet_identical_and_status_is_reported() {
    let dir = TempDir::new("push-a");
    let clip = make_clip(dir.path(), "source.flv", 4);
    let (origin_dir, edge_dir) = (dir.path().join("origin"), dir.path().join("edge"));
    let origin = recording_server(&origin_dir, &[]);
    let push = format!("rtmp://127.0.0.1:{}/{{app}}/{{stream}}", origin.addr.port());
    let edge = recording_server(&edge_dir, &["--push", &push]);
    let edge_api = api_addr(&edge);

    let mut ffmpeg = ffmpeg_publish(&clip, &edge.url("live/cam"), true);
    edge.wait_for_log(&format!("{PUSH_CONNECTED} app=live stream=cam"), DEADLINE);
    wait_until("push reports connected with bytes sent", DEADLINE, || {
        first_push(edge_api).is_some_and(|p| p["connected"] == true && p["bytes"].as_u64() > Some(0))
    });
    let push_status = first_push(edge_api).unwrap();
    let expected_url = format!("rtmp://127.0.0.1:{}/live/cam", origin.addr.port());
    assert_eq!(push_status["url"], expected_url.as_str());
    assert_eq!(
        (&push_status["app"], &push_status["stream"]),
        (&"live".into(), &"cam".into())
    );
    let metrics = http_get(edge_api, "/metrics");
    let labels = format!("{{app=\"live\",stream=\"cam\",url=\"{expected_url}\"}}");
    assert!(
        metrics.contains(&format!("rtmp_push_connected{labels} 1\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("rtmp_push_retries_total{labels} 0\n")),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE rtmp_push_bytes_total counter"), "{metrics}");
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());

    let source = framemd5(&clip);
    let edge_file = wait_recording_closed(&edge, "cam");
    let origin_file = wait_recording_closed(&origin, "cam");
    assert_eq!(framemd5(&edge_file), source, "edge recording");
    assert_eq!(framemd5(&origin_file), source, "origin recording of the push");
    edge.wait_for_log(&format!("{PUSH_STOPPED} app=live stream=cam"), DEADLINE);
    assert_eq!(first_push(edge_api), None, "pushes end with the stream");
}

/// Kills a server by PID (SIGKILL) and waits for it to exit.
fn kill_hard(server: &mut ServerProcess) {
    let pid = server.pid().to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    server.wait_exit(DEADLINE);
}

/// Starts a recording server on exactly `addr`, once the port can be bound again.
fn restart_on(addr: SocketAddr, dir: &Path) -> ServerProcess {
    wait_until("origin port free again", DEADLINE, || TcpListener::bind(addr).is_ok());
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtmp-server"));
    command.args(["--listen", &addr.to_string(), "--http-listen", "127.0.0.1:0"]);
    command.args([
        "--log-level",
        "debug",
        "--record-all",
        "--record-dir",
        dir.to_str().unwrap(),
    ]);
    ServerProcess::start_command(command)
}

#[test]
fn a_restarted_origin_gets_a_clean_suffix_from_a_keyframe_and_the_edge_stays_exact() {
    let dir = TempDir::new("push-b");
    let clip = make_clip(dir.path(), "source.flv", 12);
    let clip_bytes = std::fs::metadata(&clip).unwrap().len();
    let mut origin = recording_server(&dir.path().join("origin1"), &[]);
    let origin_addr = origin.addr;
    let push = format!("rtmp://{origin_addr}/{{app}}/{{stream}}");
    let edge = recording_server(&dir.path().join("edge"), &["--push", &push]);
    let edge_api = api_addr(&edge);

    let mut ffmpeg = ffmpeg_publish(&clip, &edge.url("live/cam"), true);
    wait_until("a third of the clip pushed", DEADLINE, || {
        first_push(edge_api).is_some_and(|p| p["bytes"].as_u64() > Some(clip_bytes / 3))
    });
    kill_hard(&mut origin);
    edge.wait_for_log(&format!("{PUSH_FAILED} app=live stream=cam"), DEADLINE);
    let origin = restart_on(origin_addr, &dir.path().join("origin2"));
    edge.wait_for_logs(&format!("{PUSH_CONNECTED} app=live stream=cam"), 2, DEADLINE);
    wait_until("push reports the reconnect", DEADLINE, || {
        first_push(edge_api).is_some_and(|p| p["connected"] == true && p["retries"].as_u64() >= Some(1))
    });
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());

    let source = framemd5(&clip);
    assert_eq!(framemd5(&wait_recording_closed(&edge, "cam")), source, "edge recording");
    let second = wait_recording_closed(&origin, "cam");

    // Tag level: the second file's media is a contiguous tail of the source's, starting at
    // a video keyframe, every body identical, timestamps shifted by one constant.
    let source_tags = media_tags(&clip);
    let tail = media_tags(&second);
    let (first_type, _, first_body) = tail.first().expect("media in the second file");
    assert_eq!(
        (*first_type, first_body[0] >> 4),
        (9, 1),
        "starts with a video keyframe"
    );
    let start = source_tags
        .len()
        .checked_sub(tail.len())
        .expect("second file longer than source");
    assert!(start > 0, "the second file is a proper suffix");
    let shift = i64::from(source_tags[start].1) - i64::from(tail[0].1);
    for (i, (got, want)) in tail.iter().zip(&source_tags[start..]).enumerate() {
        assert_eq!((got.0, &got.2), (want.0, &want.2), "tag {i} of the suffix");
        assert_eq!(
            i64::from(want.1) - i64::from(got.1),
            shift,
            "timestamp shift at tag {i}"
        );
    }
    assert_eq!(sequence_headers(&second), sequence_headers(&clip));

    // framemd5: each stream's packets are a tail of the source's, one dts shift for all.
    assert_eq!(ffprobe_streams(&second), ffprobe_streams(&clip));
    let second_md5 = framemd5(&second);
    let mut dts_shift = None;
    for stream in ["0", "1"] {
        let of = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l.split(',').next().map(str::trim) == Some(stream))
                .cloned()
                .collect()
        };
        let (want, got) = (of(&source), of(&second_md5));
        assert!(
            !got.is_empty() && got.len() < want.len(),
            "stream {stream}: a proper tail"
        );
        let want_tail = &want[want.len() - got.len()..];
        assert_eq!(packet_hashes(&got), packet_hashes(want_tail), "stream {stream} packets");
        let (got_dts, want_dts) = (packet_dts(&got, stream), packet_dts(want_tail, stream));
        for (g, w) in got_dts.iter().zip(&want_dts) {
            assert_eq!(*dts_shift.get_or_insert(w - g), w - g, "stream {stream} dts shift");
        }
    }
}

#[test]
fn an_unreachable_upstream_retries_with_backoff_and_leaves_players_and_recording_alone() {
    let dir = TempDir::new("push-c");
    let clip = make_clip(dir.path(), "source.flv", 8);
    let push = format!("rtmp://127.0.0.1:{}/{{app}}/{{stream}}?key=SECRET123", closed_port());
    let edge = recording_server(&dir.path().join("edge"), &["--push", &push]);
    let edge_api = api_addr(&edge);

    let mut player = RtmpClient::connect(edge.addr, "live", DEADLINE).unwrap();
    player.play("cam").unwrap();
    let reader = std::thread::spawn(move || {
        let mut media = Vec::new();
        loop {
            match player.read_play_event().unwrap() {
                PlayEvent::Media(m) if m.type_id == 8 || m.type_id == 9 => media.push((m.type_id, m.payload)),
                PlayEvent::Status(code) if code == "NetStream.Play.UnpublishNotify" => return media,
                _ => {}
            }
        }
    });
    let mut ffmpeg = ffmpeg_publish(&clip, &edge.url("live/cam"), true);
    let failures = edge.wait_for_logs(&format!("{PUSH_FAILED} app=live stream=cam"), 3, DEADLINE);
    let delays: Vec<String> = failures.iter().map(|l| field(l, "retry_in_ms").unwrap()).collect();
    assert_eq!(delays, ["1000", "2000", "4000"], "backoff doubles from 1 s");
    let status = first_push(edge_api).unwrap();
    assert_eq!(status["connected"], false);
    assert!(status["retries"].as_u64() >= Some(3), "{status}");
    assert!(status["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{status}");
    assert!(status["url"].as_str().unwrap().ends_with("/live/cam?***"), "{status}");
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());

    let source = framemd5(&clip);
    assert_eq!(framemd5(&wait_recording_closed(&edge, "cam")), source, "recording");
    let played = reader.join().unwrap();
    let want: Vec<(u8, Vec<u8>)> = read_all(&std::fs::read(&clip).unwrap())
        .unwrap()
        .1
        .iter()
        .filter(|t| t.tag_type == 8 || t.tag_type == 9)
        .map(|t| (t.tag_type, t.body.to_vec()))
        .collect();
    assert_eq!(played.len(), want.len(), "player got every frame");
    assert!(played == want, "player frames identical to the source");
    edge.wait_for_log(&format!("{PUSH_STOPPED} app=live stream=cam"), DEADLINE);
    let secret_lines: Vec<String> = edge
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("SECRET123"))
        .collect();
    assert!(secret_lines.is_empty(), "the key leaked into the log: {secret_lines:?}");
}

/// GET /api/streams' `frames` of live/cam, 0 when the stream is not known.
fn stream_frames(api: SocketAddr) -> u64 {
    let body: serde_json::Value = serde_json::from_str(&http_get(api, "/api/streams")).unwrap();
    body["streams"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["app"] == "live" && s["stream"] == "cam"))
        .and_then(|s| s["frames"].as_u64())
        .unwrap_or(0)
}

/// Publishes live/cam to `server` and sends sequence headers plus `frames` audio and video
/// frames (a keyframe first and every 10th video frame) from `start` ms; returns the client
/// and how many messages it sent.
fn publish_frames(server: &ServerProcess, start: u32, frames: u32) -> (RtmpClient, u64) {
    use rtmp_server::media::FrameKind::{Audio, Video};
    let mut client = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    client.publish("cam").unwrap();
    client
        .send_frame(Video, start, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    client.send_frame(Audio, start, &[0xAF, 0, 0x12, 0x10]).unwrap();
    for n in 0..frames {
        let ts = start + n * 40;
        let key = if n % 10 == 0 { 0x17 } else { 0x27 };
        let mut video = vec![key, 1, 0, 0, 0];
        video.extend_from_slice(&(start + n).to_be_bytes());
        client.send_frame(Video, ts, &video).unwrap();
        client.send_frame(Audio, ts + 5, &[0xAF, 1, n as u8, 7]).unwrap();
    }
    client.round_trip().unwrap();
    (client, 2 + 2 * u64::from(frames))
}

#[test]
fn a_push_survives_a_takeover_and_a_lost_publisher_lets_the_origin_continue_its_file() {
    let dir = TempDir::new("push-d");
    let origin = recording_server(&dir.path().join("origin"), &[]);
    let origin_api = api_addr(&origin);
    let push = format!("rtmp://{}/{{app}}/{{stream}}", origin.addr);
    let edge = ServerProcess::start(&["--push", &push]);

    let (first, sent_a) = publish_frames(&edge, 0, 20);
    wait_until("origin got the first publisher's frames", DEADLINE, || {
        stream_frames(origin_api) == sent_a
    });
    let (second, sent_b) = publish_frames(&edge, 0, 20);
    edge.wait_for_log(PUBLISH_TAKEOVER, DEADLINE);
    wait_until(
        "origin got the second publisher's frames on the same publish",
        DEADLINE,
        || stream_frames(origin_api) == sent_a + sent_b,
    );
    drop(first);
    assert_eq!(
        edge.log_lines().iter().filter(|l| l.contains(PUSH_CONNECTED)).count(),
        1
    );

    // The second publisher is lost (no unpublish): the push only closes its connection, so
    // the origin parks its recording and continues it when the push returns.
    drop(second);
    origin.wait_for_log(&format!("{RECORDING_PARKED} app=live stream=cam"), DEADLINE);
    let (mut third, sent_c) = publish_frames(&edge, 0, 20);
    origin.wait_for_log(RECORDING_RESUMED, DEADLINE);
    third.unpublish().unwrap();
    let file = wait_recording_closed(&origin, "cam");
    edge.wait_for_logs(&format!("{PUSH_STOPPED} app=live stream=cam"), 2, DEADLINE);
    let closed = origin
        .log_lines()
        .iter()
        .filter(|l| l.contains(RECORDER_CLOSED))
        .count();
    assert_eq!(closed, 1, "one origin file for the whole session");
    let media = media_tags(&file);
    assert_eq!(
        media.len() as u64,
        sent_a + sent_b + sent_c - 6,
        "every frame of all three publishers"
    );
    let times: Vec<u32> = media.iter().map(|t| t.1).collect();
    assert!(
        times.windows(2).all(|w| w[1] + 40 >= w[0]),
        "origin file never goes back: {times:?}"
    );
}
