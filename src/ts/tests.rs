//! The demuxer against transport streams built here byte by byte: H.264 and HEVC with
//! B-frames, AAC in ADTS, any chunking, the 33-bit wrap, and hostile bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

use super::demuxer::{TsDemuxer, TsFrame};
use crate::media::{Frame, FrameKind};
use proptest::prelude::*;
use std::sync::Arc;

const PMT_PID: u16 = 0x1000;
const VIDEO_PID: u16 = 0x100;
const AUDIO_PID: u16 = 0x101;

fn packet(pid: u16, unit_start: bool, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 184);
    let mut out = vec![
        0x47,
        ((pid >> 8) as u8 & 0x1F) | if unit_start { 0x40 } else { 0 },
        pid as u8,
    ];
    let stuffing = 184 - payload.len();
    if stuffing == 0 {
        out.push(0x10);
    } else {
        out.push(0x30);
        out.push((stuffing - 1) as u8);
        if stuffing > 1 {
            out.push(0);
            out.extend(std::iter::repeat_n(0xFF, stuffing - 2));
        }
    }
    out.extend_from_slice(payload);
    assert_eq!(out.len(), 188);
    out
}

fn section(table_id: u8, body: &[u8]) -> Vec<u8> {
    let length = (5 + body.len() + 4) as u16;
    let mut out = vec![0, table_id, 0xB0 | (length >> 8) as u8, length as u8, 0, 1, 0xC1, 0, 0];
    out.extend_from_slice(body);
    out.extend_from_slice(&[0, 0, 0, 0]); // CRC, not checked
    out
}

fn tables(video_type: u8) -> Vec<u8> {
    let pat = section(0x00, &[0, 1, 0xE0 | (PMT_PID >> 8) as u8, PMT_PID as u8]);
    let pmt_body = [
        0xE1, 0x00, 0xF0, 0x00, // PCR PID, program info length
        video_type, 0xE1, 0x00, 0xF0, 0x00, // video stream
        0x0F, 0xE1, 0x01, 0xF0, 0x00, // AAC ADTS
    ];
    let pmt = section(0x02, &pmt_body);
    [packet(0, true, &pat), packet(PMT_PID, true, &pmt)].concat()
}

/// A PES header's 33-bit time stamp field with its 4-bit marker.
pub(super) fn encode_ts(marker: u8, ts: u64) -> [u8; 5] {
    [
        (marker << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1,
        (ts >> 22) as u8,
        (((ts >> 15) as u8) << 1) | 1,
        (ts >> 7) as u8,
        ((ts as u8) << 1) | 1,
    ]
}

/// A PES packet split into TS packets; video PES packets are unbounded (length 0).
fn pes(pid: u16, stream_id: u8, pts: u64, dts: Option<u64>, data: &[u8]) -> Vec<u8> {
    let mut header = vec![0, 0, 1, stream_id, 0, 0, 0x80];
    match dts {
        Some(dts) => {
            header.extend_from_slice(&[0xC0, 10]);
            header.extend_from_slice(&encode_ts(3, pts));
            header.extend_from_slice(&encode_ts(1, dts));
        }
        None => {
            header.extend_from_slice(&[0x80, 5]);
            header.extend_from_slice(&encode_ts(2, pts));
        }
    }
    let mut whole = header;
    whole.extend_from_slice(data);
    if stream_id == 0xC0 {
        let len = (whole.len() - 6) as u16;
        whole[4..6].copy_from_slice(&len.to_be_bytes());
    }
    whole
        .chunks(184)
        .enumerate()
        .flat_map(|(i, chunk)| packet(pid, i == 0, chunk))
        .collect()
}

/// An ADTS header for AAC-LC, 44.1 kHz (index 4), stereo, around `payload`.
pub(super) fn adts(payload: &[u8]) -> Vec<u8> {
    let len = payload.len() + 7;
    let mut out = vec![
        0xFF,
        0xF1,
        (1 << 6) | (4 << 2),
        (2 << 6) | ((len >> 11) as u8 & 0x03),
        (len >> 3) as u8,
        ((len as u8 & 0x07) << 5) | 0x1F,
        0xFC,
    ];
    out.extend_from_slice(payload);
    out
}

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3, 0xCB];

fn annex_b(units: &[&[u8]]) -> Vec<u8> {
    units.iter().flat_map(|u| [&[0, 0, 0, 1][..], u].concat()).collect()
}

/// An H.264 stream: IDR at pts 0.08 s (dts 0), a B-frame-like P at dts 40 ms, AAC.
fn h264_stream(base: u64) -> Vec<u8> {
    let idr: Vec<u8> = [&[0x65u8, 0x88][..], &[0x42; 300][..]].concat();
    let mut ts = tables(0x1B);
    let key = annex_b(&[&[0x09, 0xF0], SPS, PPS, &idr]);
    ts.extend(pes(VIDEO_PID, 0xE0, base + 7200, Some(base), &key));
    ts.extend(pes(
        AUDIO_PID,
        0xC0,
        base + 900,
        None,
        &[adts(b"aa"), adts(b"bbb")].concat(),
    ));
    ts.extend(pes(
        VIDEO_PID,
        0xE0,
        base + 3600 + 7200,
        Some(base + 3600),
        &annex_b(&[&[0x41, 0x9A, 1, 2]]),
    ));
    // The next unit start ends the previous video PES.
    ts.extend(pes(
        VIDEO_PID,
        0xE0,
        base + 7200 * 2,
        Some(base + 7200),
        &annex_b(&[&[0x41, 0x9B]]),
    ));
    ts
}

fn demux_all(data: &[u8], chunk: usize) -> Vec<TsFrame> {
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        demuxer.push(piece, &mut out);
    }
    out
}

/// `demux_all`, then the end of the stream (open PES packets and held audio flushed).
fn demux_finished(data: &[u8], chunk: usize) -> Vec<TsFrame> {
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        demuxer.push(piece, &mut out);
    }
    demuxer.finish(&mut out);
    out
}

fn frame(f: &TsFrame) -> Frame {
    Frame::new(f.kind, f.timestamp, Arc::new(f.payload.clone()))
}

#[test]
fn h264_and_aac_become_rtmp_frames() {
    let out = demux_finished(&h264_stream(900_000), 188);
    let kinds: Vec<_> = out.iter().map(|f| (f.kind, f.timestamp)).collect();
    assert_eq!(
        kinds,
        [
            (FrameKind::Video, 0),
            (FrameKind::Audio, 0),
            (FrameKind::Video, 0),
            (FrameKind::Audio, 10),
            (FrameKind::Audio, 33),
            (FrameKind::Video, 40),
            (FrameKind::Video, 80),
        ]
    );
    // Audio PES packets complete at once, video ones at their next start: audio is held
    // back and released in decode-time order around the video; both sequence headers
    // lead the first keyframe (the audio one at the keyframe's time).
    assert!(frame(&out[1]).sequence_header);
    let header = frame(&out[0]);
    assert!(header.sequence_header && header.keyframe);
    let record = header.config_record().unwrap();
    let mut expected = vec![1, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0, SPS.len() as u8];
    expected.extend_from_slice(SPS);
    expected.extend_from_slice(&[1, 0, PPS.len() as u8]);
    expected.extend_from_slice(PPS);
    assert_eq!(record, expected.as_slice());
    let key = frame(&out[2]);
    assert!(key.keyframe && !key.sequence_header);
    assert_eq!(key.info.cts, 80);
    // One length-prefixed NAL unit: the IDR slice (AUD, SPS and PPS are left out).
    assert_eq!(&key.data()[..6], &[0, 0, 1, 46, 0x65, 0x88]);
    assert_eq!(key.data().len(), 4 + 302);
    assert_eq!(out[1].payload, [0xAF, 0x00, 0x12, 0x10]);
    assert_eq!(out[3].payload, [0xAF, 0x01, b'a', b'a']);
    assert_eq!(out[4].payload, [0xAF, 0x01, b'b', b'b', b'b']);
    let p = frame(&out[5]);
    assert!(!p.keyframe);
    assert_eq!(p.info.cts, 80);
    assert_eq!(p.data(), &[0, 0, 0, 4, 0x41, 0x9A, 1, 2]);
}

#[test]
fn any_chunking_gives_the_same_frames() {
    let stream = h264_stream(0);
    let whole = demux_all(&stream, stream.len());
    for chunk in [1, 7, 100, 187, 189, 1316] {
        assert_eq!(demux_all(&stream, chunk), whole, "chunk {chunk}");
    }
}

#[test]
fn timestamps_continue_across_the_33_bit_wrap() {
    let base = (1u64 << 33) - 3600;
    let out = demux_finished(&h264_stream(base), 188);
    let video: Vec<_> = out
        .iter()
        .filter(|f| f.kind == FrameKind::Video)
        .map(|f| f.timestamp)
        .collect();
    assert_eq!(video, [0, 0, 40, 80]);
}

#[test]
fn garbage_between_packets_is_skipped() {
    let stream = h264_stream(0);
    // Garbage with sync bytes before the stream: a sync byte is trusted only when another
    // follows a packet later.
    let mut noisy = b"\x47garbage\x00\x47".to_vec();
    noisy.extend(std::iter::repeat_n(0x47, 100));
    noisy.extend_from_slice(&stream);
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    demuxer.push(&noisy, &mut out);
    demuxer.finish(&mut out);
    assert!(demuxer.stats().skipped_bytes > 0);
    assert_eq!(out.iter().filter(|f| f.kind == FrameKind::Video).count(), 4);
}

#[test]
fn frames_before_parameter_sets_are_dropped() {
    let mut ts = tables(0x1B);
    ts.extend(pes(VIDEO_PID, 0xE0, 0, None, &annex_b(&[&[0x41, 1]])));
    ts.extend(pes(VIDEO_PID, 0xE0, 3600, None, &annex_b(&[&[0x41, 2]])));
    assert!(demux_finished(&ts, 188).is_empty());
}

#[test]
fn hevc_becomes_enhanced_rtmp_with_an_hvcc_record() {
    let vps: &[u8] = &[0x40, 0x01, 0x0C];
    // vps id 0, one layer, nested; PTL (Main, level 93); sps id 0, 4:2:0, 0x0, 8-bit.
    let sps: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xAD, 0xC0,
    ];
    let pps: &[u8] = &[0x44, 0x01, 0xC1];
    let idr: &[u8] = &[0x26, 0x01, 0xAF, 0x10];
    let mut ts = tables(0x24);
    ts.extend(pes(
        VIDEO_PID,
        0xE0,
        0,
        None,
        &annex_b(&[&[0x46, 0x01, 0x50], vps, sps, pps, idr]),
    ));
    ts.extend(pes(VIDEO_PID, 0xE0, 3600, None, &annex_b(&[&[0x02, 0x01, 0xD0]])));
    let out = demux_finished(&ts, 188);
    assert_eq!(out.len(), 3);
    let header = frame(&out[0]);
    assert!(header.sequence_header);
    assert_eq!(&out[0].payload[..5], b"\x90hvc1");
    let record = header.config_record().unwrap();
    assert_eq!(record[1], 0x01); // general profile Main
    assert_eq!(record[12], 93); // level
    assert_eq!(record[16], 0xFD); // 4:2:0
    assert_eq!(record[22], 3); // VPS, SPS, PPS arrays
    let key = frame(&out[1]);
    assert!(key.keyframe && !key.sequence_header);
    assert_eq!(key.data(), &[0, 0, 0, 4, 0x26, 0x01, 0xAF, 0x10]);
}

#[test]
fn parameter_set_changes_send_a_new_header() {
    let idr: &[u8] = &[0x65, 0x88];
    let other_sps: &[u8] = &[0x67, 0x4D, 0x00, 0x28, 0xAB];
    let mut ts = tables(0x1B);
    ts.extend(pes(VIDEO_PID, 0xE0, 0, None, &annex_b(&[SPS, PPS, idr])));
    ts.extend(pes(VIDEO_PID, 0xE0, 3600, None, &annex_b(&[SPS, PPS, idr])));
    ts.extend(pes(VIDEO_PID, 0xE0, 7200, None, &annex_b(&[other_sps, PPS, idr])));
    ts.extend(pes(VIDEO_PID, 0xE0, 10800, None, &annex_b(&[&[0x41, 1]])));
    let out = demux_finished(&ts, 188);
    let headers = out.iter().filter(|f| frame(f).sequence_header).count();
    assert_eq!(headers, 2);
    assert_eq!(out.len(), 6);
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4000), chunk in 1usize..400) {
        let mut demuxer = TsDemuxer::new();
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            demuxer.push(piece, &mut out);
        }
        demuxer.finish(&mut out);
    }

    #[test]
    fn mutated_streams_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..40)) {
        let mut stream = h264_stream(0);
        let len = stream.len();
        for (at, byte) in flips {
            stream[at % len] = byte;
        }
        let mut out = Vec::new();
        let mut demuxer = TsDemuxer::new();
        demuxer.push(&stream, &mut out);
        demuxer.finish(&mut out);
    }
}

/// FFmpeg's own transport streams (the fuzz seeds; their first byte is the fuzzer's chunk
/// size): 5 H.264 frames with B-frames and AAC, 3 HEVC frames.
#[test]
fn ffmpeg_streams_demux() {
    let h264 = &include_bytes!("../../fuzz/seeds/ts_demuxer/h264-aac.ts")[1..];
    let out = demux_finished(h264, 1316);
    let frames: Vec<Frame> = out.iter().map(frame).collect();
    let video: Vec<&Frame> = frames.iter().filter(|f| f.kind == FrameKind::Video).collect();
    assert!(video[0].sequence_header);
    assert!(video[1].keyframe);
    assert!(video.len() >= 4, "{} video frames", video.len());
    assert!(video.iter().any(|f| f.info.cts > 0));
    let audio = frames.iter().filter(|f| f.kind == FrameKind::Audio).count();
    assert!(audio >= 10, "{audio} audio frames");
    // Decode times never go back, across audio and video, as from an RTMP publisher.
    let times: Vec<u32> = frames.iter().map(|f| f.timestamp).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let hevc = &include_bytes!("../../fuzz/seeds/ts_demuxer/hevc.ts")[1..];
    let frames: Vec<Frame> = demux_finished(hevc, 188).iter().map(frame).collect();
    assert!(frames[0].sequence_header);
    assert_eq!(
        crate::media::hevc_sps::hevc_picture_size(&frames[0].payload),
        Some((160, 120))
    );
    assert!(frames[1].keyframe);
}
