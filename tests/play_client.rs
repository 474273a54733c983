//! Live playback with the project's own client: a player waiting for its publisher, a
//! republish and a takeover (monotonic timestamps, no reconnect), fast start for Enhanced
//! RTMP video, and a stalled player that never hurts the publisher or other players.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::{field, ServerProcess, DEADLINE};
use rtmp_server::client::{PlayEvent, RtmpClient};
use rtmp_server::media::FrameKind;
use std::thread;
use std::time::Duration;

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
    server.wait_for_log("waiting_for_publisher=true", DEADLINE);

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
    let mut second = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    second.publish("take").unwrap();
    let line = server.wait_for_log("publish takeover", DEADLINE);
    assert!(field(&line, "replaced_conn_id").is_some());
    server.wait_for_log("reason=taken_over", DEADLINE);
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
    server.wait_for_log("publish conn_id=", DEADLINE);
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

#[test]
fn stalled_player_is_cut_off_without_slowing_the_publisher_or_other_players() {
    let server = ServerProcess::start(&["--play-max-lag", "1s"]);
    let mut stalled = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    stalled.play("busy").unwrap();
    let stalled_line = server.wait_for_log("waiting_for_publisher=true", DEADLINE);
    let stalled_id = field(&stalled_line, "conn_id").unwrap();
    let mut good = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    good.play("busy").unwrap();
    const FRAMES: u32 = 400;
    let reader = thread::spawn(move || {
        let media = read_until_status(&mut good, "NetStream.Play.UnpublishNotify");
        media.iter().filter(|m| m.0 == 9).count()
    });
    let mut publisher = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    publisher.publish("busy").unwrap();
    let big = vec![0x55u8; 100_000];
    for n in 0..FRAMES {
        let mut body = video(n % 10 == 0, n);
        body.extend_from_slice(&big);
        publisher.send_frame(FrameKind::Video, n * 40, &body).unwrap();
        publisher.flush().unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    publisher.unpublish().unwrap();
    server.wait_for_log(
        &format!("player falling behind, dropping frames until a keyframe conn_id={stalled_id} "),
        DEADLINE,
    );
    server.wait_for_log(
        &format!("player disconnected, too far behind conn_id={stalled_id} "),
        DEADLINE,
    );
    assert_eq!(
        reader.join().unwrap(),
        FRAMES as usize,
        "the reading player got every frame"
    );
    let logs = server.log_lines().join("\n");
    assert!(!logs.contains("recording stopped"), "{logs}");
    let rss = rss_kib(server.pid());
    assert!(
        rss < 300 * 1024,
        "server RSS {rss} KiB after 40 MB through a stalled player"
    );
    drop(stalled);
}

#[test]
fn play_wait_timeout_closes_a_player_whose_stream_never_starts() {
    let server = ServerProcess::start(&["--play-wait-timeout", "1s"]);
    let mut player = RtmpClient::connect(server.addr, "live", TIMEOUT).unwrap();
    player.play("never").unwrap();
    let line = server.wait_for_log("reason=play_wait_timeout", DEADLINE);
    assert!(line.contains("connection closed"), "{line}");
    assert!(matches!(
        player.read_play_event(),
        Err(rtmp_server::client::ClientError::Closed | rtmp_server::client::ClientError::Io(_))
    ));
}
