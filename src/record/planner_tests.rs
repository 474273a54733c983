//! Planner unit tests: decisions (start points, rotation, held headers and data, onMetaData)
//! and each file's timestamps, without any format's bytes.

use super::*;
use crate::record::test_frames::{audio, frame, video};

fn video_header(timestamp: u32) -> Frame {
    frame(FrameKind::Video, timestamp, &[0x17, 0, 0, 0, 0, 1])
}

/// Pushes a frame as the writer does (opening/closing on `Open`/`Rotate`); returns the
/// decision and the frame's file timestamp.
fn step(planner: &mut Planner, frame: &Frame, bytes: u64) -> (Decision, u32) {
    let decision = planner.push(frame, bytes).0;
    if decision == Decision::Rotate {
        planner.close().unwrap();
    }
    if matches!(decision, Decision::Open | Decision::Rotate) {
        planner.open();
    }
    (decision, planner.file_time())
}

#[test]
fn the_first_file_opens_at_a_keyframe_with_the_held_headers_and_earlier_frames_are_skipped() {
    let mut planner = Planner::new(SegmentRules::default());
    assert_eq!(step(&mut planner, &video_header(500), 0).0, Decision::Skip);
    assert_eq!(step(&mut planner, &video(500, false), 0).0, Decision::Skip);
    assert_eq!(step(&mut planner, &audio(510), 0).0, Decision::Skip, "video was seen");
    assert_eq!(planner.skipped, 2, "the sequence header is held, not skipped");
    assert_eq!(planner.headers().video.map(|f| f.timestamp), Some(500));
    assert!(planner.headers().audio.is_none());
    assert_eq!(step(&mut planner, &video(580, true), 0), (Decision::Open, 0));
    assert_eq!(
        planner.file(),
        Some(PlannedFile {
            start_time: 80,
            index: 1
        })
    );
    assert_eq!(planner.next_index(), 2);
    assert_eq!(
        step(&mut planner, &audio(575), 10),
        (Decision::Write, 0),
        "before 0 lands at 0"
    );
    assert_eq!(step(&mut planner, &video(620, false), 10), (Decision::Write, 40));
}

#[test]
fn from_any_frame_opens_the_first_file_at_an_inter_frame_only() {
    let rules = SegmentRules {
        from_any_frame: true,
        max_duration_ms: Some(100),
        ..SegmentRules::default()
    };
    let mut planner = Planner::new(rules);
    assert_eq!(step(&mut planner, &video(0, false), 0).0, Decision::Open);
    assert_eq!(
        step(&mut planner, &video(200, false), 0).0,
        Decision::Write,
        "rotation waits"
    );
    assert_eq!(step(&mut planner, &video(240, true), 0), (Decision::Rotate, 0));
    planner.close();
    assert_eq!(
        step(&mut planner, &video(280, false), 0).0,
        Decision::Skip,
        "later files need a keyframe"
    );
}

#[test]
fn rotation_by_size_uses_the_bytes_the_writer_reports_and_audio_only_rotates_at_any_frame() {
    let rules = SegmentRules {
        max_bytes: Some(1000),
        ..SegmentRules::default()
    };
    let mut planner = Planner::new(rules);
    assert_eq!(step(&mut planner, &audio(0), 0).0, Decision::Open);
    assert_eq!(step(&mut planner, &audio(23), 999).0, Decision::Write);
    assert_eq!(step(&mut planner, &audio(46), 1000), (Decision::Rotate, 0));
    assert_eq!(planner.file().map(|f| f.index), Some(2));
    assert_eq!(step(&mut planner, &audio(69), 10), (Decision::Write, 23));
}

#[test]
fn script_data_is_held_while_no_file_is_open_and_bounded() {
    let mut planner = Planner::new(SegmentRules::default());
    for n in 0..MAX_HELD_DATA_FRAMES + 3 {
        let cue = frame(FrameKind::Data, 0, &[2, 0, 1, n as u8]);
        assert_eq!(step(&mut planner, &cue, 0).0, Decision::Skip);
    }
    assert_eq!(planner.skipped, 3, "the oldest beyond the bound are dropped");
    assert_eq!(step(&mut planner, &video(0, true), 0).0, Decision::Open);
    let held = planner.take_held_data();
    assert_eq!(held.len(), MAX_HELD_DATA_FRAMES);
    assert_eq!(held[0].payload[3], 3);
    assert!(planner.take_held_data().is_empty(), "taken once");
    let cue = frame(FrameKind::Data, 0, &[2, 0, 1, 0]);
    assert_eq!(
        step(&mut planner, &cue, 0).0,
        Decision::Write,
        "in order once a file is open"
    );
}

#[test]
fn onmetadata_is_merged_into_the_stream_headers_never_written() {
    let mut body = Vec::new();
    crate::protocol::amf0::encode(&Amf0Value::String("onMetaData".into()), &mut body);
    let fields = vec![("width".to_owned(), Amf0Value::Number(640.0))];
    crate::protocol::amf0::encode(&Amf0Value::EcmaArray(fields.clone()), &mut body);
    let mut planner = Planner::new(SegmentRules::default());
    assert_eq!(planner.push(&frame(FrameKind::Data, 0, &body), 0).0, Decision::Metadata);
    assert_eq!(planner.headers().metadata, &fields[..]);
    assert!(planner.take_held_data().is_empty());
}

#[test]
fn a_reconnect_continues_the_open_file_just_after_the_latest_time() {
    let mut planner = Planner::new(SegmentRules::default());
    step(&mut planner, &video(1000, true), 0);
    assert_eq!(step(&mut planner, &video(1400, false), 0).1, 400);
    planner.resume();
    let (decision, time) = step(&mut planner, &video(0, true), 0);
    assert_eq!(decision, Decision::Write, "no rotation limit: the same file goes on");
    assert!(time > 400, "after the latest time, got {time}");
}
