//! Deterministic xorshift fuzzing: random and mutated chunk streams must never panic, never
//! over-consume and never exceed the limits; random message sequences must round-trip.

use super::test_util::{decode_split, drive, XorShift};
use super::{ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage};

const LIMITS: ChunkLimits = ChunkLimits {
    max_message_size: 64 * 1024,
    max_chunk_streams: 8,
    max_partial_bytes: 100 * 1024,
};

const FFMPEG: &[u8] = include_bytes!("../../../tests/fixtures/ffmpeg-publish.c2s");
const LIBRTMP: &[u8] = include_bytes!("../../../tests/fixtures/librtmp-publish.c2s");

/// Feeds `input` in random pieces like the server would, with occasional aborts; stops at the
/// first error. Checks every call's invariants.
fn feed_checked(rng: &mut XorShift, input: &[u8]) -> usize {
    let mut messages = 0;
    let mut d = ChunkDecoder::new(LIMITS);
    let mut buf: Vec<u8> = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = (rng.below(300) + 1).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        buf.extend_from_slice(piece);
        loop {
            let r = match d.decode(&buf) {
                Ok(r) => r,
                Err(_) => return messages,
            };
            assert!(r.consumed <= buf.len());
            assert!(d.partial_bytes() <= LIMITS.max_partial_bytes);
            assert!(d.chunk_stream_count() <= LIMITS.max_chunk_streams);
            buf.drain(..r.consumed);
            let got = r.message.is_some();
            if let Some(m) = r.message {
                messages += 1;
                assert!(m.payload.len() <= LIMITS.max_message_size);
                if m.type_id == 1 && m.payload.len() >= 4 {
                    let size = u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]);
                    if d.set_chunk_size(size & 0x7fff_ffff).is_err() {
                        return messages;
                    }
                }
            }
            if rng.below(50) == 0 {
                d.abort(rng.below(70) as u32);
            }
            if r.consumed == 0 && !got {
                break;
            }
        }
        // Only an incomplete header may be left over.
        assert!(buf.len() < super::MAX_HEADER_LEN);
    }
    messages
}

fn mutate(rng: &mut XorShift, base: &[u8]) -> Vec<u8> {
    // Half start at the real beginning (valid state to mutate), half anywhere.
    let start = if rng.below(2) == 0 { 0 } else { rng.below(base.len()) };
    let len = rng
        .below(if start == 0 { 12_000 } else { 4000 })
        .min(base.len() - start);
    let mut v = base[start..start + len].to_vec();
    for _ in 0..rng.below(8) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => v[at] = rng.next() as u8,
            1 => v[at] ^= 1 << rng.below(8),
            2 => v.insert(at, rng.next() as u8),
            _ => {
                v.remove(at);
            }
        }
    }
    v
}

#[test]
fn random_and_mutated_inputs_never_panic_or_exceed_limits() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let bodies = [&FFMPEG[3073..], &LIBRTMP[3073..]];
    let mut messages = 0;
    for i in 0..20_000 {
        let input = match i % 4 {
            0 => (0..rng.below(600)).map(|_| rng.next() as u8).collect(),
            1 => {
                // Random bytes shaped like headers: small csids, valid fmt bits, short lengths.
                let mut v = Vec::new();
                for _ in 0..rng.below(40) {
                    v.push((rng.below(4) as u8) << 6 | rng.below(8) as u8);
                    v.extend((0..rng.below(16)).map(|_| if rng.below(3) == 0 { 0xFF } else { rng.next() as u8 % 4 }));
                }
                v
            }
            _ => mutate(&mut rng, bodies[i % 2]),
        };
        messages += feed_checked(&mut rng, &input);
    }
    // The mutated captures must still get deep enough to produce many messages.
    assert!(messages > 20_000, "only {messages} messages decoded");
}

#[test]
fn huge_announced_lengths_on_many_csids_stay_bounded() {
    // Each csid announces 64 KiB and sends one chunk; the decoder must refuse before growing.
    let mut rng = XorShift(7);
    let mut v = Vec::new();
    for csid in 2..60u8 {
        v.push(csid);
        v.extend_from_slice(&[0, 0, 0, 0x00, 0xFF, 0xFF, 9, 1, 0, 0, 0]);
        v.extend(std::iter::repeat_n(0xAB, 128));
    }
    assert_eq!(feed_checked(&mut rng, &v), 0);
}

fn random_message(rng: &mut XorShift, prev_ts: &mut u32) -> RawMessage {
    let csid = [2u32, 3, 4, 63, 64, 65, 319, 320, 1000, 65599][rng.below(10)];
    *prev_ts = match rng.below(6) {
        0 => rng.next() as u32,
        1 => prev_ts.wrapping_add(0x00FF_FFFF + rng.below(3) as u32 - 1),
        2 => *prev_ts,
        _ => prev_ts.wrapping_add(rng.below(100) as u32),
    };
    let len = [0usize, 1, 127, 128, 129, 300, 5000][rng.below(7)];
    RawMessage {
        csid,
        timestamp: *prev_ts,
        type_id: [8u8, 9, 18, 20][rng.below(4)],
        stream_id: rng.below(3) as u32,
        payload: (0..len).map(|_| rng.next() as u8).collect(),
    }
}

#[test]
fn random_message_sequences_round_trip_with_random_splits() {
    let mut rng = XorShift(0x0123_4567_89AB_CDEF);
    for round in 0..300 {
        let mut e = ChunkEncoder::new();
        let mut bytes = Vec::new();
        let mut sent = Vec::new();
        let mut ts = 0u32;
        for _ in 0..rng.below(30) {
            if rng.below(8) == 0 {
                let size = [1u32, 2, 50, 128, 4096, 70000][rng.below(6)];
                let scs = RawMessage {
                    csid: 2,
                    timestamp: 0,
                    type_id: 1,
                    stream_id: 0,
                    payload: size.to_be_bytes().to_vec(),
                };
                e.encode(&scs, &mut bytes);
                e.set_chunk_size(size);
                sent.push(scs);
            }
            let m = random_message(&mut rng, &mut ts);
            e.encode(&m, &mut bytes);
            sent.push(m);
        }
        let splits: Vec<usize> = (0..rng.below(50)).map(|_| rng.below(400)).collect();
        let mut d = ChunkDecoder::new(ChunkLimits {
            max_message_size: 1 << 20,
            max_chunk_streams: 16,
            max_partial_bytes: 1 << 22,
        });
        let got = decode_split(&mut d, &bytes, &splits, true).unwrap();
        assert_eq!(got, sent, "round {round}");
        assert_eq!(d.partial_bytes(), 0);
        let mut buf = Vec::new();
        let mut none = Vec::new();
        drive(&mut d, &mut buf, &[], true, &mut none).unwrap();
        assert!(none.is_empty());
    }
}
