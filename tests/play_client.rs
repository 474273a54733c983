//! Live playback with the project's own client: a player waiting for its publisher, a
//! republish and a takeover (monotonic timestamps, no reconnect), fast start for Enhanced
//! RTMP video, and a stalled player that never hurts the publisher or other players.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::{api_stream, metric, wait_api_stream};
use common::log_contract::reason;
use common::{closed_line, field, wait_until, ServerProcess, DEADLINE};
use rtmp_server::client::{ClientError, PlayEvent, RtmpClient};
use rtmp_server::media::FrameKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

fn video(keyframe: bool, n: u32) -> Vec<u8> {
    vec![if keyframe { 0x17 } else { 0x27 }, 1, 0, 0, 0, n as u8, (n >> 8) as u8]
}

/// Publishes `count` video frames 40 ms apart from `start_ts`, keyframe every 10.
fn publish_frames(client: &mut RtmpClient, start_ts: u32, count: u32) {
    client
        .send_frame(FrameKind::Video, start_ts, &[0x17, 0, 0, 0, 0, 1, 0x64])
        .unwrap();
    for n in 0..count {
        client
            .send_frame(FrameKind::Video, start_ts + n * 40, &video(n % 10 == 0, n))
            .unwrap();
    }
    client.flush().unwrap();
}

/// Reads play events until `status` arrives; returns the media timestamps seen before it.
fn read_until_status(player: &mut RtmpClient, status: &str) -> Vec<(u8, u32, Vec<u8>)> {
    let mut media = Vec::new();
    loop {
        match player.read_play_event().unwrap() {
            PlayEvent::Media(m) => media.push((m.type_id, m.timestamp, m.payload)),
            PlayEvent::Status(code) if code == status => return media,
            PlayEvent::Status(_) => {}
        }
    }
}

#[test]
fn player_waits_for_publisher_and_follows_a_republish_with_monotonic_timestamps() {
    let server = ServerProcess::start(&[]);
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("later").unwrap();
    wait_api_stream(&server, "live", "later", |s| {
        s["players"] == 1 && s["publishing"] == false
    });

    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish("later").unwrap();
    publish_frames(&mut first, 5000, 30);
    first.unpublish().unwrap();
    let first_run = read_until_status(&mut player, "NetStream.Play.UnpublishNotify");
    let videos: Vec<_> = first_run.iter().filter(|m| m.0 == 9).collect();
    assert_eq!(videos.len(), 31, "sequence header and every frame");
    assert_eq!(videos[0].1, 0, "player timestamps start at 0");
    assert_eq!(videos[30].1, 29 * 40, "deltas kept exactly");

    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    second.publish("later").unwrap();
    publish_frames(&mut second, 0, 20);
    second.unpublish().unwrap();
    let second_run = read_until_status(&mut player, "NetStream.Play.UnpublishNotify");
    let stamps: Vec<u32> = second_run.iter().filter(|m| m.0 == 9).map(|m| m.1).collect();
    assert_eq!(stamps.len(), 21);
    assert!(
        stamps[0] > 29 * 40,
        "republish continues after the old timeline: {stamps:?}"
    );
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "monotonic: {stamps:?}");
    assert_eq!(stamps[20] - stamps[1], 19 * 40);
}

#[test]
fn takeover_replaces_the_publisher_while_players_keep_playing() {
    let server = ServerProcess::start(&[]);
    let mut first = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    first.publish("take").unwrap();
    publish_frames(&mut first, 0, 10);
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("take").unwrap();
    let before = wait_api_stream(&server, "live", "take", |s| s["players"] == 1);
    let kicks_before = metric(&server, "rtmp_kicks_total");
    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    second.publish("take").unwrap();
    let after = wait_api_stream(&server, "live", "take", |s| {
        s["publishing"] == true && s["publisher_conn_id"] != before["publisher_conn_id"]
    });
    assert_eq!(after["players"], 1, "the player stays: {after}");
    assert_eq!(
        metric(&server, "rtmp_kicks_total"),
        kicks_before + 1,
        "the old publisher was cut off"
    );
    // The replaced publisher's connection is closed by the server.
    first.socket().set_read_timeout(Some(TIMEOUT)).unwrap();
    let end = loop {
        if let Err(e) = first.read_play_event() {
            break e;
        }
    };
    assert!(
        !matches!(&end, ClientError::Io(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "the replaced publisher's connection stayed open"
    );
    publish_frames(&mut second, 100_000, 20);
    second.unpublish().unwrap();
    let media = read_until_status(&mut player, "NetStream.Play.UnpublishNotify");
    let stamps: Vec<u32> = media.iter().filter(|m| m.0 == 9).map(|m| m.1).collect();
    assert!(stamps.len() >= 21, "player got the new publisher's frames: {stamps:?}");
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "monotonic: {stamps:?}");
    assert!(
        stamps.last().unwrap() - stamps[0] < 10_000,
        "no jump to the new publisher's clock: {stamps:?}"
    );
}

#[test]
fn late_player_of_enhanced_rtmp_hevc_starts_at_the_sequence_start_and_last_keyframe() {
    let server = ServerProcess::start(&[]);
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("hevc").unwrap();
    let ex = |frame_type: u8, packet_type: u8, n: u8| {
        let mut body = vec![0x80 | (frame_type << 4) | packet_type];
        body.extend_from_slice(b"hvc1");
        body.push(n);
        body
    };
    publisher.send_frame(FrameKind::Video, 0, &ex(1, 0, 0)).unwrap();
    for n in 0..25u8 {
        let keyframe = n % 10 == 0;
        publisher
            .send_frame(
                FrameKind::Video,
                u32::from(n) * 40,
                &ex(if keyframe { 1 } else { 2 }, 1, n),
            )
            .unwrap();
    }
    publisher.flush().unwrap();
    // The player joins after frame 24: it must get SequenceStart, then frames 20..=24.
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    // Make sure the server has taken all 25 frames before the player joins.
    publisher.round_trip().unwrap();
    player.play("hevc").unwrap();
    publisher.send_frame(FrameKind::Video, 25 * 40, &ex(2, 1, 25)).unwrap();
    publisher.unpublish().unwrap();
    let media = read_until_status(&mut player, "NetStream.Play.UnpublishNotify");
    let numbers: Vec<u8> = media.iter().filter(|m| m.0 == 9).map(|m| m.2[5]).collect();
    assert_eq!(media[0].2[0] & 0x0F, 0, "first video is the SequenceStart");
    assert_eq!(numbers[1..], [20, 21, 22, 23, 24, 25], "from the last keyframe on");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A stalled player is cut off once it stays behind this long (`--play-max-lag`).
const MAX_LAG: &str = "1s";
/// Least video frames published (100 KB each: 40 MB through the stalled player).
const MIN_FRAMES: u32 = 400;
/// Most frames the publisher runs ahead of the reading player: 1.6 MB, far under the 8 MiB
/// player queue, so that player never falls behind however slowly this machine runs it.
const WINDOW: usize = 16;

#[test]
fn stalled_player_is_cut_off_without_slowing_the_publisher_or_other_players() {
    let server = ServerProcess::start(&["--play-max-lag", MAX_LAG]);
    // The stalled player never reads after its play() returned: its socket buffers fill,
    // then its queue, then it drops frames, and MAX_LAG later it is disconnected.
    let mut stalled = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    stalled.play("busy").unwrap();
    let mut good = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    good.play("busy").unwrap();
    wait_api_stream(&server, "live", "busy", |s| s["players"] == 2);
    let kicks_before = metric(&server, "rtmp_kicks_total");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let reader = thread::spawn(move || loop {
        match good.read_play_event().unwrap() {
            PlayEvent::Media(m) if m.type_id == 9 => {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            PlayEvent::Status(code) if code == "NetStream.Play.UnpublishNotify" => {
                return counter.load(Ordering::SeqCst);
            }
            _ => {}
        }
    });
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("busy").unwrap();
    let big = vec![0x55u8; 100_000];
    let started = Instant::now();
    // Publishes (paced like an encoder, and never more than WINDOW frames ahead of the
    // reading player) until the server has cut the stalled player off; a server that waited
    // for the stalled player would block the publisher here until the deadline.
    let mut sent = 0u32;
    loop {
        wait_until("the reading player keeps up", DEADLINE, || {
            received.load(Ordering::SeqCst) + WINDOW > sent as usize
        });
        let mut body = video(sent.is_multiple_of(10), sent);
        body.extend_from_slice(&big);
        publisher.send_frame(FrameKind::Video, sent * 40, &body).unwrap();
        publisher.flush().unwrap();
        sent += 1;
        thread::sleep(Duration::from_millis(5)); // the encoder's pace, not a synchronisation
        if sent >= MIN_FRAMES && sent.is_multiple_of(10) && metric(&server, "rtmp_kicks_total") > kicks_before {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "the stalled player was not cut off after {sent} frames"
        );
    }
    assert_eq!(
        metric(&server, "rtmp_kicks_total"),
        kicks_before + 1,
        "only the stalled player was cut off"
    );
    assert!(
        metric(&server, "rtmp_player_dropped_frames_total") > 0,
        "the stalled player dropped frames before it was cut off"
    );
    let busy = api_stream(&server, "live", "busy").expect("the stream goes on");
    assert_eq!(busy["players"], 1, "the reading player still plays: {busy}");
    publisher.round_trip().expect("the publisher was disturbed");
    publisher.unpublish().unwrap();
    assert_eq!(
        reader.join().unwrap(),
        sent as usize,
        "the reading player got every frame"
    );
    // The stalled player's connection was closed by the server: what its socket buffers
    // still hold, then the end (a server that kept it would time this read out).
    stalled.socket().set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut stalled_frames = 0;
    let end = loop {
        match stalled.read_play_event() {
            Ok(PlayEvent::Media(m)) if m.type_id == 9 => stalled_frames += 1,
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        !matches!(&end, ClientError::Io(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "the stalled player's connection stayed open"
    );
    eprintln!("{sent} frames published, the stalled player got {stalled_frames}");
    assert!(
        stalled_frames < sent,
        "the stalled player got {stalled_frames} of {sent} frames: it was never behind"
    );
    let rss = rss_kib(server.pid());
    assert!(
        rss < 300 * 1024,
        "server RSS {rss} KiB after {} MB through a stalled player",
        sent / 10
    );
}

#[test]
fn play_wait_timeout_closes_a_player_whose_stream_never_starts() {
    let server = ServerProcess::start(&["--play-wait-timeout", "1s"]);
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("never").unwrap();
    let line = closed_line(&server, player.socket().local_addr().unwrap());
    assert_eq!(
        field(&line, "reason").as_deref(),
        Some(reason::PLAY_WAIT_TIMEOUT),
        "{line}"
    );
    assert!(matches!(
        player.read_play_event(),
        Err(ClientError::Closed | ClientError::Io(_))
    ));
}
