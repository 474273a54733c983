//! Integration: rotation by media duration and by size. Every file begins at a keyframe with
//! onMetaData and the sequence headers, passes flvmeta --check and plays on its own, and the
//! files together hold exactly the source's packets (no loss, no duplicate at boundaries).
//! File names come from a --record-path template with folders and the segment index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::log_contract::*;
use common::*;
use rtmp_server::flv::reader::read_all;

fn check_segments(files: &[std::path::PathBuf], clip: &std::path::Path) {
    let mut joined = Vec::new();
    for file in files {
        flvmeta_check(file);
        assert_eq!(decode_errors(file), "", "{} plays on its own", file.display());
        let bytes = std::fs::read(file).unwrap();
        let (_, tags) = read_all(&bytes).unwrap();
        assert_eq!(tags[0].tag_type, 18, "onMetaData first");
        assert_eq!((tags[1].tag_type, tags[1].body[1]), (9, 0), "AVC sequence header");
        assert_eq!((tags[2].tag_type, tags[2].body[1]), (8, 0), "AAC sequence header");
        let first_frame = tags.iter().find(|t| t.tag_type == 9 && t.body[1] == 1).unwrap();
        assert_eq!(first_frame.body[0] >> 4, 1, "video starts with a keyframe");
        let first_media = tags.iter().find(|t| t.tag_type != 18 && t.body[1] == 1).unwrap();
        assert_eq!(first_media.timestamp, 0, "each file starts at 0");
        joined.extend(packet_hashes(&framemd5(file)));
    }
    assert_eq!(
        joined,
        packet_hashes(&framemd5(clip)),
        "segments hold every packet exactly once"
    );
}

#[test]
fn rotation_by_duration_makes_two_second_files_named_by_template() {
    let dir = TempDir::new("rotate-duration");
    let clip = make_clip(dir.path(), "clip.flv", 6);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-max-duration",
        "2s",
        "--record-path",
        "%app/%stream/%Y%m%d/seg_%i",
    ]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/rot"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let ended = server.wait_for_log(&format!("{RECORDING_ENDED} app=live stream=rot "), DEADLINE);
    assert_eq!(field(&ended, "files").as_deref(), Some("3"));
    let files = wait_recordings_closed(&server, "rot", 3);
    assert_eq!(files.len(), 3, "6 s in 2 s files: {files:?}");
    for (i, file) in files.iter().enumerate() {
        let relative = file.strip_prefix(&record_dir).expect("inside --record-dir");
        let parts: Vec<_> = relative.iter().map(|p| p.to_str().unwrap().to_owned()).collect();
        assert_eq!(parts.len(), 4, "{relative:?}");
        assert_eq!((parts[0].as_str(), parts[1].as_str()), ("live", "rot"));
        assert_eq!(parts[3], format!("seg_{}.flv", i + 1));
        let duration = ffprobe_duration(file);
        assert!(duration <= 2.1, "{} lasts {duration}", file.display());
    }
    check_segments(&files, &clip);
}

#[test]
fn rotation_by_size_splits_at_keyframes_without_losing_a_packet() {
    let dir = TempDir::new("rotate-size");
    let clip = make_clip(dir.path(), "clip.flv", 5);
    let record_dir = dir.path().join("rec");
    let server = ServerProcess::start(&[
        "--record-all",
        "--record-dir",
        record_dir.to_str().unwrap(),
        "--record-max-size",
        "150k",
    ]);
    let mut ffmpeg = ffmpeg_publish(&clip, &server.url("live/size"), false);
    assert!(wait_child(&mut ffmpeg, DEADLINE).success());
    let ended = server.wait_for_log(&format!("{RECORDING_ENDED} app=live stream=size "), DEADLINE);
    let total: usize = field(&ended, "files").unwrap().parse().unwrap();
    assert!(total >= 2, "rotated at least once: {ended}");
    let files = wait_recordings_closed(&server, "size", total);
    assert_eq!(files_with_suffix(&record_dir, ".flv"), {
        let mut f = files.clone();
        f.sort();
        f
    });
    assert!(files_with_suffix(&record_dir, ".part").is_empty());
    for file in &files[..files.len() - 1] {
        let len = std::fs::metadata(file).unwrap().len();
        assert!(len >= 150 * 1024, "{} rotated early at {len} bytes", file.display());
    }
    check_segments(&files, &clip);
}
