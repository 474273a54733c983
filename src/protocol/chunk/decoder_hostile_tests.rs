//! Decoder tests for headers that lie about their chunk stream's state and for how message
//! buffers grow (issue 7): hand-written chunk byte vectors.

use super::*;
use crate::protocol::chunk::test_util::{decode_all, limits, msg, pattern};

/// fmt 0 header bytes: basic header byte(s) must be given by the caller.
fn fmt0(ts: u32, len: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ts.to_be_bytes()[1..]);
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.push(type_id);
    v.extend_from_slice(&stream_id.to_le_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn dec() -> ChunkDecoder {
    ChunkDecoder::new(limits())
}

#[test]
fn fmt0_mid_message_is_an_error() {
    let big = pattern(300, 1);
    let bytes = cat(&[
        &[0x04],
        &fmt0(0, 300, 9, 1),
        &big[..128],
        &[0x04],
        &fmt0(50, 2, 8, 1),
        b"xy",
    ]);
    let mut d = dec();
    let err = decode_all(&mut d, &bytes).unwrap_err();
    assert_eq!(err, ChunkError::NewMessageMidMessage { csid: 4 });
    assert!(err.to_string().contains("unfinished"));
    assert_eq!(d.partial_bytes(), 128, "state untouched by the refused header");
}

#[test]
fn fmt1_changing_the_length_mid_message_is_an_error() {
    let big = pattern(300, 1);
    let bytes = cat(&[
        &[0x04],
        &fmt0(0, 300, 9, 1),
        &big[..128],
        &[0x44, 0, 0, 0, 0, 0, 2, 9],
        b"xy",
    ]);
    let err = decode_all(&mut dec(), &bytes).unwrap_err();
    assert_eq!(
        err,
        ChunkError::LengthChangedMidMessage {
            csid: 4,
            length: 2,
            expected: 300
        }
    );
}

#[test]
fn fmt1_with_the_same_length_or_fmt2_mid_message_continue_it() {
    let big = pattern(300, 1);
    let bytes = cat(&[
        &[0x04],
        &fmt0(7, 300, 9, 1),
        &big[..128],
        &[0x44, 0, 0, 40, 0, 1, 0x2C, 9], // fmt 1, same length 300
        &big[128..256],
        &[0x84, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4], // fmt 2 with an extended field, skipped
        &big[256..],
    ]);
    let mut d = dec();
    let out = decode_all(&mut d, &bytes).unwrap();
    assert_eq!(out, vec![msg(4, 7, 9, 1, big)]);
    assert_eq!(d.partial_bytes(), 0);
}

#[test]
fn message_buffer_grows_with_arrived_bytes_not_the_announced_length() {
    let mut d = dec();
    let header = cat(&[&[0x04], &fmt0(0, 1 << 20, 9, 1)]);
    assert_eq!(d.decode(&header).unwrap().consumed, header.len());
    let chunk = pattern(128, 3);
    assert_eq!(d.decode(&chunk).unwrap().consumed, 128);
    let capacity = |d: &ChunkDecoder| {
        d.streams
            .get(&4)
            .and_then(|s| s.partial.as_ref())
            .map_or(0, Vec::capacity)
    };
    assert!(capacity(&d) <= 256, "{} bytes reserved for 128 arrived", capacity(&d));
    for _ in 0..63 {
        d.decode(&[0xC4]).unwrap();
        d.decode(&chunk).unwrap();
    }
    assert_eq!(d.partial_bytes(), 64 * 128);
    assert!(capacity(&d) <= 2 * 64 * 128, "{} bytes reserved", capacity(&d));
}
