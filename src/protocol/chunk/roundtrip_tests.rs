//! Encoder → decoder round trips, including every way of splitting the byte stream.

use super::test_util::{decode_all, decode_split, limits, msg, pattern, XorShift};
use super::{ChunkDecoder, ChunkEncoder, RawMessage};

/// A Set Chunk Size message as the server sends it (csid 2, stream 0).
fn set_chunk_size_msg(size: u32) -> RawMessage {
    msg(2, 0, 1, 0, size.to_be_bytes().to_vec())
}

/// A varied message sequence and its encoding: several csids (1/2/3-byte forms), all four
/// header formats, extended timestamps, a backwards timestamp, zero-length messages and two
/// chunk size changes sent in-band.
fn scenario() -> (Vec<u8>, Vec<RawMessage>) {
    let mut e = ChunkEncoder::new();
    let mut bytes = Vec::new();
    let mut sent = Vec::new();
    let mut push = |e: &mut ChunkEncoder, m: RawMessage, bytes: &mut Vec<u8>| {
        e.encode(&m, bytes);
        sent.push(m);
    };
    push(&mut e, msg(3, 0, 20, 0, pattern(300, 1)), &mut bytes);
    for i in 0..6u32 {
        push(
            &mut e,
            msg(4, i * 23, 8, 1, pattern(200 + (i as usize % 2), 2)),
            &mut bytes,
        );
        push(&mut e, msg(70, 40 * i, 9, 1, pattern(500, 3)), &mut bytes);
        push(
            &mut e,
            msg(400, 0x0100_0000 + 40 * i, 9, 1, pattern(260, 4)),
            &mut bytes,
        );
    }
    push(&mut e, msg(5, 0, 18, 1, Vec::new()), &mut bytes);
    push(&mut e, msg(5, 0, 18, 1, Vec::new()), &mut bytes);
    push(&mut e, set_chunk_size_msg(1000), &mut bytes);
    e.set_chunk_size(1000);
    push(&mut e, msg(4, 500, 8, 1, pattern(2500, 5)), &mut bytes);
    push(&mut e, msg(4, 100, 8, 1, pattern(2500, 6)), &mut bytes); // backwards: fmt 0
    push(&mut e, msg(65599, 0xFFFF_FFF0, 9, 1, pattern(1200, 7)), &mut bytes);
    push(&mut e, msg(65599, 0x10, 9, 1, pattern(1200, 8)), &mut bytes); // wrapped: fmt 0
    push(&mut e, set_chunk_size_msg(7), &mut bytes);
    e.set_chunk_size(7);
    push(&mut e, msg(319, 0x0200_0000, 9, 1, pattern(50, 9)), &mut bytes);
    push(&mut e, msg(319, 0x0300_0000, 9, 1, pattern(50, 10)), &mut bytes); // fmt 3, ext
    push(&mut e, msg(319, 0x0300_0005, 9, 1, pattern(50, 11)), &mut bytes);
    (bytes, sent)
}

#[test]
fn csid_round_trips_for_all_basic_header_sizes() {
    for csid in [2u32, 63, 64, 319, 320, 65599] {
        let mut e = ChunkEncoder::new();
        let mut bytes = Vec::new();
        let sent: Vec<RawMessage> = [(0u32, 300usize), (40, 300), (80, 300), (90, 10), (95, 10)]
            .iter()
            .map(|&(ts, len)| msg(csid, ts, 9, 1, pattern(len, ts as u8)))
            .collect();
        for m in &sent {
            e.encode(m, &mut bytes);
        }
        let got = decode_all(&mut ChunkDecoder::new(limits()), &bytes).unwrap();
        assert_eq!(got, sent, "csid {csid}");
    }
}

#[test]
fn scenario_round_trips_in_one_piece() {
    let (bytes, sent) = scenario();
    let mut d = ChunkDecoder::new(limits());
    let got = decode_split(&mut d, &bytes, &[], true).unwrap();
    assert_eq!(got, sent);
    assert_eq!(d.chunk_size(), 7);
    assert_eq!(d.partial_bytes(), 0);
    assert_eq!(d.omitted_extended_timestamps(), 0);
}

#[test]
fn scenario_round_trips_one_byte_at_a_time() {
    let (bytes, sent) = scenario();
    let splits = vec![1usize; bytes.len()];
    let got = decode_split(&mut ChunkDecoder::new(limits()), &bytes, &splits, true).unwrap();
    assert_eq!(got, sent);
}

#[test]
fn scenario_round_trips_with_random_splits() {
    let (bytes, sent) = scenario();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..200 {
        let max_piece = [2usize, 5, 19, 64, 300, 5000][round % 6];
        let mut splits = Vec::new();
        let mut total = 0;
        while total < bytes.len() {
            let n = rng.below(max_piece) + usize::from(round % 3 == 0);
            splits.push(n);
            total += n;
        }
        let got = decode_split(&mut ChunkDecoder::new(limits()), &bytes, &splits, true).unwrap();
        assert_eq!(got, sent, "round {round}");
    }
}

#[test]
fn chunk_size_change_between_messages_on_both_sides() {
    let payload = pattern(5000, 1);
    let mut e = ChunkEncoder::new();
    let mut d = ChunkDecoder::new(limits());
    for size in [128u32, 1, 4096, 60000, 3] {
        e.set_chunk_size(size);
        d.set_chunk_size(size).unwrap();
        let mut bytes = Vec::new();
        e.encode_parts(8, size, 9, 1, &payload, &mut bytes);
        let got = decode_all(&mut d, &bytes).unwrap();
        assert_eq!(got, vec![msg(8, size, 9, 1, payload.clone())], "size {size}");
    }
}

#[test]
fn timestamp_deltas_round_trip_across_wrap() {
    // Timestamps run up to the top of the 32-bit range with fmt 3 deltas, then wrap (the encoder
    // sends the wrapped one as fmt 0, since it went backwards) and continue with deltas.
    let mut e = ChunkEncoder::new();
    let mut bytes = Vec::new();
    let sent: Vec<RawMessage> = (0..10u32)
        .map(|i| msg(4, 0xFFFF_FF80u32.wrapping_add(i * 20), 8, 1, pattern(20, i as u8)))
        .collect();
    for m in &sent {
        e.encode(m, &mut bytes);
    }
    let got = decode_all(&mut ChunkDecoder::new(limits()), &bytes).unwrap();
    assert_eq!(got, sent);
    assert_eq!(got.last().unwrap().timestamp, 0x0000_0034);
}

#[test]
fn interleaved_encoded_streams_decode_independently() {
    // Encode two multi-chunk messages, then interleave their chunks by hand.
    let a = pattern(300, 1);
    let b = pattern(300, 2);
    let mut e = ChunkEncoder::new();
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    e.encode_parts(4, 10, 8, 1, &a, &mut ea);
    e.encode_parts(6, 20, 9, 1, &b, &mut eb);
    // Chunks: 12+128, 1+128, 1+44.
    let cuts = |v: &[u8]| vec![v[..140].to_vec(), v[140..269].to_vec(), v[269..].to_vec()];
    let (ca, cb) = (cuts(&ea), cuts(&eb));
    let bytes = [&ca[0], &cb[0], &cb[1], &ca[1], &ca[2], &cb[2]]
        .map(|v| v.as_slice())
        .concat();
    let got = decode_all(&mut ChunkDecoder::new(limits()), &bytes).unwrap();
    assert_eq!(got, vec![msg(4, 10, 8, 1, a), msg(6, 20, 9, 1, b)]);
}
