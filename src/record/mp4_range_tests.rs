//! Unit tests of `mp4_range`: MP4 files made by the recording's muxer from
//! `test_frames::flv_file` (10 s, a keyframe each second), finished (with a segment index),
//! never checkpointed (no index), and cut short.

use super::*;
use crate::mp4::reader::read_fragmented;
use crate::record::remux::remux_stream;
use crate::record::test_frames::{flv_file, Index};

/// The file as the muxer writes it; `finished` applies its final rewrites (index, durations).
fn mp4_file(name: &str, finished: bool) -> PathBuf {
    let flv = flv_file(Index::Right, true);
    let mut out = Vec::new();
    let (patches, _) = remux_stream(io::Cursor::new(flv), |b| {
        out.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    if finished {
        for (at, bytes) in patches {
            let at = at as usize;
            out[at..at + bytes.len()].copy_from_slice(&bytes);
        }
    }
    let path = std::env::temp_dir().join(format!("mp4-range-{}-{name}.mp4", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

fn run(path: &Path, start_ms: u32, duration_ms: Option<u32>) -> (Mp4Range, Vec<u8>) {
    let range = TimeRange { start_ms, duration_ms };
    let plan = Mp4Range::plan(path, range).unwrap();
    let mut out = Vec::new();
    let sent = plan
        .stream(|bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
    assert_eq!(sent, out.len() as u64);
    (plan, out)
}

/// (track, dts, sync) of every sample, and the mvhd duration.
fn read(mp4: &[u8]) -> (u32, Vec<(u32, u64, bool)>) {
    let (_, samples) = read_fragmented(mp4).unwrap();
    let moov = children(mp4).into_iter().find(|(k, _)| k == b"moov").unwrap().1;
    let duration = be32(child(moov, b"mvhd").unwrap(), 16).unwrap();
    (duration, samples.iter().map(|s| (s.track, s.dts, s.sync)).collect())
}

#[test]
fn a_range_is_the_fragments_from_the_keyframe_before_it_rebased() {
    for finished in [true, false] {
        let path = mp4_file(if finished { "finished" } else { "unindexed" }, finished);
        let (plan, mp4) = run(&path, 2500, Some(1000));
        // The keyframe's fragment begins with the audio sample of 1965 ms: time 0.
        assert_eq!((plan.first_ms(), plan.duration_ms()), (1965, 1535));
        let (duration, samples) = read(&mp4);
        assert_eq!(duration, 1535);
        let video: Vec<_> = samples.iter().filter(|s| s.0 == 1).collect();
        assert_eq!(
            video.first().map(|s| (s.1, s.2)),
            Some((35, true)),
            "finished={finished}"
        );
        assert_eq!(samples.iter().map(|s| s.1).min(), Some(0));
        // Whole fragments (cut at each keyframe and every 500 ms) from 2 s up to the one that
        // starts at 3.5 s: 38 video frames, as the FLV range.
        assert_eq!(video.len(), 38);
        assert!(samples.iter().all(|s| s.1 < 3500 - 1965));
        let (plan, mp4) = run(&path, 0, None);
        assert_eq!(plan.first_ms(), 0);
        let (duration, samples) = read(&mp4);
        assert_eq!(samples.len(), 500);
        assert!(duration >= 9960, "{duration}");
        let past = TimeRange {
            start_ms: 10_100,
            duration_ms: None,
        };
        assert!(matches!(Mp4Range::plan(&path, past), Err(Mp4RangeError::OutOfRange)));
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_torn_last_fragment_ends_the_range_and_other_files_are_refused() {
    let path = mp4_file("torn", true);
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 20).unwrap();
    let (_, mp4) = run(&path, 8200, None);
    let (_, samples) = read(&mp4);
    let video: Vec<_> = samples.iter().filter(|s| s.0 == 1).collect();
    assert_eq!(video.first().map(|s| (s.1, s.2)), Some((35, true)));
    assert_eq!(
        video.len(),
        38,
        "the fragments of 8 to 9.5 s whole, the torn last one left out"
    );
    std::fs::remove_file(path).unwrap();
    let other = std::env::temp_dir().join(format!("mp4-range-{}-other.mp4", std::process::id()));
    std::fs::write(&other, b"GIF89a, not an MP4 at all").unwrap();
    assert!(matches!(
        Mp4Range::plan(&other, TimeRange::default()),
        Err(Mp4RangeError::NotMp4)
    ));
    std::fs::remove_file(other).unwrap();
}
