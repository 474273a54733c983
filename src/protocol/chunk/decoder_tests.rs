//! Decoder unit tests on hand-written chunk byte vectors.

use super::*;
use crate::protocol::chunk::test_util::{decode_all, decode_split, limits, msg, pattern};

/// fmt 0 header bytes: basic header byte(s) must be given by the caller.
fn fmt0(ts: u32, len: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ts.min(0xFF_FFFF).to_be_bytes()[1..]);
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&stream_id.to_le_bytes());
    if ts >= 0xFF_FFFF {
        v.extend_from_slice(&ts.to_be_bytes());
    }
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn dec() -> ChunkDecoder {
    ChunkDecoder::new(limits())
}

#[test]
fn fmt0_single_chunk_message() {
    let bytes = cat(&[&[0x03], &fmt0(1000, 3, 20, 0), b"abc"]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out, vec![msg(3, 1000, 20, 0, b"abc".to_vec())]);
}

#[test]
fn fmt0_message_split_into_128_byte_chunks() {
    let payload = pattern(300, 7);
    let bytes = cat(&[
        &[0x06],
        &fmt0(5, 300, 9, 1),
        &payload[..128],
        &[0xC6],
        &payload[128..256],
        &[0xC6],
        &payload[256..],
    ]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out, vec![msg(6, 5, 9, 1, payload)]);
}

#[test]
fn fmt1_adds_delta_and_keeps_stream_id() {
    let bytes = cat(&[&[0x04], &fmt0(100, 1, 8, 7), b"a", &[0x44, 0, 0, 40, 0, 0, 2, 9], b"bc"]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out[1], msg(4, 140, 9, 7, b"bc".to_vec()));
}

#[test]
fn fmt2_reuses_length_and_type() {
    let bytes = cat(&[&[0x04], &fmt0(100, 2, 8, 1), b"ab", &[0x84, 0, 0, 23], b"cd"]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out[1], msg(4, 123, 8, 1, b"cd".to_vec()));
}

#[test]
fn fmt3_new_message_after_fmt0_adds_absolute_field() {
    // FFmpeg semantics: the fmt 0 timestamp field becomes the delta of a following fmt 3 message.
    let bytes = cat(&[&[0x04], &fmt0(1000, 1, 8, 1), b"a", &[0xC4], b"b", &[0xC4], b"c"]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    let ts: Vec<u32> = out.iter().map(|m| m.timestamp).collect();
    assert_eq!(ts, vec![1000, 2000, 3000]);
    assert_eq!(out[2], msg(4, 3000, 8, 1, b"c".to_vec()));
}

#[test]
fn fmt3_new_message_after_fmt1_repeats_delta() {
    let bytes = cat(&[
        &[0x04],
        &fmt0(0, 1, 8, 1),
        b"a",
        &[0x44, 0, 0, 40, 0, 0, 1, 8],
        b"b",
        &[0xC4],
        b"c",
        &[0xC4],
        b"d",
    ]);
    let ts: Vec<u32> = decode_all(&mut dec(), &bytes)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, vec![0, 40, 80, 120]);
}

#[test]
fn fmt3_continuation_keeps_message_timestamp() {
    let payload = pattern(200, 1);
    let bytes = cat(&[
        &[0x04],
        &fmt0(500, 200, 9, 1),
        &payload[..128],
        &[0xC4],
        &payload[128..],
        &[0xC4],
        &payload[..128],
        &[0xC4],
        &payload[128..],
    ]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].timestamp, 500);
    assert_eq!(out[1].timestamp, 1000);
    assert_eq!(out[1].payload, payload);
}

#[test]
fn two_and_three_byte_basic_headers() {
    for (basic, csid) in [
        (vec![0x00, 0x00], 64u32),
        (vec![0x00, 0xFF], 319),
        (vec![0x01, 0x00, 0x01], 320),
        (vec![0x01, 0xFF, 0xFF], 65599),
        (vec![0x01, 0x05, 0x00], 69),
    ] {
        let bytes = cat(&[&basic, &fmt0(1, 2, 8, 1), b"xy"]);
        let out = decode_all(&mut dec(), &bytes).unwrap();
        assert_eq!(out, vec![msg(csid, 1, 8, 1, b"xy".to_vec())], "csid {csid}");
    }
}

#[test]
fn fmt0_extended_timestamp() {
    let bytes = cat(&[&[0x04], &fmt0(0x0123_4567, 1, 8, 1), b"a"]);
    assert_eq!(&bytes[1..4], &[0xFF, 0xFF, 0xFF]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out[0].timestamp, 0x0123_4567);
}

#[test]
fn fmt3_continuation_repeats_extended_timestamp() {
    let payload = pattern(130, 3);
    let bytes = cat(&[
        &[0x04],
        &fmt0(0x0100_0000, 130, 9, 1),
        &payload[..128],
        &[0xC4, 0x01, 0x00, 0x00, 0x00],
        &payload[128..],
    ]);
    let mut d = dec();
    let out = decode_all(&mut d, &bytes).unwrap();
    assert_eq!(out, vec![msg(4, 0x0100_0000, 9, 1, payload)]);
    assert_eq!(d.omitted_extended_timestamps(), 0);
}

#[test]
fn fmt3_continuation_without_extended_timestamp_keeps_bytes_as_payload() {
    let payload = pattern(140, 3);
    let bytes = cat(&[
        &[0x04],
        &fmt0(0x0100_0000, 140, 9, 1),
        &payload[..128],
        &[0xC4],
        &payload[128..],
    ]);
    let mut d = dec();
    let out = decode_all(&mut d, &bytes).unwrap();
    assert_eq!(out, vec![msg(4, 0x0100_0000, 9, 1, payload)]);
    assert_eq!(d.omitted_extended_timestamps(), 1);
}

#[test]
fn fmt3_continuation_extended_check_waits_for_four_bytes() {
    let payload = pattern(130, 3);
    let bytes = cat(&[
        &[0x04],
        &fmt0(0x0100_0000, 130, 9, 1),
        &payload[..128],
        &[0xC4, 0x01, 0x00, 0x00, 0x00],
        &payload[128..],
    ]);
    let mut d = dec();
    let first = d.decode(&bytes[..1 + 15 + 128 + 3]).unwrap();
    assert_eq!(first.consumed, 1 + 15 + 128);
    assert!(first.message.is_none());
    let rest = &bytes[first.consumed..];
    assert_eq!(d.decode(&rest[..4]).unwrap().consumed, 0);
    let done = d.decode(rest).unwrap();
    assert_eq!(done.consumed, rest.len());
    assert_eq!(done.message.unwrap().payload, payload);
}

#[test]
fn fmt3_new_message_reads_extended_timestamp() {
    let bytes = cat(&[
        &[0x04],
        &fmt0(0x0100_0000, 1, 8, 1),
        b"a",
        &[0xC4, 0x01, 0x00, 0x00, 0x10],
        b"b",
    ]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out[1].timestamp, 0x0200_0010);
}

#[test]
fn fmt1_extended_delta() {
    let bytes = cat(&[
        &[0x04],
        &fmt0(10, 1, 8, 1),
        b"a",
        &[0x44, 0xFF, 0xFF, 0xFF, 0, 0, 1, 8, 0x02, 0x00, 0x00, 0x00],
        b"b",
    ]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out[1].timestamp, 0x0200_000A);
}

#[test]
fn timestamp_delta_wraps_past_u32() {
    let bytes = cat(&[
        &[0x04],
        &fmt0(0xFFFF_FFF0, 1, 8, 1),
        b"a",
        &[0x84, 0, 0, 0x20],
        b"b",
        &[0xC4],
        b"c",
    ]);
    let ts: Vec<u32> = decode_all(&mut dec(), &bytes)
        .unwrap()
        .iter()
        .map(|m| m.timestamp)
        .collect();
    assert_eq!(ts, vec![0xFFFF_FFF0, 0x10, 0x30]);
}

#[test]
fn interleaved_chunk_streams() {
    let audio = pattern(200, 1);
    let video = pattern(150, 2);
    let bytes = cat(&[
        &[0x04],
        &fmt0(10, 200, 8, 1),
        &audio[..128],
        &[0x06],
        &fmt0(20, 150, 9, 1),
        &video[..128],
        &[0xC4],
        &audio[128..],
        &[0xC6],
        &video[128..],
    ]);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out, vec![msg(4, 10, 8, 1, audio), msg(6, 20, 9, 1, video)]);
}

#[test]
fn set_chunk_size_applies_to_following_chunks() {
    let payload = pattern(300, 9);
    let mut d = dec();
    d.set_chunk_size(4096).unwrap();
    assert_eq!(d.chunk_size(), 4096);
    let bytes = cat(&[&[0x04], &fmt0(0, 300, 9, 1), &payload]);
    assert_eq!(decode_all(&mut d, &bytes).unwrap()[0].payload, payload);
    d.set_chunk_size(100).unwrap();
    let bytes = cat(&[
        &[0x84, 0, 0, 0],
        &payload[..100],
        &[0xC4],
        &payload[100..200],
        &[0xC4],
        &payload[200..],
    ]);
    assert_eq!(decode_all(&mut d, &bytes).unwrap()[0].payload, payload);
}

#[test]
fn invalid_chunk_sizes_are_rejected() {
    let mut d = dec();
    for bad in [0, 0x0100_0001, 0x8000_0000, u32::MAX] {
        assert_eq!(d.set_chunk_size(bad), Err(ChunkError::InvalidChunkSize(bad)));
    }
    assert_eq!(d.chunk_size(), 128);
    assert!(d.set_chunk_size(1).is_ok());
    assert!(d.set_chunk_size(0x0100_0000).is_ok());
}

#[test]
fn abort_drops_partial_message() {
    let payload = pattern(200, 4);
    let mut d = dec();
    let first = cat(&[&[0x04], &fmt0(0, 200, 9, 1), &payload[..128]]);
    assert!(decode_all(&mut d, &first).unwrap().is_empty());
    assert_eq!(d.partial_bytes(), 128);
    d.abort(4);
    d.abort(99);
    assert_eq!(d.partial_bytes(), 0);
    // The next fmt 3 chunk starts a new message with the kept header (length 200).
    let next = cat(&[&[0xC4], &payload[..128], &[0xC4], &payload[128..]]);
    let out = decode_all(&mut d, &next).unwrap();
    assert_eq!(out, vec![msg(4, 0, 9, 1, payload)]);
}

#[test]
fn abort_mid_chunk_skips_rest_of_chunk() {
    let payload = pattern(100, 4);
    let mut d = dec();
    let bytes = cat(&[&[0x04], &fmt0(0, 100, 9, 1), &payload]);
    assert_eq!(d.decode(&bytes[..62]).unwrap().consumed, 62);
    d.abort(4);
    let rest = d.decode(&bytes[62..]).unwrap();
    assert_eq!((rest.consumed, rest.message), (bytes.len() - 62, None));
    assert_eq!(d.partial_bytes(), 0);
}

#[test]
fn zero_length_message_completes_immediately() {
    let bytes = cat(&[&[0x03], &fmt0(7, 0, 20, 0), &[0xC3]]);
    let mut d = dec();
    let first = d.decode(&bytes).unwrap();
    assert_eq!(first.consumed, 12);
    assert_eq!(first.message, Some(msg(3, 7, 20, 0, Vec::new())));
    let second = d.decode(&bytes[12..]).unwrap();
    assert_eq!(second.consumed, 1);
    assert_eq!(second.message, Some(msg(3, 14, 20, 0, Vec::new())));
}

#[test]
fn incomplete_header_consumes_nothing() {
    let bytes = cat(&[&[0x01, 0x05, 0x00], &fmt0(0x0100_0000, 2, 8, 1), b"ab"]);
    let mut d = dec();
    for cut in 0..18 {
        let r = d.decode(&bytes[..cut]).unwrap();
        assert_eq!((r.consumed, r.message.is_some()), (0, false), "cut {cut}");
    }
    assert_eq!(d.decode(&bytes[..18]).unwrap().consumed, 18);
}

#[test]
fn payload_is_consumed_as_it_arrives() {
    let payload = pattern(100, 5);
    let bytes = cat(&[&[0x04], &fmt0(0, 100, 9, 1), &payload]);
    let mut d = dec();
    assert_eq!(d.decode(&bytes[..20]).unwrap().consumed, 20);
    assert_eq!(d.partial_bytes(), 8);
    let r = d.decode(&bytes[20..]).unwrap();
    assert_eq!(r.consumed, bytes.len() - 20);
    assert_eq!(r.message.unwrap().payload, payload);
}

#[test]
fn one_message_per_call_even_with_more_input() {
    let bytes = cat(&[&[0x04], &fmt0(0, 1, 8, 1), b"a", &[0xC4], b"b"]);
    let mut d = dec();
    let r = d.decode(&bytes).unwrap();
    assert_eq!(r.consumed, 13);
    assert_eq!(r.message.unwrap().payload, b"a");
}

#[test]
fn fmt1_fmt2_fmt3_without_previous_header_fail() {
    for first in [0x45u8, 0x85, 0xC5] {
        let bytes = [first, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0];
        assert_eq!(dec().decode(&bytes), Err(ChunkError::NoPreviousHeader { csid: 5 }));
    }
}

#[test]
fn message_too_large_is_rejected_before_payload() {
    let bytes = cat(&[&[0x04], &fmt0(0, 0xFF_FFFF, 9, 1)]);
    let err = dec().decode(&bytes).unwrap_err();
    assert_eq!(
        err,
        ChunkError::MessageTooLarge {
            csid: 4,
            length: 0xFF_FFFF,
            limit: 1 << 20
        }
    );
    assert!(err.to_string().contains("exceeds"));
}

#[test]
fn csid_flood_hits_too_many_chunk_streams() {
    // Every csid announces a huge message and sends one chunk of it.
    let mut bytes = Vec::new();
    for csid in 320..=65599u32 {
        let n = csid - 64;
        bytes.extend_from_slice(&[0x01, n as u8, (n >> 8) as u8]);
        bytes.extend_from_slice(&fmt0(0, 0xF_FFFF, 9, 1));
        bytes.extend_from_slice(&[0xAA; 128]);
    }
    let mut d = dec();
    let err = decode_all(&mut d, &bytes).unwrap_err();
    assert_eq!(err, ChunkError::TooManyChunkStreams { limit: 16 });
    assert_eq!(d.chunk_stream_count(), 16);
    assert_eq!(d.partial_bytes(), 16 * 128);
}

#[test]
fn partial_bytes_limit_across_chunk_streams() {
    let mut lim = limits();
    lim.max_partial_bytes = 1000;
    let mut d = ChunkDecoder::new(lim);
    let mut bytes = Vec::new();
    for csid in 3..20u8 {
        bytes.push(csid);
        bytes.extend_from_slice(&fmt0(0, 10_000, 9, 1));
        bytes.extend_from_slice(&[0u8; 128]);
    }
    let err = decode_split(&mut d, &bytes, &[], false).unwrap_err();
    assert_eq!(err, ChunkError::PartialBytesExceeded { limit: 1000 });
    assert!(d.partial_bytes() <= 1000);
}

#[test]
fn error_after_progress_is_reported_on_next_call() {
    let bytes = cat(&[&[0x04], &fmt0(0, 200, 8, 1), &[0u8; 128], &[0x45, 0, 0, 0]]);
    let mut d = dec();
    let r = d.decode(&bytes).unwrap();
    assert_eq!((r.consumed, r.message), (140, None));
    assert_eq!(d.decode(&bytes[140..]), Err(ChunkError::NoPreviousHeader { csid: 5 }));
}

#[test]
fn errors_display() {
    let all = [
        ChunkError::NoPreviousHeader { csid: 9 },
        ChunkError::TooManyChunkStreams { limit: 4 },
        ChunkError::PartialBytesExceeded { limit: 5 },
        ChunkError::InvalidChunkSize(0),
        ChunkError::NewMessageMidMessage { csid: 4 },
        ChunkError::LengthChangedMidMessage {
            csid: 4,
            length: 1,
            expected: 2,
        },
    ];
    for e in all {
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert!(!boxed.to_string().is_empty());
    }
}

/// `payload` as one message (timestamp 5, type 9, stream 1) on csid 6: a fmt 0 chunk, then
/// fmt 3 continuations every `chunk_size` bytes.
fn chunked_on_csid6(payload: &[u8], chunk_size: usize) -> Vec<u8> {
    let mut bytes = cat(&[&[0x06], &fmt0(5, payload.len() as u32, 9, 1)]);
    for (i, piece) in payload.chunks(chunk_size).enumerate() {
        if i > 0 {
            bytes.push(0xC6);
        }
        bytes.extend_from_slice(piece);
    }
    bytes
}

#[test]
fn a_media_sized_message_is_assembled_in_one_allocation() {
    // 100 000 bytes in 128-byte chunks: reserved once, never reallocated (so never copied).
    let payload = pattern(100_000, 3);
    let bytes = chunked_on_csid6(&payload, 128);
    let out = decode_all(&mut dec(), &bytes).unwrap();
    assert_eq!(out, vec![msg(6, 5, 9, 1, payload)]);
    assert_eq!(out[0].payload.capacity(), 100_000);
}

#[test]
fn a_long_announced_message_reserves_only_a_bounded_amount_ahead() {
    let mut decoder = dec();
    decoder.set_chunk_size(4096).unwrap();
    let bytes = cat(&[&[0x06], &fmt0(5, 1_000_000, 9, 1), &[1u8; 4096]]);
    let decoded = decoder.decode(&bytes).unwrap();
    assert!(decoded.message.is_none());
    let decoded = decoder.decode(&bytes[decoded.consumed..]).unwrap();
    assert!(decoded.message.is_none());
    let capacity = decoder
        .streams
        .get(&6)
        .and_then(|s| s.partial.as_ref())
        .map(Vec::capacity)
        .unwrap();
    // 4096 bytes arrived of 1 000 000 announced: at most twice what arrived is reserved.
    assert!((4096..=8192).contains(&capacity), "capacity {capacity}");
}

#[test]
fn a_message_whose_bytes_have_arrived_is_reserved_once_at_its_length() {
    // All of a 100 000-byte message but its last byte, in 4096-byte chunks, in one input: the
    // first chunk already reserves the whole message (no regrowth, no copies).
    let mut decoder = dec();
    decoder.set_chunk_size(4096).unwrap();
    let payload = pattern(100_000, 5);
    let mut bytes = chunked_on_csid6(&payload, 4096);
    let last = bytes.pop().unwrap();
    let decoded = decoder.decode(&bytes).unwrap();
    assert!(decoded.message.is_none());
    assert_eq!(decoded.consumed, bytes.len());
    let capacity = decoder
        .streams
        .get(&6)
        .and_then(|s| s.partial.as_ref())
        .map(Vec::capacity);
    assert_eq!(capacity, Some(100_000));
    let out = decoder.decode(&[last]).unwrap().message.unwrap();
    assert_eq!(out, msg(6, 5, 9, 1, payload));
}

#[test]
fn interleaved_messages_reserve_by_their_own_bytes_not_the_whole_input() {
    // Chunk 1 of a 200 000-byte message on csid 6, then chunk 1 of another on csid 7, then
    // 200 KB of filler input: only the first (alone in progress) may size itself by the
    // input; the second grows by what it received.
    let mut decoder = dec();
    decoder.set_chunk_size(4096).unwrap();
    let bytes = cat(&[
        &[0x06],
        &fmt0(5, 200_000, 9, 1),
        &[1u8; 4096],
        &[0x07],
        &fmt0(5, 200_000, 9, 1),
        &[2u8; 4096],
        &[0xC6],
        &[3u8; 4096],
    ]);
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let decoded = decoder.decode(rest).unwrap();
        assert!(decoded.message.is_none());
        rest = &rest[decoded.consumed..];
    }
    let capacity = |csid| {
        decoder
            .streams
            .get(&csid)
            .and_then(|s| s.partial.as_ref())
            .map_or(0, Vec::capacity)
    };
    assert!(capacity(6) <= bytes.len(), "csid 6 reserved {}", capacity(6));
    assert!((4096..=8192).contains(&capacity(7)), "csid 7 reserved {}", capacity(7));
}
