//! Player queue policy: never blocks, drops to the next keyframe when behind, disconnects
//! a player that stays behind too long.

use super::*;
use crate::live::drop_policy::EvictReason;
use crate::live::player_direct::PlayerClock;
use crate::server::player_writer::run_writer;
use std::time::Duration;

fn media(kind: FrameKind, timestamp: u32, keyframe: bool, len: usize) -> Arc<SharedMedia> {
    Arc::new(SharedMedia::new(
        kind,
        timestamp,
        keyframe,
        false,
        Arc::from(vec![0u8; len]),
    ))
}

fn handle(queue_bytes: usize) -> (PlayerHandle, PlayerWriterInput) {
    let (_tx, control) = crossbeam_channel::bounded(1);
    player_channel(
        1,
        PlayerLimits {
            queue_bytes,
            max_lag: Duration::from_secs(5),
        },
        control,
    )
}

#[test]
fn new_player_waits_for_a_keyframe_then_takes_everything() {
    let (mut player, input) = handle(1 << 20);
    let now = Instant::now();
    assert_eq!(
        player.offer(&media(FrameKind::Video, 0, false, 10), true, now, false),
        Offer::Dropped
    );
    assert_eq!(
        player.offer(&media(FrameKind::Audio, 0, false, 10), true, now, false),
        Offer::Dropped
    );
    assert_eq!(
        player.offer(&media(FrameKind::Video, 40, true, 10), true, now, false),
        Offer::Queued
    );
    assert_eq!(
        player.offer(&media(FrameKind::Audio, 41, false, 10), true, now, false),
        Offer::Queued
    );
    assert_eq!(input.media.len(), 2);
    assert_eq!(input.queued_bytes.load(Ordering::Relaxed), 20);
}

#[test]
fn stalled_player_drops_until_a_keyframe_and_is_disconnected_after_the_lag_limit() {
    let (mut player, input) = handle(100);
    let start = Instant::now();
    assert_eq!(
        player.offer(&media(FrameKind::Video, 0, true, 60), true, start, false),
        Offer::Queued
    );
    assert_eq!(
        player.offer(&media(FrameKind::Video, 40, false, 60), true, start, false),
        Offer::Dropped
    );
    assert!(player.is_behind());
    // Nothing is drained: a keyframe does not fit under half the budget either.
    let later = start + Duration::from_secs(1);
    assert_eq!(
        player.offer(&media(FrameKind::Video, 80, true, 10), true, later, false),
        Offer::Dropped
    );
    let too_late = start + Duration::from_secs(6);
    assert_eq!(
        player.offer(&media(FrameKind::Video, 120, false, 10), true, too_late, false),
        Offer::Evicted(EvictReason::TooSlow)
    );
    assert_eq!(player.dropped_total(), 2);
    assert_eq!(
        input.evicted(),
        Some(EvictReason::TooSlow),
        "the reading side is told why"
    );
}

#[test]
fn player_resumes_at_a_keyframe_once_drained() {
    let (mut player, input) = handle(100);
    let now = Instant::now();
    player.offer(&media(FrameKind::Video, 0, true, 60), true, now, false);
    assert_eq!(
        player.offer(&media(FrameKind::Audio, 1, false, 60), true, now, false),
        Offer::Dropped
    );
    // The writer drains the queue.
    while let Ok(PlayerItem::Media(m)) = input.media.try_recv() {
        input.queued_bytes.fetch_sub(m.payload.len(), Ordering::Relaxed);
    }
    assert_eq!(
        player.offer(&media(FrameKind::Video, 40, false, 10), true, now, false),
        Offer::Dropped
    );
    assert_eq!(
        player.offer(&media(FrameKind::Video, 80, true, 10), true, now, false),
        Offer::Queued
    );
    assert!(!player.is_behind());
}

#[test]
fn sequence_headers_and_metadata_are_never_dropped() {
    // 100 bytes of essentials against a 50-byte budget: over it, within the overdraft.
    let (mut player, input) = handle(50);
    let now = Instant::now();
    let header = Arc::new(SharedMedia::new(
        FrameKind::Video,
        0,
        true,
        true,
        Arc::from(vec![0u8; 50]),
    ));
    let metadata = media(FrameKind::Data, 0, false, 50);
    assert_eq!(player.offer(&header, true, now, false), Offer::Queued);
    assert_eq!(player.offer(&metadata, true, now, false), Offer::Queued);
    assert_eq!(input.media.len(), 2);
}

#[test]
fn gone_writer_means_disconnect() {
    let (mut player, input) = handle(1000);
    drop(input);
    assert_eq!(
        player.offer(&media(FrameKind::Video, 0, true, 1), true, Instant::now(), false),
        Offer::Evicted(EvictReason::Gone)
    );
}

#[test]
fn player_clock_starts_at_zero_and_clamps_earlier_frames() {
    let mut clock = PlayerClock::default();
    let header = SharedMedia::new(FrameKind::Video, 5000, true, true, Arc::from(vec![0u8; 1]));
    assert_eq!(clock.out(&header), 0);
    assert_eq!(clock.out(&media(FrameKind::Video, 60_000, true, 1)), 0);
    assert_eq!(clock.out(&media(FrameKind::Audio, 60_023, false, 1)), 23);
    assert_eq!(clock.out(&media(FrameKind::Audio, 59_990, false, 1)), 0);
}

/// The direct path and the writer thread share one socket: whatever mix of direct sends,
/// partial sends and queued frames a slow reader causes, the player receives every frame
/// once, in order, intact.
#[test]
fn direct_and_queued_delivery_keep_a_players_bytes_in_order() {
    deliver_and_check_order(|_| false);
}

/// The same with coalescing: runs of held frames leave in one vectored send (flushed as a
/// stream's window would, or with the next frame not held), among direct and queued sends.
#[test]
fn held_runs_keep_a_players_bytes_in_order() {
    deliver_and_check_order(|i| i % 7 != 0);
}

fn deliver_and_check_order(hold: fn(u32) -> bool) {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let (_control_tx, control) = crossbeam_channel::bounded(1);
    let limits = PlayerLimits {
        queue_bytes: 256 * 1024 * 1024,
        max_lag: Duration::from_secs(600),
    };
    let (mut player, input) = player_channel(1, limits, control);
    let writer = std::thread::spawn(move || run_writer(server_side, input, 1, 4096, None));
    // Direct sends begin once the writer has handed the socket back (nothing queued).
    let deadline = Instant::now() + Duration::from_secs(30);
    while player.direct.lock().writer_owns {
        assert!(Instant::now() < deadline, "writer never handed the socket back");
        std::thread::yield_now();
    }
    let mut sent = Vec::new();
    let mut writer_took_over = false;
    for i in 0..1000u32 {
        // Every 97th frame needs more slices than one direct send takes (171 chunks).
        let len = if i % 97 == 50 {
            700_000
        } else {
            [90usize, 5_000, 70_000, 300][i as usize % 4]
        };
        let payload: Vec<u8> = (0..len)
            .map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8)
            .collect();
        let kind = if i % 2 == 0 { FrameKind::Video } else { FrameKind::Audio };
        // The second half runs past 0xFFFFFF on the player's clock (extended timestamps in
        // every chunk, as after 4 h 40 min of play).
        let out = if i < 500 { i * 20 } else { 0xFF_FF00 + i * 20 };
        let frame = Arc::new(SharedMedia::new(
            kind,
            1000 + out,
            i == 0,
            false,
            Arc::new(payload.clone()),
        ));
        assert_eq!(
            player.offer(&frame, true, Instant::now(), hold(i)),
            Offer::Queued,
            "frame {i}"
        );
        if i % 11 == 3 {
            assert_eq!(player.flush(Instant::now()), Offer::Queued);
        }
        sent.push((kind.tag_type(), out, payload));
        writer_took_over |= player.direct.lock().writer_owns;
    }
    // 26 MB unread: the socket filled up, so the writer had to take over at some point.
    assert!(writer_took_over);
    assert_eq!(player.flush(Instant::now()), Offer::Queued);
    drop(player); // the writer drains its queue, then closes the socket
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    writer.join().unwrap();
    let got = decode_frames(&wire);
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "frames differ");
}

/// (type id, timestamp, payload) of every message in a player's wire bytes (chunk size 4096).
fn decode_frames(wire: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
    use crate::protocol::chunk::{ChunkDecoder, ChunkLimits};
    let mut decoder = ChunkDecoder::new(ChunkLimits::default());
    decoder.set_chunk_size(4096).unwrap();
    let mut rest = wire;
    let mut got = Vec::new();
    while !rest.is_empty() {
        let decoded = decoder.decode(rest).unwrap();
        assert!(
            decoded.consumed > 0 || decoded.message.is_some(),
            "stuck with {} bytes",
            rest.len()
        );
        rest = &rest[decoded.consumed..];
        if let Some(m) = decoded.message {
            got.push((m.type_id, m.timestamp, m.payload));
        }
    }
    got
}

#[test]
fn a_reading_player_gets_extended_timestamps_and_huge_frames_by_direct_sends() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let reader = std::thread::spawn(move || {
        let mut wire = Vec::new();
        client.read_to_end(&mut wire).unwrap();
        wire
    });
    let (_control_tx, control) = crossbeam_channel::bounded(1);
    let limits = PlayerLimits {
        queue_bytes: 64 * 1024 * 1024,
        max_lag: Duration::from_secs(600),
    };
    let (mut player, input) = player_channel(1, limits, control);
    let writer = std::thread::spawn(move || run_writer(server_side, input, 1, 4096, Some(1000)));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = Vec::new();
    let mut extended_direct = 0;
    for i in 0..200u32 {
        // Wait for the writer to hand the socket back, so this frame may go out directly.
        while player.direct.lock().writer_owns {
            assert!(Instant::now() < deadline, "writer never handed the socket back");
            std::thread::yield_now();
        }
        let before = player.direct.lock().sent_direct;
        let len = if i % 10 == 5 {
            1_000_000
        } else {
            3_000 + i as usize * 100
        };
        let payload: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
        let out = 0xFF_FF00 + i * 20;
        let frame = Arc::new(SharedMedia::new(
            FrameKind::Video,
            1000 + out,
            i == 0,
            false,
            Arc::new(payload.clone()),
        ));
        assert_eq!(
            player.offer(&frame, true, Instant::now(), false),
            Offer::Queued,
            "frame {i}"
        );
        // A full socket (the reader lagging) sends a frame to the queue instead; count.
        if out > 0xFF_FFFF && player.direct.lock().sent_direct > before {
            extended_direct += 1;
        }
        sent.push((9u8, out, payload));
    }
    assert!(
        extended_direct > 0,
        "no frame with an extended timestamp was sent directly"
    );
    drop(player);
    writer.join().unwrap();
    let got = decode_frames(&reader.join().unwrap());
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "frames differ");
}

#[test]
fn the_queue_holds_at_most_player_queue_items() {
    let (mut player, input) = handle(1 << 30);
    let now = Instant::now();
    assert_eq!(
        player.offer(&media(FrameKind::Video, 0, true, 1), true, now, false),
        Offer::Queued
    );
    for i in 1..PLAYER_QUEUE_ITEMS {
        let frame = media(FrameKind::Audio, i as u32, false, 1);
        assert_eq!(player.offer(&frame, true, now, false), Offer::Queued, "item {i}");
    }
    let one_more = media(FrameKind::Audio, 0, false, 1);
    assert_eq!(player.offer(&one_more, true, now, false), Offer::Dropped);
    assert_eq!(input.media.len(), PLAYER_QUEUE_ITEMS);
}

#[test]
fn a_flood_of_script_data_to_a_stalled_player_is_bounded_by_disconnecting_it() {
    let (mut player, _input) = handle(1000);
    let now = Instant::now();
    let data = |ts| {
        Arc::new(SharedMedia::new(
            FrameKind::Data,
            ts,
            false,
            false,
            Arc::from(vec![0u8; 300]),
        ))
    };
    // Nobody reads: script data is kept past the 1000-byte budget, up to twice it.
    let mut offers = Vec::new();
    for ts in 0..10 {
        offers.push(player.offer(&data(ts), true, now, false));
    }
    let kept = offers.iter().filter(|o| **o == Offer::Queued).count();
    assert_eq!(kept, 2000 / 300, "{offers:?}");
    assert_eq!(
        offers.get(kept),
        Some(&Offer::Evicted(EvictReason::EssentialOverflow)),
        "{offers:?}"
    );
}

#[test]
fn a_frame_goes_out_in_place_between_the_players_own_headers() {
    let large = media(FrameKind::Video, 0, true, 5000);
    let (mut head, mut continuation) = (Vec::new(), Vec::new());
    large.player_headers(40, 1, &mut head, &mut continuation);
    let wire = large.wire(&head, &continuation, 4096);
    assert_eq!(
        wire.len(),
        12 + 5000 + 1,
        "fmt 0 header, one fmt 3 basic header between two chunks"
    );
    let slices: Vec<_> = wire.slices_from(0).collect();
    assert_eq!(slices.len(), 4);
    assert!(std::ptr::eq(slices[1].as_ptr(), large.payload.as_ptr()), "no copy");
    // A player whose clock passed 0xFFFFFF gets the extended timestamp in every chunk.
    large.player_headers(0x0100_0000, 1, &mut head, &mut continuation);
    assert_eq!((head.len(), continuation.len()), (16, 5));
}

/// One direct send carries several held frames: all three go out in one call (a reading
/// player), each with its own headers and the player's clock.
#[test]
fn one_direct_send_carries_a_held_run() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let direct = Direct::default();
    {
        let mut state = direct.lock();
        state.writer_owns = false;
        state.clock = PlayerClock::starting_at(Some(1000));
        state.sink = Some(crate::live::DirectSink {
            socket: server_side.try_clone().unwrap(),
            stream_id: 1,
            chunk_size: 4096,
        });
    }
    let frames: Vec<Arc<SharedMedia>> = [
        (FrameKind::Audio, 1000, 300),
        (FrameKind::Video, 1020, 9000),
        (FrameKind::Audio, 1023, 300),
    ]
    .into_iter()
    .map(|(kind, ts, len)| media(kind, ts, false, len))
    .collect();
    let sent = direct.lock().try_send(&frames);
    assert_eq!(sent, super::super::player_direct::Sent { whole: 3, part: None });
    assert!(!direct.lock().writer_owns);
    drop(server_side);
    direct.lock().sink = None;
    client.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut wire = Vec::new();
    client.read_to_end(&mut wire).unwrap();
    let got: Vec<(u8, u32, usize)> = decode_frames(&wire)
        .into_iter()
        .map(|(t, ts, p)| (t, ts, p.len()))
        .collect();
    assert_eq!(got, [(8, 0, 300), (9, 20, 9000), (8, 23, 300)]);
}
