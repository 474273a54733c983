//! Stream: generations, the timeline across republishes, fast start from the GOP cache.

use super::*;
use crate::live::player::{player_channel, PlayerItem, PlayerWriterInput};
use crate::media::gop_cache::DEFAULT_GOP_CACHE_BYTES;

fn stream() -> Stream {
    Stream::new(
        StreamKey {
            app: "live".into(),
            stream: "s".into(),
        },
        DEFAULT_GOP_CACHE_BYTES,
    )
}

fn frame(kind: FrameKind, timestamp: u32, first_byte: u8) -> Frame {
    Frame::new(kind, timestamp, Arc::from(vec![first_byte, 1, 0, 0, 0]))
}

fn player(conn_id: u64) -> (PlayerHandle, PlayerWriterInput) {
    let (_tx, control) = crossbeam_channel::bounded(1);
    player_channel(conn_id, Default::default(), control)
}

fn received(input: &PlayerWriterInput) -> Vec<(FrameKind, u32)> {
    input
        .media
        .try_iter()
        .filter_map(|item| match item {
            PlayerItem::Media(m) => Some((m.kind, m.timestamp)),
            PlayerItem::Notice(_) | PlayerItem::Wake => None,
        })
        .collect()
}

#[test]
fn late_player_starts_with_headers_and_the_last_gop() {
    let stream = stream();
    let (generation, _) = stream.begin_publish(1);
    let header = Frame::new(FrameKind::Video, 0, Arc::from(vec![0x17, 0, 0, 0, 0]));
    stream.push(generation, &header, false);
    stream.push(generation, &frame(FrameKind::Video, 0, 0x17), false);
    stream.push(generation, &frame(FrameKind::Video, 40, 0x27), false);
    stream.push(generation, &frame(FrameKind::Video, 80, 0x17), false);
    stream.push(generation, &frame(FrameKind::Audio, 81, 0xAF), false);
    let (handle, input) = player(2);
    assert_eq!(stream.add_player(handle), Some(80));
    stream.push(generation, &frame(FrameKind::Video, 120, 0x27), false);
    let got = received(&input);
    assert_eq!(
        got,
        vec![
            (FrameKind::Video, 0),
            (FrameKind::Video, 80),
            (FrameKind::Audio, 81),
            (FrameKind::Video, 120)
        ]
    );
}

#[test]
fn taken_over_publisher_frames_are_ignored_and_timeline_continues() {
    let stream = stream();
    let (first, _) = stream.begin_publish(1);
    let (handle, input) = player(9);
    stream.add_player(handle);
    stream.push(first, &frame(FrameKind::Video, 1000, 0x17), false);
    stream.push(first, &frame(FrameKind::Video, 1040, 0x27), false);
    let (second, replaced) = stream.begin_publish(2);
    assert_eq!(replaced, Some(1));
    stream.push(first, &frame(FrameKind::Video, 1080, 0x27), false);
    stream.push(second, &frame(FrameKind::Video, 0, 0x17), false);
    stream.push(second, &frame(FrameKind::Video, 40, 0x27), false);
    let stamps: Vec<u32> = received(&input).into_iter().map(|(_, ts)| ts).collect();
    assert_eq!(stamps, vec![1000, 1040, 1041, 1081], "monotonic across the takeover");
    assert!(
        !stream.end_publish(first),
        "the old generation cannot end the new publish"
    );
    assert!(stream.end_publish(second));
}

#[test]
fn delivery_reports_count_the_frames_dropped_for_players_behind() {
    let stream = stream();
    let (generation, _) = stream.begin_publish(1);
    let (_tx, control) = crossbeam_channel::bounded(1);
    let limits = crate::live::player::PlayerLimits {
        queue_bytes: 12,
        max_lag: std::time::Duration::from_secs(600),
    };
    // Nobody runs the writer: the 12-byte queue takes two 5-byte frames, then drops.
    let (slow, _slow_input) = player_channel(2, limits, control);
    stream.add_player(slow);
    // A player that joins mid-GOP skips to the next keyframe: not a drop.
    let (waiting, _waiting_input) = player(3);
    let mut waiting = Some(waiting);
    let mut dropped = 0;
    for ts in 0..10u32 {
        if ts == 1 {
            stream.add_player(waiting.take().unwrap());
        }
        let first = if ts == 0 { 0x17 } else { 0x27 };
        dropped += stream
            .push(generation, &frame(FrameKind::Video, ts * 40, first), false)
            .dropped;
    }
    assert_eq!(dropped, 8);
    assert_eq!(stream.player_count(), 2);
}
