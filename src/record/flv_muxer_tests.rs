//! FLV muxer unit tests: byte vectors of the header, tags and in-place rewrites, and whole
//! files made by a planner and the muxer as the writer does (held headers at the top of
//! each file, rotation, keyframe index positions, onMetaData merged into the reserved tag).

use super::*;
use crate::flv::metadata::parse_onmetadata;
use crate::flv::reader::read_all;
use crate::record::planner::{Decision, Planner, SegmentRules};
use crate::record::test_frames::{audio, frame, video};

fn step(planner: &mut Planner, muxer: &mut FlvMuxer, frame: &Frame, files: &mut Vec<Vec<u8>>) -> Decision {
    let decision = planner.push(frame, muxer.bytes()).0;
    match decision {
        Decision::Skip => return decision,
        Decision::Metadata => {
            muxer.update_metadata(&planner.headers());
            return decision;
        }
        Decision::Write => {}
        Decision::Open | Decision::Rotate => {
            if decision == Decision::Rotate {
                muxer.finalize().unwrap();
                planner.close().unwrap();
            }
            planner.open();
            let data = planner.take_held_data();
            files.push(Vec::new());
            muxer
                .open(&planner.headers(), &data, files.last_mut().unwrap())
                .unwrap();
        }
    }
    let out = files.last_mut().unwrap();
    let tail = muxer.append(frame, planner.file_time(), out).unwrap();
    out.extend_from_slice(&frame.payload);
    out.extend_from_slice(tail.as_slice());
    decision
}

/// Runs frames through a planner and an FLV muxer and returns the files they made.
fn record(rules: SegmentRules, frames: &[Frame]) -> Vec<Vec<u8>> {
    let (mut planner, mut muxer) = (Planner::new(rules), FlvMuxer::new());
    let mut files: Vec<Vec<u8>> = Vec::new();
    for f in frames {
        step(&mut planner, &mut muxer, f, &mut files);
    }
    files
}

fn headers() -> Vec<Frame> {
    vec![
        frame(FrameKind::Video, 500, &[0x17, 0, 0, 0, 0, 1]),
        frame(FrameKind::Audio, 500, &[0xAF, 0, 0x12, 0x10]),
    ]
}

#[test]
fn mid_gop_start_drops_frames_before_the_first_keyframe() {
    let mut frames = headers();
    frames.extend([
        video(500, false),
        audio(510),
        video(540, false),
        video(580, true),
        audio(590),
    ]);
    let files = record(SegmentRules::default(), &frames);
    assert_eq!(files.len(), 1);
    let (_, tags) = read_all(&files[0]).unwrap();
    let types: Vec<u8> = tags.iter().map(|t| t.tag_type).collect();
    // onMetaData, 2 sequence headers, keyframe 580, audio 590.
    assert_eq!(types, vec![18, 9, 8, 9, 8]);
    assert_eq!(tags[3].timestamp, 0, "the keyframe is at 0");
    assert_eq!(tags[4].timestamp, 10);
}

#[test]
fn from_any_frame_keeps_the_leading_inter_frames() {
    let mut frames = headers();
    frames.extend([video(500, false), video(540, true)]);
    let rules = SegmentRules {
        from_any_frame: true,
        ..SegmentRules::default()
    };
    let files = record(rules, &frames);
    let (_, tags) = read_all(&files[0]).unwrap();
    assert_eq!(tags.len(), 5);
}

#[test]
fn rotation_by_duration_begins_each_file_at_a_keyframe_with_headers_and_loses_nothing() {
    let mut frames = headers();
    for i in 0..60u32 {
        frames.push(video(500 + i * 100, i % 10 == 0));
        frames.push(audio(510 + i * 100));
    }
    let rules = SegmentRules {
        max_duration_ms: Some(2000),
        ..SegmentRules::default()
    };
    let files = record(rules, &frames);
    assert_eq!(files.len(), 3, "6 s in 2 s files");
    let mut media = 0;
    for file in &files {
        let (_, tags) = read_all(file).unwrap();
        assert_eq!(tags[0].tag_type, 18);
        assert_eq!((tags[1].tag_type, tags[1].body[1]), (9, 0), "video sequence header");
        assert_eq!((tags[2].tag_type, tags[2].body[1]), (8, 0), "audio sequence header");
        assert_eq!((tags[3].body[0], tags[3].timestamp), (0x17, 0), "keyframe at 0");
        media += tags.len() - 3;
    }
    assert_eq!(media, 120);
}

#[test]
fn rotation_by_size_and_audio_only_rotates_at_any_audio_frame() {
    let frames: Vec<Frame> = (0..100u32).map(|i| audio(i * 23)).collect();
    let rules = SegmentRules {
        max_bytes: Some(1000),
        ..SegmentRules::default()
    };
    let files = record(rules, &frames);
    assert!(files.len() > 2);
    let total: usize = files.iter().map(|f| read_all(f).unwrap().1.len() - 1).sum();
    assert_eq!(total, 100);
}

#[test]
fn keyframe_index_points_at_keyframe_tags_and_metadata_keeps_its_size() {
    let mut frames = headers();
    for i in 0..30u32 {
        frames.push(video(i * 40, i % 10 == 0));
    }
    let (mut planner, mut muxer) = (Planner::new(SegmentRules::default()), FlvMuxer::new());
    let mut files = Vec::new();
    for f in &frames {
        step(&mut planner, &mut muxer, f, &mut files);
    }
    let mut file = files.pop().unwrap();
    assert_eq!(muxer.bytes(), file.len() as u64);
    assert_eq!(muxer.duration_ms(), 29 * 40);
    let segment = muxer.file().unwrap();
    let body = segment.metadata_body();
    let start = METADATA_BODY_OFFSET as usize;
    assert_eq!(body.len(), segment.layout.body_len());
    file[start..start + body.len()].copy_from_slice(&body);
    let entries = segment.stats.index.entries().to_vec();
    assert_eq!(entries.len(), 3);
    for (time, position) in entries {
        let tag = &file[position as usize..];
        assert_eq!(tag[0], 9);
        assert_eq!(tag[11], 0x17);
        assert_eq!(
            u32::from(tag[6]) | u32::from(tag[5]) << 8 | u32::from(tag[4]) << 16,
            time
        );
    }
    assert!(read_all(&file).is_ok());
}

#[test]
fn hevc_and_enhanced_rtmp_keyframes_are_start_points_and_tags_stay_unchanged() {
    // (sequence header, keyframe prefix, inter-frame prefix): legacy HEVC (codec id 12) and
    // Enhanced RTMP av01 (FourCC, packet type 1 = coded frames).
    let cases: [(&[u8], &[u8], &[u8]); 2] = [
        (&[0x1C, 0, 0, 0, 0, 1], &[0x1C, 1, 0, 0, 0], &[0x2C, 1, 0, 0, 0]),
        (b"\x90av01\x81\x00", b"\x91av01", b"\xA1av01"),
    ];
    for (header, key, inter) in cases {
        let body = |prefix: &[u8], n: u32| [prefix, &[n as u8]].concat();
        let mut frames = vec![
            frame(FrameKind::Video, 0, header),
            frame(FrameKind::Video, 0, &body(inter, 0)),
        ];
        for i in 1..40u32 {
            let prefix = if i % 10 == 1 { key } else { inter };
            frames.push(frame(FrameKind::Video, i * 100, &body(prefix, i)));
        }
        let rules = SegmentRules {
            max_duration_ms: Some(1000),
            ..SegmentRules::default()
        };
        let files = record(rules, &frames);
        assert_eq!(files.len(), 4, "starts at the first keyframe, then one file per second");
        let mut written = 0;
        for file in &files {
            let (_, tags) = read_all(file).unwrap();
            assert_eq!(tags[1].body, header, "sequence header repeated unchanged");
            assert!(tags[2].body.starts_with(key), "file begins at a keyframe");
            written += tags.len() - 2;
        }
        assert_eq!(written, 39, "every frame from the first keyframe on, once");
    }
}

fn onmetadata(fields: &[(&str, Amf0Value)]) -> Frame {
    let mut body = Vec::new();
    crate::protocol::amf0::encode(&Amf0Value::String("onMetaData".into()), &mut body);
    let fields = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    crate::protocol::amf0::encode(&Amf0Value::EcmaArray(fields), &mut body);
    frame(FrameKind::Data, 0, &body)
}

#[test]
fn mid_stream_onmetadata_is_merged_into_the_reserved_tag_not_written() {
    let cue = frame(FrameKind::Data, 0, b"\x02\x00\x0AonCuePoint\x05");
    let mut frames = vec![onmetadata(&[("width", Amf0Value::Number(320.0))])];
    frames.extend(headers());
    frames.push(video(500, true));
    frames.push(onmetadata(&[
        ("Width", Amf0Value::Number(640.0)),
        ("fileSize", Amf0Value::Number(0.0)),
    ]));
    frames.push(video(540, false));
    frames.push(cue);
    frames.push(onmetadata(&[("title", Amf0Value::String("later".into()))]));
    frames.push(video(580, false));
    let (mut planner, mut muxer) = (Planner::new(SegmentRules::default()), FlvMuxer::new());
    let mut files = Vec::new();
    for f in &frames {
        let decision = step(&mut planner, &mut muxer, f, &mut files);
        if f.kind == FrameKind::Data && f.payload.get(3..13) == Some(b"onMetaData".as_slice()) {
            assert_eq!(decision, Decision::Metadata, "onMetaData is never a tag of its own");
        }
    }
    assert_eq!(files.len(), 1);
    let (_, tags) = read_all(&files[0]).unwrap();
    let types: Vec<u8> = tags.iter().map(|t| t.tag_type).collect();
    // Reserved onMetaData, 2 sequence headers, keyframe, inter frame, cue point, inter frame.
    assert_eq!(types, vec![18, 9, 8, 9, 9, 18, 9]);
    assert_eq!(tags[5].body, &frames[6].payload[..], "the cue point, in order");
    let segment = muxer.file().unwrap();
    let fields = parse_onmetadata(&segment.metadata_body(), 8).unwrap();
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("Width"), Some(Amf0Value::Number(640.0)));
    assert_eq!(get("width"), None, "one width, the latest spelling and value");
    assert_eq!(get("title"), Some(Amf0Value::String("later".into())));
    assert_eq!(get("fileSize"), None);
    assert_eq!(segment.metadata_body().len(), segment.layout.body_len());
}

fn no_headers() -> StreamHeaders<'static> {
    StreamHeaders {
        video: None,
        audio: None,
        metadata: &[],
    }
}

#[test]
fn open_writes_the_header_and_reserved_onmetadata_and_append_frames_a_tag() {
    let mut muxer = FlvMuxer::new();
    assert_eq!(muxer.extension(), "flv");
    let mut out = Vec::new();
    assert_eq!(muxer.append(&audio(0), 0, &mut out), Err(MuxError::NotOpen));
    muxer.open(&no_headers(), &[], &mut out).unwrap();
    assert_eq!(&out[..13], &[0x46, 0x4C, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
    let body_len = muxer.file().unwrap().layout.body_len();
    assert_eq!(out[13], TAG_SCRIPT);
    assert_eq!(out.len(), 13 + 11 + body_len + 4);
    assert_eq!(muxer.bytes(), out.len() as u64);
    let opened = out.len();
    let tail = muxer.append(&audio(0x0102_0304), 0x0102_0304, &mut out).unwrap();
    assert_eq!(&out[opened..], &[8, 0, 0, 3, 0x02, 0x03, 0x04, 0x01, 0, 0, 0]);
    assert_eq!(tail.as_slice(), &[0, 0, 0, 14]);
    assert_eq!(muxer.bytes(), opened as u64 + 11 + 3 + 4);
    assert_eq!(muxer.duration_ms(), 0x0102_0304);
}

#[test]
fn checkpoint_and_finalize_rewrite_onmetadata_and_flags_in_place() {
    let mut muxer = FlvMuxer::new();
    assert!(muxer.checkpoint().is_empty());
    let mut out = Vec::new();
    muxer.open(&no_headers(), &[], &mut out).unwrap();
    muxer.append(&audio(40), 40, &mut out).unwrap();
    let patches = muxer.checkpoint();
    let offsets: Vec<u64> = patches.iter().map(|(offset, _)| *offset).collect();
    assert_eq!(offsets, vec![24, 4]);
    assert_eq!(patches[1].1, vec![0x04], "audio only");
    assert_eq!(patches[0].1.len(), muxer.file().unwrap().layout.body_len());
    let (last, summary) = muxer.finalize().unwrap();
    assert_eq!(last, patches);
    assert_eq!(
        summary,
        Summary {
            bytes: out.len() as u64 + 3 + 4,
            frames: 2,
            duration_ms: 40
        }
    );
    assert!(muxer.finalize().is_none(), "the file is forgotten");
    assert_eq!(muxer.bytes(), 0);
}

#[test]
fn oversized_frames_are_refused_without_accounting() {
    let mut muxer = FlvMuxer::new();
    let mut out = Vec::new();
    muxer.open(&no_headers(), &[], &mut out).unwrap();
    let before = (out.len(), muxer.bytes());
    let big = frame(FrameKind::Video, 0, &vec![0x17; crate::flv::MAX_TAG_BODY + 1]);
    assert_eq!(
        muxer.append(&big, 0, &mut out),
        Err(MuxError::TooLarge(crate::flv::MAX_TAG_BODY + 1))
    );
    assert_eq!((out.len(), muxer.bytes()), before);
}
