//! Segmenter unit tests: the init segment's boxes, parts cut at keyframes and at the part
//! target with exact durations and the mp4 fragment bytes, segments at keyframes past the
//! segment target, audio-only streams, and the end of a stream.

use super::*;
use crate::mp4::boxes::{be32, header};
use crate::record::test_frames::{aac_config, avc_config, frame};

fn video(timestamp: u32, key: bool) -> Frame {
    frame(
        FrameKind::Video,
        timestamp,
        &[if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 7],
    )
}

fn audio(timestamp: u32) -> Frame {
    frame(FrameKind::Audio, timestamp, &[0xAF, 1, 9])
}

fn kinds(bytes: &[u8]) -> Vec<String> {
    let mut kinds = Vec::new();
    let mut pos = 0;
    while let Some(h) = bytes.get(pos..).and_then(|rest| header(rest, rest.len() as u64)) {
        kinds.push(String::from_utf8_lossy(&h.kind).into_owned());
        pos += h.size as usize;
    }
    kinds
}

fn parts(outputs: &[Output]) -> Vec<&Part> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Part(p) => Some(p),
            Output::Init(_) => None,
        })
        .collect()
}

const TARGETS: CutTargets = CutTargets {
    segment_ms: 2000,
    part_ms: 500,
};

#[test]
fn output_starts_with_the_init_segment_at_the_first_keyframe() {
    let mut segmenter = Segmenter::new(TARGETS);
    let mut out = Vec::new();
    for f in [avc_config(), aac_config(), video(0, false), audio(10)] {
        segmenter.push(&f, &mut out);
    }
    assert!(out.is_empty(), "nothing before a keyframe");
    segmenter.push(&video(100, true), &mut out);
    let [Output::Init(init)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(kinds(init), ["ftyp", "moov"]);
    let moov = &init[32..];
    assert_eq!(be32(moov, 0).unwrap() as usize, moov.len());
    assert!(moov.windows(4).any(|w| w == b"avc1") && moov.windows(4).any(|w| w == b"mp4a"));
}

#[test]
fn parts_are_cut_at_the_target_and_segments_at_keyframes() {
    let mut segmenter = Segmenter::new(TARGETS);
    let mut out = Vec::new();
    segmenter.push(&avc_config(), &mut out);
    segmenter.push(&aac_config(), &mut out);
    // 10 fps video, a keyframe every 1.5 s, for 4.5 s; audio every 50 ms.
    for t in (0..4500).step_by(50) {
        if t % 100 == 0 {
            segmenter.push(&video(t, t % 1500 == 0), &mut out);
        }
        segmenter.push(&audio(t + 1), &mut out);
    }
    segmenter.finish(&mut out);
    let parts = parts(&out);
    let durations: Vec<u64> = parts.iter().map(|p| p.duration_ms).collect();
    // Cut before a sample that would pass 500 ms, and at each keyframe.
    assert_eq!(
        durations,
        [500, 500, 500, 500, 500, 500, 500, 500, 500],
        "{durations:?}"
    );
    assert!(durations.iter().all(|d| *d <= TARGETS.part_ms));
    let independent: Vec<bool> = parts.iter().map(|p| p.independent).collect();
    assert_eq!(
        independent,
        [true, false, false, true, false, false, true, false, false]
    );
    // Segments start at the keyframes at 0 and 3000 (1500 is under the 2 s target).
    let starts: Vec<bool> = parts.iter().map(|p| p.new_segment).collect();
    assert_eq!(starts, [true, false, false, false, false, false, true, false, false]);
    for part in &parts {
        assert_eq!(kinds(&part.data), ["moof", "mdat"]);
    }
    // The first part: 5 video samples of 100 ms (sizes 5) and its audio, tfdt 0.
    let first = &parts[0].data;
    let trun = first.windows(4).position(|w| w == b"trun").unwrap();
    assert_eq!(be32(first, trun + 8), Some(5), "video sample count");
    assert_eq!(be32(first, trun + 16), Some(100), "first sample duration");
    assert_eq!(be32(first, trun + 20), Some(1), "first sample size");
    assert_eq!(be32(first, trun + 24), Some(fragment_flags(true)));
    let mfhd = first.windows(4).position(|w| w == b"mfhd").unwrap();
    assert_eq!(be32(first, mfhd + 8), Some(1), "fragment sequence");
}

fn fragment_flags(sync: bool) -> u32 {
    if sync {
        crate::mp4::fragment::FLAGS_SYNC
    } else {
        crate::mp4::fragment::FLAGS_NON_SYNC
    }
}

#[test]
fn audio_only_streams_cut_anywhere() {
    let mut segmenter = Segmenter::new(CutTargets {
        segment_ms: 1000,
        part_ms: 300,
    });
    let mut out = Vec::new();
    segmenter.push(&aac_config(), &mut out);
    for t in (0..2100).step_by(100) {
        segmenter.push(&audio(t), &mut out);
    }
    segmenter.finish(&mut out);
    assert!(matches!(out.first(), Some(Output::Init(_))));
    let parts = parts(&out);
    let durations: Vec<u64> = parts.iter().map(|p| p.duration_ms).collect();
    assert_eq!(durations, [300, 300, 300, 100, 300, 300, 300, 100, 100]);
    assert!(parts.iter().all(|p| p.independent));
    let starts: Vec<usize> = (0..parts.len()).filter(|i| parts[*i].new_segment).collect();
    assert_eq!(starts, [0, 4, 8]);
}

#[test]
fn a_discontinuity_resumes_at_a_keyframe_in_a_new_segment() {
    let mut segmenter = Segmenter::new(TARGETS);
    let mut out = Vec::new();
    segmenter.push(&avc_config(), &mut out);
    for t in [0, 100, 200] {
        segmenter.push(&video(t, t == 0), &mut out);
    }
    segmenter.discontinuity(&mut out);
    segmenter.push(&video(900, false), &mut out);
    segmenter.push(&video(1000, true), &mut out);
    segmenter.push(&video(1100, false), &mut out);
    segmenter.finish(&mut out);
    let parts = parts(&out);
    let summary: Vec<(u64, bool, bool)> = parts
        .iter()
        .map(|p| (p.duration_ms, p.independent, p.new_segment))
        .collect();
    assert_eq!(summary, [(300, true, true), (200, true, true)]);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Init(_))).count(), 1);
}

#[test]
fn new_codec_parameters_bring_a_new_init_and_a_discontinuity() {
    let mut segmenter = Segmenter::new(TARGETS);
    let mut out = Vec::new();
    segmenter.push(&avc_config(), &mut out);
    for t in [0, 100, 200] {
        segmenter.push(&video(t, t == 0), &mut out);
    }
    // The same record again changes nothing.
    segmenter.push(&avc_config(), &mut out);
    segmenter.push(&video(300, false), &mut out);
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Init(_))).count(), 1);
    let other = frame(
        FrameKind::Video,
        400,
        &[0x17, 0, 0, 0, 0, 1, 0x4D, 0, 0x28, 0xFF, 0xE0, 0],
    );
    segmenter.push(&other, &mut out);
    segmenter.push(&video(400, false), &mut out);
    segmenter.push(&video(500, true), &mut out);
    segmenter.push(&video(600, false), &mut out);
    segmenter.finish(&mut out);
    let inits: Vec<&Vec<u8>> = out
        .iter()
        .filter_map(|o| match o {
            Output::Init(init) => Some(init),
            Output::Part(_) => None,
        })
        .collect();
    assert_eq!(inits.len(), 2);
    assert_ne!(inits[0], inits[1], "the new record is in the new init");
    let summary: Vec<(u64, bool, bool)> = parts(&out)
        .iter()
        .map(|p| (p.duration_ms, p.new_segment, p.discontinuity))
        .collect();
    assert_eq!(summary, [(400, true, false), (200, true, true)]);
    assert!(matches!(out.last(), Some(Output::Part(_))));
    assert!(
        matches!(out.iter().rev().nth(1), Some(Output::Init(_))),
        "the new init comes before its parts"
    );
}
