//! HLS from memory (`--hls`, `GET /hls/APP/STREAM/index.m3u8`): FFmpeg as an HLS client
//! during a real-time publish gets a contiguous run of the source's packets from a keyframe
//! to the end; low-latency HLS blocks a playlist reload until the part asked for exists
//! (judged by the part being in the answer) and its playlists follow the RFC's rules; viewers
//! are governed like players (play keys: 403 without, 200 with), a session is one player in
//! the API and ends with play_done after `--hls-session-idle`; segments need a session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::hls::{assert_contiguous_run, get, get_text, keyframe_hashes, open_session, Playlist};
use common::http::{api_addr, http_request, wait_api_stream};
use common::players::{ffmpeg_player, framemd5_lines};
use common::webhook::Receiver;
use common::*;
use std::time::Instant;

#[test]
fn an_ffmpeg_hls_viewer_gets_a_contiguous_run_of_the_source_from_a_keyframe() {
    let dir = TempDir::new("hls-ffmpeg");
    let clip = make_clip(dir.path(), "clip.flv", 12);
    let server = ServerProcess::start(&["--hls", "--hls-segment", "1s"]);
    let api = api_addr(&server);
    assert_eq!(get(api, "/hls/live/s/index.m3u8").0, 404, "nothing published");
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/s"), true);
    wait_api_stream(&server, "live", "s", |s| s["publishing"] == true);
    // Two finished segments before the viewer starts (FFmpeg starts near the live edge).
    let (uri, _) = open_session(api, "live", "s", "");
    let deadline = Instant::now() + DEADLINE;
    while Playlist::parse(&get_text(api, &format!("/hls/live/s/{uri}")))
        .segments
        .len()
        < 2
    {
        assert!(Instant::now() < deadline, "segments appear");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = dir.path().join("viewer.framemd5");
    let mut viewer = ffmpeg_player(&format!("http://{api}/hls/live/s/index.m3u8"), &out);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    assert!(
        wait_child(&mut viewer, DEADLINE).success(),
        "the viewer reads to the playlist's end"
    );
    let source = framemd5(&clip);
    let keyframes = keyframe_hashes(&clip, &source);
    assert_contiguous_run("hls viewer", &source, &framemd5_lines(&out), &keyframes);
}

#[test]
fn a_blocking_reload_answers_once_the_part_exists_and_playlists_follow_the_rules() {
    let dir = TempDir::new("hls-ll");
    let clip = make_clip(dir.path(), "clip.flv", 10);
    let server = ServerProcess::start(&["--hls", "--hls-segment", "1s", "--hls-part", "300ms"]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/ll"), true);
    wait_api_stream(&server, "live", "ll", |s| s["publishing"] == true);
    let (uri, session) = open_session(api, "live", "ll", "");
    let playlist_path = format!("/hls/live/ll/{uri}");
    let deadline = Instant::now() + DEADLINE;
    let mut playlist = Playlist::parse(&get_text(api, &playlist_path));
    while playlist.segments.is_empty() {
        assert!(Instant::now() < deadline, "a segment appears");
        std::thread::sleep(std::time::Duration::from_millis(100));
        playlist = Playlist::parse(&get_text(api, &playlist_path));
    }
    playlist.validate(&session);

    // The hinted part does not exist yet; a blocking request for it answers once it does.
    let mut sequences = vec![playlist.media_sequence];
    for _ in 0..4 {
        let hint = playlist
            .preload_hint
            .clone()
            .expect("a live playlist hints its next part");
        let (msn, part) = Playlist::part_position(&hint);
        assert!(!playlist.lists_part(msn, part), "the hinted part is not listed yet");
        let blocked = get_text(api, &format!("{playlist_path}&_HLS_msn={msn}&_HLS_part={part}"));
        playlist = Playlist::parse(&blocked);
        playlist.validate(&session);
        // The part, or (when its segment ended first) the next segment's first part.
        let answered =
            playlist.lists_part(msn, part) || (playlist.last_segment() >= Some(msn) && playlist.lists_part(msn + 1, 0));
        assert!(answered, "the answer holds part {msn}.{part}:\n{blocked}");
        sequences.push(playlist.media_sequence);
        // The parts, segments and init it names are there.
        for (_, uri) in playlist
            .parts
            .iter()
            .rev()
            .take(2)
            .chain(playlist.segments.iter().rev().take(1))
        {
            let (status, body) = get(api, &format!("/hls/live/ll/{uri}"));
            assert_eq!(status, 200, "{uri}");
            assert_eq!(&body[4..8], b"moof", "{uri} is a fragment");
        }
    }
    let (status, init) = get(api, &format!("/hls/live/ll/{}", playlist.map.as_ref().unwrap()));
    assert_eq!((status, &init[4..8]), (200, &b"ftyp"[..]));
    assert!(sequences.windows(2).all(|w| w[0] <= w[1]), "{sequences:?}");
    // Far ahead is a client error; a bad number too.
    let last = playlist.last_segment().unwrap();
    assert_eq!(get(api, &format!("{playlist_path}&_HLS_msn={}", last + 10)).0, 400);
    assert_eq!(get(api, &format!("{playlist_path}&_HLS_msn=x")).0, 400);
    assert!(wait_child(&mut publisher, DEADLINE).success());
    // The stream ended: the playlist says so.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let ended = Playlist::parse(&get_text(api, &playlist_path));
        if ended.ended {
            ended.validate(&session);
            assert!(ended.segments.len() >= 2);
            break;
        }
        assert!(Instant::now() < deadline, "the playlist ends");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let sequences_total = sequences.len();
    assert!(sequences_total >= 5);
}

#[test]
fn play_keys_govern_hls_and_a_session_is_one_player_until_idle() {
    let dir = TempDir::new("hls-keys");
    let keys = dir.path().join("play.keys");
    std::fs::write(&keys, "live/* hls-secret-7\n").unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 20);
    let receiver = Receiver::answering(200);
    let hook = receiver.url("/hook");
    let server = ServerProcess::start(&[
        "--hls",
        "--hls-session-idle",
        "4s",
        "--play-keys",
        keys.to_str().unwrap(),
        "--on-play-done",
        &hook,
    ]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/cam"), true);
    wait_api_stream(&server, "live", "cam", |s| s["publishing"] == true);
    assert_eq!(get(api, "/hls/live/cam/index.m3u8").0, 403, "no key");
    assert_eq!(get(api, "/hls/live/cam/index.m3u8?key=wrong").0, 403);
    assert_eq!(get(api, "/hls/live/cam/seg0.m4s").0, 403, "no session");
    assert_eq!(
        get(api, "/hls/live/cam/index.m3u8?session=00ff").0,
        403,
        "unknown session"
    );
    let (uri, session) = open_session(api, "live", "cam", "key=hls-secret-7");
    assert_eq!(
        get(api, &format!("/hls/live/other/index.m3u8?{session}")).0,
        403,
        "another stream's session"
    );
    // Reloads and media go by the session, not decided again.
    let text = get_text(api, &format!("/hls/live/cam/{uri}"));
    assert!(text.contains("#EXT-X-MAP:URI=\"init0.mp4?session="), "{text}");
    let stream = wait_api_stream(&server, "live", "cam", |s| s["players"] == 1);
    assert_eq!(stream["players"], 1, "one session, one player");
    assert_eq!(stream["hls"], true, "the API says HLS is served");
    assert_eq!(common::http::metric(&server, "rtmp_hls_sessions"), 1);
    let events = http_request(api, "GET", "/api/events", &[]).json();
    let started: Vec<&serde_json::Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "play_started")
        .collect();
    assert_eq!(started.len(), 1, "{events}");
    let conn_id = started[0]["conn_id"].clone();

    // No more requests: after the idle time the session ends, play_done is told.
    let done = receiver.wait("play_done", "cam").json();
    assert_eq!(done["conn_id"], conn_id);
    assert_eq!(done["app"], "live");
    wait_api_stream(&server, "live", "cam", |s| s["players"] == 0);
    assert_eq!(get(api, &format!("/hls/live/cam/{uri}")).0, 403, "the session is gone");
    let events = http_request(api, "GET", "/api/events", &[]).json();
    let stopped = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "play_stopped")
        .cloned()
        .unwrap();
    assert_eq!((&stopped["conn_id"], &stopped["reason"]), (&conn_id, &"idle".into()));
    assert!(
        !server.log_lines().iter().any(|l| l.contains("hls-secret-7")),
        "the key is never logged"
    );
    publisher.kill().unwrap();
    publisher.wait().unwrap();
}

#[test]
fn hls_off_for_the_stream_is_404() {
    let dir = TempDir::new("hls-off");
    let clip = make_clip(dir.path(), "clip.flv", 4);
    let server = ServerProcess::start(&[]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&clip, &server.url("live/x"), true);
    wait_api_stream(&server, "live", "x", |s| s["publishing"] == true);
    assert_eq!(get(api, "/hls/live/x/index.m3u8").0, 404);
    assert!(wait_child(&mut publisher, DEADLINE).success());
}

#[test]
fn an_app_table_turns_hls_on_for_its_streams_only() {
    let dir = TempDir::new("hls-app");
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "[[app]]\nmatch = \"cams/*\"\nhls = true\n").unwrap();
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);
    let api = api_addr(&server);
    let mut cam = ffmpeg_publish(&clip, &server.url("cams/door"), true);
    let mut other = ffmpeg_publish(&clip, &server.url("live/door"), true);
    wait_api_stream(&server, "cams", "door", |s| s["publishing"] == true);
    wait_api_stream(&server, "live", "door", |s| s["publishing"] == true);
    let (uri, session) = open_session(api, "cams", "door", "");
    assert!(uri.starts_with("index.m3u8?session="), "{uri}");
    assert!(session.len() > "session=".len() + 16, "an unguessable id: {session}");
    assert_eq!(get(api, "/hls/live/door/index.m3u8").0, 404, "HLS off there");
    assert_eq!(wait_api_stream(&server, "live", "door", |_| true)["hls"], false);
    assert!(wait_child(&mut cam, DEADLINE).success());
    assert!(wait_child(&mut other, DEADLINE).success());
}

#[test]
fn a_takeover_with_another_resolution_brings_a_discontinuity_and_a_new_init() {
    let dir = TempDir::new("hls-takeover");
    let first = make_clip(dir.path(), "first.flv", 20);
    let second = dir.path().join("second.flv");
    run_ok(
        std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=15:duration=10",
            ])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "15",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "flv",
            ])
            .arg(&second),
    );
    let server = ServerProcess::start(&["--hls", "--hls-segment", "1s"]);
    let api = api_addr(&server);
    let mut publisher = ffmpeg_publish(&first, &server.url("live/t"), true);
    wait_api_stream(&server, "live", "t", |s| s["publishing"] == true);
    let (uri, session) = open_session(api, "live", "t", "");
    let path = format!("/hls/live/t/{uri}");
    let deadline = Instant::now() + DEADLINE;
    while Playlist::parse(&get_text(api, &path)).segments.is_empty() {
        assert!(Instant::now() < deadline, "a segment appears");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut newcomer = ffmpeg_publish(&second, &server.url("live/t"), true);
    let text = loop {
        let text = get_text(api, &path);
        if text.contains("#EXT-X-DISCONTINUITY\n") {
            break text;
        }
        assert!(Instant::now() < deadline, "a discontinuity after the takeover:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    Playlist::parse(&text).validate(&session);
    assert!(text.contains("#EXT-X-MAP:URI=\"init1.mp4?"), "{text}");
    let (status, old) = get(api, &format!("/hls/live/t/init0.mp4?{session}"));
    assert_eq!(status, 200);
    let (status, new) = get(api, &format!("/hls/live/t/init1.mp4?{session}"));
    assert_eq!((status, &new[4..8]), (200, &b"ftyp"[..]));
    assert_ne!(old, new, "the new codec parameters are in the new init segment");
    assert!(wait_child(&mut newcomer, DEADLINE).success());
    let _ = wait_child(&mut publisher, DEADLINE);
}

#[test]
fn a_viewer_before_the_first_part_waits_for_it_and_its_init_exists() {
    use rtmp_server::client::RtmpClient;
    use rtmp_server::flv::reader::read_all;
    use rtmp_server::media::{Frame, FrameKind};
    let dir = TempDir::new("hls-early");
    let clip = std::fs::read(make_clip(dir.path(), "clip.flv", 4)).unwrap();
    let (_, tags) = read_all(&clip).unwrap();
    let kind = |t: u8| match t {
        8 => FrameKind::Audio,
        9 => FrameKind::Video,
        _ => FrameKind::Data,
    };
    let server = ServerProcess::start(&["--hls"]);
    let api = api_addr(&server);
    let mut client = RtmpClient::connect(server.addr, "live", DEADLINE).unwrap();
    client.publish("early").unwrap();
    // Metadata and sequence headers only: published, nothing to cut yet.
    let first_media = tags
        .iter()
        .position(|t| {
            let frame = Frame::new(kind(t.tag_type), t.timestamp, std::sync::Arc::new(t.body.to_vec()));
            frame.info.coded
        })
        .unwrap();
    for tag in &tags[..first_media] {
        client.send_frame(kind(tag.tag_type), tag.timestamp, tag.body).unwrap();
    }
    wait_api_stream(&server, "live", "early", |s| s["publishing"] == true);
    let (uri, _) = open_session(api, "live", "early", "");
    let path = format!("/hls/live/early/{uri}");
    let waiting = std::thread::spawn(move || get_text(api, &path));
    for tag in &tags[first_media..] {
        client.send_frame(kind(tag.tag_type), tag.timestamp, tag.body).unwrap();
    }
    let text = waiting.join().unwrap();
    let map = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no EXT-X-MAP: {text}"))
        .to_owned();
    assert!(text.contains("#EXT-X-PART:"), "the first part is listed: {text}");
    let (status, init) = get(api, &format!("/hls/live/early/{map}"));
    assert_eq!(status, 200, "{map}");
    assert_eq!(&init[4..8], b"ftyp");
}
