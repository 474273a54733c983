//! Unit tests of `remux_range`: FLV files made here (10 s, a keyframe each second, audio
//! between), with the server's keyframe index, without one, and with a wrong one.

use super::*;
use crate::flv::writer::{encode_tag, file_header};
use crate::mp4::boxes::children;
use crate::mp4::init::duration_fields;
use crate::mp4::reader::read_fragmented;
use crate::protocol::amf0::{self, Amf0Value};

const AVC_HEADER: [u8; 12] = [0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1E, 0xFF, 0xE0, 0];
const AAC_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];

#[derive(Clone, Copy, PartialEq)]
enum Index {
    Right,
    None,
    Wrong,
}

/// 10 s of video at 25 fps (a keyframe every 25 frames) and audio every 40 ms, 5 ms after.
fn flv(index: Index, video: bool) -> Vec<u8> {
    let mut tags = Vec::new();
    let mut keyframes = Vec::new();
    if video {
        encode_tag(9, 0, &AVC_HEADER, &mut tags).unwrap();
    }
    encode_tag(8, 0, &AAC_HEADER, &mut tags).unwrap();
    for i in 0..250u32 {
        if video {
            let key = i % 25 == 0;
            if key {
                keyframes.push((i * 40, tags.len()));
            }
            let body = [if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 0, 0, 0, 1, i as u8];
            encode_tag(9, i * 40, &body, &mut tags).unwrap();
        }
        encode_tag(8, i * 40 + 5, &[0xAF, 1, i as u8], &mut tags).unwrap();
    }
    // The metadata's length does not depend on the positions' values: lay it out once to
    // learn where the tags start, then write it with the real positions.
    let metadata = |base: usize| {
        let mut fields = vec![("duration".to_owned(), Amf0Value::Number(10.0))];
        if index != Index::None {
            let shift = if index == Index::Wrong { 7 } else { 0 };
            let times = keyframes
                .iter()
                .map(|(ms, _)| Amf0Value::Number(f64::from(*ms) / 1000.0));
            let at = keyframes
                .iter()
                .map(|(_, at)| Amf0Value::Number((base + at + shift) as f64));
            fields.push((
                "keyframes".to_owned(),
                amf0::object(&[
                    ("times", Amf0Value::StrictArray(times.collect())),
                    ("filepositions", Amf0Value::StrictArray(at.collect())),
                ]),
            ));
        }
        let mut body = Vec::new();
        amf0::encode(&Amf0Value::String("onMetaData".to_owned()), &mut body);
        amf0::encode(&Amf0Value::EcmaArray(fields), &mut body);
        let mut out = file_header(true, video).to_vec();
        encode_tag(18, 0, &body, &mut out).unwrap();
        out
    };
    let base = metadata(0).len();
    let mut out = metadata(base);
    out.extend_from_slice(&tags);
    out
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("remux-range-{}-{name}.flv", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The MP4's header duration and its samples as (track, dts, sync).
fn read(mp4: &[u8]) -> (u32, Vec<(u32, u64, bool)>) {
    let moov = children(mp4)
        .into_iter()
        .find(|(kind, _)| kind == b"moov")
        .map(|(_, body)| body)
        .unwrap();
    let at = moov.as_ptr() as usize - mp4.as_ptr() as usize - 8;
    let moov = &mp4[at..at + 8 + moov.len()];
    let fields = duration_fields(moov);
    let mvhd = fields[0].offset;
    let duration = u32::from_be_bytes(moov[mvhd..mvhd + 4].try_into().unwrap());
    for field in &fields {
        assert_eq!(&moov[field.offset..field.offset + 4], &duration.to_be_bytes());
    }
    let (_, samples) = read_fragmented(mp4).unwrap();
    (duration, samples.iter().map(|s| (s.track, s.dts, s.sync)).collect())
}

fn run(path: &Path, range: TimeRange) -> (FlvRange, Vec<u8>, Summary) {
    let plan = FlvRange::plan(path, range).unwrap();
    let mut out = Vec::new();
    let summary = plan
        .stream(|bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
    (plan, out, summary)
}

#[test]
fn the_whole_file_carries_its_duration_and_every_frame() {
    let path = temp_file("whole", &flv(Index::Right, true));
    let (plan, mp4, summary) = run(&path, TimeRange::default());
    let (duration, samples) = read(&mp4);
    assert_eq!((plan.first_ms(), duration), (0, 10_000));
    assert_eq!(samples.len(), 500);
    assert_eq!(summary.frames, 500);
    assert_eq!(samples.iter().filter(|s| s.0 == 1 && s.2).count(), 10);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_range_starts_at_the_keyframe_before_it_with_or_without_a_right_index() {
    for index in [Index::Right, Index::None, Index::Wrong] {
        let path = temp_file("cut", &flv(index, true));
        let range = TimeRange {
            start_ms: 2500,
            duration_ms: Some(1000),
        };
        let (plan, mp4, _) = run(&path, range);
        let (duration, samples) = read(&mp4);
        assert_eq!(plan.first_ms(), 2000);
        assert_eq!(duration, 1500, "3.5 s less the 2 s keyframe");
        let video: Vec<_> = samples.iter().filter(|s| s.0 == 1).collect();
        assert_eq!(video.first().map(|s| (s.1, s.2)), Some((0, true)));
        // File times 2000..3500 (exclusive): 38 video frames and 38 audio ones (2005..3485).
        assert_eq!(video.len(), 38);
        assert_eq!(video.last().unwrap().1, 1480);
        assert_eq!(samples.len() - video.len(), 38);
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn audio_only_files_start_at_the_asked_time_and_ranges_past_the_end_are_refused() {
    let path = temp_file("audio", &flv(Index::None, false));
    let range = TimeRange {
        start_ms: 9000,
        duration_ms: None,
    };
    let (plan, mp4, _) = run(&path, range);
    let (duration, samples) = read(&mp4);
    assert_eq!((plan.first_ms(), duration), (9000, 1000));
    assert_eq!(samples.first().map(|s| s.1), Some(5));
    assert_eq!(samples.len(), 25);
    let past = TimeRange {
        start_ms: 10_000,
        duration_ms: None,
    };
    assert!(matches!(FlvRange::plan(&path, past), Err(RemuxError::OutOfRange)));
    std::fs::remove_file(path).unwrap();
    let not_flv = temp_file("gif", b"GIF89a and more");
    assert!(matches!(
        FlvRange::plan(&not_flv, TimeRange::default()),
        Err(RemuxError::Flv(FlvReadError::NotFlv))
    ));
    std::fs::remove_file(not_flv).unwrap();
}
