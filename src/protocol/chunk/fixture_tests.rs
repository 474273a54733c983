//! Decoding real publisher captures (FFmpeg's native RTMP and librtmp) of `clip2s.flv`.
//!
//! The `.c2s` files are client→server bytes: a 3073-byte handshake (C0+C1+C2), then chunks.
//! Expected counts were checked independently: `ffprobe -show_packets clip2s.flv` gives 30 video
//! and 45 audio packets; the FLV file also has an AVC and an AAC sequence header and an AVC
//! end-of-sequence tag, so 32 video and 46 audio tags, which both publishers send as messages.

use super::test_util::{decode_split, limits, RawMessage, XorShift};
use super::ChunkDecoder;

const FFMPEG: &[u8] = include_bytes!("../../../tests/fixtures/ffmpeg-publish.c2s");
const LIBRTMP: &[u8] = include_bytes!("../../../tests/fixtures/librtmp-publish.c2s");
const CLIP: &[u8] = include_bytes!("../../../tests/fixtures/clip2s.flv");
const HANDSHAKE_LEN: usize = 1 + 1536 + 1536;

/// (tag type, timestamp, body) of every FLV tag in the clip.
fn flv_tags(flv: &[u8]) -> Vec<(u8, u32, &[u8])> {
    let header_len = u32::from_be_bytes(flv[5..9].try_into().unwrap()) as usize;
    let mut off = header_len + 4;
    let mut tags = Vec::new();
    while off + 11 <= flv.len() {
        let t = flv[off];
        let size = u32::from_be_bytes([0, flv[off + 1], flv[off + 2], flv[off + 3]]) as usize;
        let ts = u32::from_be_bytes([flv[off + 7], flv[off + 4], flv[off + 5], flv[off + 6]]);
        tags.push((t, ts, &flv[off + 11..off + 11 + size]));
        off += 11 + size + 4;
    }
    tags
}

fn decode_capture(capture: &[u8], splits: &[usize]) -> (Vec<RawMessage>, ChunkDecoder) {
    let mut d = ChunkDecoder::new(limits());
    let out = decode_split(&mut d, &capture[HANDSHAKE_LEN..], splits, true).unwrap();
    (out, d)
}

fn types(msgs: &[RawMessage]) -> Vec<u8> {
    msgs.iter().map(|m| m.type_id).collect()
}

fn count(msgs: &[RawMessage], type_id: u8) -> usize {
    msgs.iter().filter(|m| m.type_id == type_id).count()
}

/// Command name of an AMF0 command message (string marker 0x02, u16 length, bytes).
fn command_name(m: &RawMessage) -> &str {
    assert_eq!(m.payload[0], 0x02);
    let len = u16::from_be_bytes([m.payload[1], m.payload[2]]) as usize;
    std::str::from_utf8(&m.payload[3..3 + len]).unwrap()
}

#[test]
fn ffmpeg_connect_split_at_128_bytes() {
    // fmt 0 on csid 3: ts 0, length 140, type 20, stream 0; 128 payload bytes; then a one-byte
    // fmt 3 header (0xC3) and the last 12 bytes.
    let body = &FFMPEG[HANDSHAKE_LEN..];
    assert_eq!(body[..12], [0x03, 0, 0, 0, 0, 0, 0x8C, 0x14, 0, 0, 0, 0]);
    assert_eq!(body[12 + 128], 0xC3);
    let connect = &body[..12 + 128 + 1 + 12];
    let mut d = ChunkDecoder::new(limits());
    let first = d.decode(&connect[..150]).unwrap();
    assert_eq!((first.consumed, first.message.is_none()), (150, true));
    let done = d.decode(&connect[150..]).unwrap();
    assert_eq!(done.consumed, 3);
    let m = done.message.unwrap();
    assert_eq!((m.csid, m.timestamp, m.type_id, m.stream_id), (3, 0, 20, 0));
    let mut want = body[12..140].to_vec();
    want.extend_from_slice(&body[141..153]);
    assert_eq!(m.payload, want);
    assert_eq!(command_name(&m), "connect");
}

#[test]
fn ffmpeg_publish_capture_decodes_to_expected_messages() {
    let (msgs, d) = decode_capture(FFMPEG, &[]);
    assert_eq!(types(&msgs)[..9], [20, 1, 20, 20, 20, 20, 18, 9, 8]);
    let commands: Vec<&str> = msgs.iter().filter(|m| m.type_id == 20).map(command_name).collect();
    assert_eq!(
        commands,
        [
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish",
            "FCUnpublish",
            "deleteStream"
        ]
    );
    assert_eq!(msgs[0].payload.len(), 140); // connect spans two 128-byte chunks
    assert_eq!(msgs[1].payload, 4096u32.to_be_bytes());
    assert_eq!(d.chunk_size(), 4096);
    assert_eq!((count(&msgs, 9), count(&msgs, 8), count(&msgs, 18)), (32, 46, 1));
    assert_eq!(msgs.len(), 87);
    assert_eq!((d.partial_bytes(), d.omitted_extended_timestamps()), (0, 0));

    // FFmpeg sends every FLV tag body unchanged, with the FLV timestamps, on stream 1.
    let media: Vec<(u8, u32, &[u8])> = msgs
        .iter()
        .filter(|m| matches!(m.type_id, 8 | 9))
        .map(|m| (m.type_id, m.timestamp, m.payload.as_slice()))
        .collect();
    let mut tags: Vec<_> = flv_tags(CLIP).into_iter().filter(|t| t.0 != 18).collect();
    // Compare per type: interleaving order of equal timestamps may differ.
    tags.sort_by_key(|t| t.0);
    let mut media_sorted = media.clone();
    media_sorted.sort_by_key(|t| t.0);
    assert_eq!(media_sorted, tags);
    assert!(msgs
        .iter()
        .filter(|m| m.type_id != 20 && m.type_id != 1)
        .all(|m| m.stream_id == 1));
}

#[test]
fn librtmp_publish_capture_decodes_to_expected_messages() {
    let (msgs, d) = decode_capture(LIBRTMP, &[]);
    // librtmp never changes its chunk size, and repeats onMetaData (14 in the raw bytes).
    assert_eq!(types(&msgs)[..8], [20, 20, 20, 20, 20, 18, 9, 8]);
    let commands: Vec<&str> = msgs.iter().filter(|m| m.type_id == 20).map(command_name).collect();
    assert_eq!(
        commands,
        [
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish",
            "FCUnpublish",
            "deleteStream"
        ]
    );
    assert_eq!(d.chunk_size(), 128);
    assert_eq!((count(&msgs, 9), count(&msgs, 8), count(&msgs, 18)), (32, 46, 14));
    assert_eq!(msgs.len(), 99);
    assert_eq!(d.partial_bytes(), 0);

    // Media bodies match the FLV tags, except the rebuilt AVC sequence header and the video
    // composition times (bytes 2..5): this publisher re-timed the clip, shifting timestamps by
    // -133 ms clamped at 0 (checked against an independent Python decode of the capture).
    let tags = flv_tags(CLIP);
    for type_id in [8u8, 9] {
        let got: Vec<&RawMessage> = msgs.iter().filter(|m| m.type_id == type_id).collect();
        let want: Vec<_> = tags.iter().filter(|t| t.0 == type_id).collect();
        assert_eq!(got.len(), want.len());
        for (i, (m, t)) in got.iter().zip(&want).enumerate() {
            let same = match type_id {
                9 => i == 0 || (m.payload[..2] == t.2[..2] && m.payload[5..] == t.2[5..]),
                _ => m.payload == t.2,
            };
            assert!(same, "type {type_id} #{i} payload differs");
            let end_of_sequence = type_id == 9 && m.payload[1] == 2; // stamped 1997 by the publisher
            if !end_of_sequence {
                assert_eq!(m.timestamp, t.1.saturating_sub(133), "type {type_id} #{i}");
            }
        }
    }
}

#[test]
fn captures_decode_identically_byte_by_byte_and_randomly_split() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    for capture in [FFMPEG, LIBRTMP] {
        let (whole, _) = decode_capture(capture, &[]);
        let len = capture.len() - HANDSHAKE_LEN;
        let (bytewise, _) = decode_capture(capture, &vec![1; len]);
        assert_eq!(bytewise, whole);
        for _ in 0..20 {
            let splits: Vec<usize> = (0..len / 20).map(|_| rng.below(60)).collect();
            assert_eq!(decode_capture(capture, &splits).0, whole);
        }
    }
}
