//! Encoder unit tests: exact header bytes for each choice of fmt, csid size and timestamp.

use super::*;
use crate::protocol::chunk::test_util::pattern;

fn enc(e: &mut ChunkEncoder, csid: u32, ts: u32, type_id: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    e.encode_parts(csid, ts, type_id, sid, payload, &mut out);
    out
}

#[test]
fn first_message_uses_fmt0() {
    let mut e = ChunkEncoder::new();
    let out = enc(&mut e, 3, 1000, 20, 0x0102_0304, b"abc");
    assert_eq!(
        out,
        [&[0x03, 0x00, 0x03, 0xE8, 0, 0, 3, 20, 4, 3, 2, 1][..], b"abc"].concat()
    );
}

#[test]
fn changed_length_or_type_uses_fmt1() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 100, 8, 1, b"a");
    assert_eq!(
        enc(&mut e, 4, 140, 8, 1, b"bc"),
        [&[0x44, 0, 0, 40, 0, 0, 2, 8][..], b"bc"].concat()
    );
    assert_eq!(
        enc(&mut e, 4, 150, 9, 1, b"de"),
        [&[0x44, 0, 0, 10, 0, 0, 2, 9][..], b"de"].concat()
    );
}

#[test]
fn changed_delta_uses_fmt2() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 100, 8, 1, b"a");
    assert_eq!(enc(&mut e, 4, 123, 8, 1, b"b"), vec![0x84, 0, 0, 23, b'b']);
}

#[test]
fn identical_delta_length_type_uses_fmt3() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 0, 8, 1, b"a");
    assert_eq!(enc(&mut e, 4, 40, 8, 1, b"b"), vec![0x84, 0, 0, 40, b'b']);
    assert_eq!(enc(&mut e, 4, 80, 8, 1, b"c"), vec![0xC4, b'c']);
    assert_eq!(enc(&mut e, 4, 120, 8, 1, b"d"), vec![0xC4, b'd']);
}

#[test]
fn fmt3_after_fmt0_only_when_delta_equals_absolute_timestamp() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 1000, 8, 1, b"a");
    // The decoder adds the fmt 0 field (1000) for a fmt 3 message, so 2000 may use fmt 3...
    assert_eq!(enc(&mut e, 4, 2000, 8, 1, b"b"), vec![0xC4, b'b']);
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 1000, 8, 1, b"a");
    // ...but 1000 (delta 0) needs fmt 2.
    assert_eq!(enc(&mut e, 4, 1000, 8, 1, b"b"), vec![0x84, 0, 0, 0, b'b']);
}

#[test]
fn stream_id_change_uses_fmt0() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 0, 8, 1, b"a");
    assert_eq!(enc(&mut e, 4, 0, 8, 2, b"a")[0], 0x04);
}

#[test]
fn timestamp_going_backwards_uses_fmt0() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 500, 8, 1, b"a");
    assert_eq!(
        enc(&mut e, 4, 499, 8, 1, b"a"),
        [&[0x04, 0, 0x01, 0xF3, 0, 0, 1, 8, 1, 0, 0, 0][..], b"a"].concat()
    );
}

#[test]
fn basic_header_size_by_csid() {
    for (csid, basic) in [
        (2u32, vec![0x02]),
        (63, vec![0x3F]),
        (64, vec![0x00, 0x00]),
        (319, vec![0x00, 0xFF]),
        (320, vec![0x01, 0x00, 0x01]),
        (65599, vec![0x01, 0xFF, 0xFF]),
    ] {
        let mut e = ChunkEncoder::new();
        let out = enc(&mut e, csid, 0, 8, 1, &[]);
        assert_eq!(out[..basic.len()], basic[..], "csid {csid}");
        assert_eq!(out.len(), basic.len() + 11);
        // fmt 3 keeps the csid form, with the fmt bits in the first byte.
        let out = enc(&mut e, csid, 0, 8, 1, &[]);
        let mut expect = basic.clone();
        expect[0] |= 0xC0;
        assert_eq!(out, expect, "csid {csid}");
    }
}

#[test]
fn out_of_range_csid_is_clamped() {
    let mut e = ChunkEncoder::new();
    assert_eq!(enc(&mut e, 0, 0, 8, 1, &[])[0], 0x02);
    assert_eq!(enc(&mut e, 70000, 0, 8, 1, &[])[..3], [0x01, 0xFF, 0xFF]);
}

#[test]
fn continuation_chunks_use_fmt3() {
    let payload = pattern(300, 2);
    let mut e = ChunkEncoder::new();
    let out = enc(&mut e, 6, 5, 9, 1, &payload);
    let expect = [
        &[0x06, 0, 0, 5, 0, 1, 0x2C, 9, 1, 0, 0, 0][..],
        &payload[..128],
        &[0xC6],
        &payload[128..256],
        &[0xC6],
        &payload[256..],
    ]
    .concat();
    assert_eq!(out, expect);
}

#[test]
fn fmt3_continuation_repeats_extended_timestamp() {
    let payload = pattern(130, 2);
    let mut e = ChunkEncoder::new();
    let out = enc(&mut e, 4, 0x0100_0000, 9, 1, &payload);
    let expect = [
        &[0x04, 0xFF, 0xFF, 0xFF, 0, 0, 130, 9, 1, 0, 0, 0, 0x01, 0, 0, 0][..],
        &payload[..128],
        &[0xC4, 0x01, 0, 0, 0],
        &payload[128..],
    ]
    .concat();
    assert_eq!(out, expect);
}

#[test]
fn extended_timestamp_used_from_0xffffff() {
    let mut e = ChunkEncoder::new();
    assert_eq!(enc(&mut e, 4, 0xFF_FFFE, 8, 1, &[])[1..4], [0xFF, 0xFF, 0xFE]);
    let mut e = ChunkEncoder::new();
    let out = enc(&mut e, 4, 0xFF_FFFF, 8, 1, &[]);
    assert_eq!(out[1..4], [0xFF, 0xFF, 0xFF]);
    assert_eq!(out[12..], [0x00, 0xFF, 0xFF, 0xFF]);
}

#[test]
fn extended_delta_on_fmt2_and_fmt3() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 0, 8, 1, b"a");
    let out = enc(&mut e, 4, 0x0200_0000, 8, 1, b"b");
    assert_eq!(out, vec![0x84, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, b'b']);
    let out = enc(&mut e, 4, 0x0400_0000, 8, 1, b"c");
    assert_eq!(out, vec![0xC4, 0x02, 0, 0, 0, b'c']);
}

#[test]
fn chunk_size_change_applies_to_next_message() {
    let payload = pattern(300, 1);
    let mut e = ChunkEncoder::new();
    assert_eq!(e.chunk_size(), 128);
    assert_eq!(enc(&mut e, 4, 0, 9, 1, &payload).len(), 12 + 300 + 2);
    e.set_chunk_size(4096);
    assert_eq!(e.chunk_size(), 4096);
    assert_eq!(enc(&mut e, 4, 0, 9, 1, &payload).len(), 1 + 300);
    e.set_chunk_size(0);
    assert_eq!(e.chunk_size(), 1);
    e.set_chunk_size(u32::MAX);
    assert_eq!(e.chunk_size(), MAX_CHUNK_SIZE);
}

#[test]
fn zero_length_message_is_header_only() {
    let mut e = ChunkEncoder::default();
    assert_eq!(
        enc(&mut e, 3, 0, 4, 0, &[]),
        vec![0x03, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]
    );
}

#[test]
fn reset_forgets_header_state() {
    let mut e = ChunkEncoder::new();
    enc(&mut e, 4, 0, 8, 1, b"a");
    e.reset();
    assert_eq!(enc(&mut e, 4, 0, 8, 1, b"a")[0], 0x04);
}

#[test]
fn encode_matches_encode_parts() {
    let m = crate::protocol::chunk::RawMessage {
        csid: 5,
        timestamp: 9,
        type_id: 18,
        stream_id: 1,
        payload: pattern(200, 3),
    };
    let mut a = Vec::new();
    ChunkEncoder::new().encode(&m, &mut a);
    let b = enc(&mut ChunkEncoder::new(), 5, 9, 18, 1, &m.payload);
    assert_eq!(a, b);
}
