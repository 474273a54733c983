//! Unit tests of `remux_range`: FLV files (`test_frames::flv_file`: 10 s, a keyframe each
//! second, audio between), with the server's keyframe index, without one, and with a wrong one.

use super::*;
use crate::mp4::boxes::children;
use crate::mp4::init::duration_fields;
use crate::mp4::reader::read_fragmented;
use crate::record::test_frames::{flv_file as flv, Index};

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
