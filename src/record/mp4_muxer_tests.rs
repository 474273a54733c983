//! MP4 muxer unit tests: the bytes of a file's start and fragments (cut at keyframes and
//! every 500 ms, samples written whole with exact durations), the in-place index and
//! durations, codecs MP4 cannot carry, and repair of a file cut inside a fragment.

use super::*;
use crate::mp4::boxes::{be32, children, header};
use crate::mp4::repair::{parse_moof, repair, RunInfo};
use crate::record::test_frames::{aac_config, audio, avc_config, frame, video};

/// Top-level boxes of a file: (type, offset, size).
fn top_level(file: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut boxes = Vec::new();
    let mut pos = 0;
    while let Some(h) = file.get(pos..).and_then(|rest| header(rest, rest.len() as u64)) {
        boxes.push((h.kind, pos, h.size as usize));
        pos += h.size as usize;
    }
    boxes
}

fn kinds(file: &[u8]) -> Vec<String> {
    top_level(file)
        .iter()
        .map(|(k, _, _)| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn runs(file: &[u8]) -> Vec<Vec<RunInfo>> {
    top_level(file)
        .iter()
        .filter(|(k, _, _)| k == b"moof")
        .map(|(_, at, size)| parse_moof(&file[at + 8..at + size]))
        .collect()
}

fn apply(file: &mut [u8], patches: &[Patch]) {
    for (at, bytes) in patches {
        file[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
    }
}

/// Opens a file with the AVC and AAC headers and appends `frames` at their timestamps.
fn mux(frames: &[Frame]) -> (Mp4Muxer, Vec<u8>) {
    let (v, a) = (avc_config(), aac_config());
    let headers = StreamHeaders {
        video: Some(&v),
        audio: Some(&a),
        metadata: &[],
    };
    let mut muxer = Mp4Muxer::new();
    let mut out = Vec::new();
    muxer.open(&headers, &[], &mut out).unwrap();
    assert_eq!(
        kinds(&out),
        ["ftyp", "moov", "free"],
        "both tracks announced: the header at once"
    );
    for f in frames {
        assert_eq!(muxer.append(f, f.timestamp, &mut out).unwrap(), Tail::default());
    }
    (muxer, out)
}

#[test]
fn fragments_are_cut_at_keyframes_with_exact_durations() {
    let frames = [
        video(0, true),
        audio(0),
        audio(23),
        video(33, false),
        audio(46),
        video(66, true),
        audio(69),
    ];
    let (mut muxer, mut out) = mux(&frames);
    assert!(muxer.embeds_payload());
    assert_eq!(kinds(&out), ["ftyp", "moov", "free", "moof", "mdat"]);
    let boxes = top_level(&out);
    assert_eq!(boxes[2].2, INDEX_ROOM);
    let first = runs(&out);
    assert_eq!(
        first[0],
        [
            RunInfo {
                track: 1,
                base_dts: 0,
                end: 66,
                samples: 2,
                first_sync: true
            },
            RunInfo {
                track: 2,
                base_dts: 0,
                end: 46,
                samples: 2,
                first_sync: true
            },
        ]
    );
    // The mdat holds the encoder's bytes only: video [7] twice, audio [9] twice.
    let (_, at, size) = boxes[4];
    assert_eq!(&out[at + 8..at + size], &[7, 7, 9, 9]);
    assert_eq!(muxer.bytes(), out.len() as u64);
    muxer.drain(&mut out).unwrap();
    let all = runs(&out);
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[1][0],
        RunInfo {
            track: 1,
            base_dts: 66,
            end: 99,
            samples: 1,
            first_sync: true
        }
    );
    assert_eq!(
        all[1][1],
        RunInfo {
            track: 2,
            base_dts: 46,
            end: 92,
            samples: 2,
            first_sync: true
        }
    );
    let (patches, summary) = muxer.finalize().unwrap();
    assert_eq!(
        summary,
        Summary {
            bytes: out.len() as u64,
            frames: 7,
            duration_ms: 99
        }
    );
    apply(&mut out, &patches);
    assert_eq!(
        kinds(&out),
        ["ftyp", "moov", "sidx", "free", "moof", "mdat", "moof", "mdat"]
    );
    let moov = &out[boxes[1].1..boxes[1].1 + boxes[1].2];
    let durations: Vec<u32> = duration_fields(moov)
        .iter()
        .map(|f| be32(moov, f.offset).unwrap())
        .collect();
    assert_eq!(durations, [99, 99, 99, 99, 92, 92]);
    let sidx_at = top_level(&out)[2].1;
    let sidx = &out[sidx_at..];
    assert_eq!(be32(sidx, 12), Some(1), "reference track: video");
    assert_eq!(&sidx[38..40], &[0, 2], "two keyframe fragments");
    let first_moof = boxes[3].1 as u64;
    assert_eq!(
        sidx_at as u64 + 64 + u64::from_be_bytes(sidx[28..36].try_into().unwrap()),
        first_moof
    );
}

#[test]
fn a_long_gop_is_cut_every_500_ms() {
    let mut frames = vec![video(0, true)];
    frames.extend((1..40).map(|i| video(i * 40, false)));
    let (mut muxer, mut out) = mux(&frames);
    muxer.drain(&mut out).unwrap();
    let all = runs(&out);
    let starts: Vec<u64> = all.iter().map(|r| r[0].base_dts).collect();
    assert_eq!(starts, [0, 520, 1040, 1560]);
    assert!(!all[1][0].first_sync);
    assert!(all.iter().flatten().all(|r| r.end - r.base_dts <= FRAGMENT_MS + 40));
}

#[test]
fn codecs_mp4_cannot_carry_are_refused() {
    let (mut muxer, mut out) = mux(&[video(0, true)]);
    let speex = frame(FrameKind::Audio, 10, &[0xB2, 1, 2]);
    assert!(matches!(
        muxer.append(&speex, 10, &mut out),
        Err(MuxError::Unsupported(_))
    ));
    let h263 = frame(FrameKind::Video, 0, &[0x12, 1, 2]);
    let headers = StreamHeaders {
        video: Some(&h263),
        audio: None,
        metadata: &[],
    };
    assert!(matches!(
        Mp4Muxer::new().open(&headers, &[], &mut out),
        Err(MuxError::Unsupported(_))
    ));
    assert!(supported(Codec::Audio(AudioCodec::Opus)));
    assert!(!supported(Codec::Audio(AudioCodec::Flac)));
}

#[test]
fn config_and_data_frames_write_no_samples() {
    let (mut muxer, mut out) = mux(&[
        video(0, true),
        frame(FrameKind::Data, 5, &[2, 0, 1, b'x']),
        avc_config(),
    ]);
    muxer.drain(&mut out).unwrap();
    assert_eq!(runs(&out).concat().iter().map(|r| r.samples).sum::<u64>(), 1);
    assert_eq!(muxer.append(&video(1, false), 1, &mut out).map(|_| ()), Ok(()));
    muxer.abandon();
    assert_eq!(muxer.append(&video(2, false), 2, &mut out), Err(MuxError::NotOpen));
}

#[test]
fn repair_cuts_a_torn_fragment_and_rebuilds_index_and_durations() {
    let mut frames = Vec::new();
    for i in 0..30u32 {
        frames.push(video(i * 100, i % 10 == 0));
        frames.push(audio(i * 100 + 10));
    }
    let (mut muxer, mut out) = mux(&frames);
    muxer.drain(&mut out).unwrap();
    let whole = out.clone();
    let (patches, _) = muxer.finalize().unwrap();
    let mut finished = whole.clone();
    apply(&mut finished, &patches);
    let dir = std::env::temp_dir().join(format!("rtmp-mp4-repair-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Cut inside the last fragment: it is dropped, the rest indexed as finalize would have.
    let last_moof = top_level(&whole).iter().rev().find(|(k, _, _)| k == b"moof").unwrap().1;
    let path = dir.join("a.mp4.part");
    std::fs::write(&path, &whole[..last_moof + 20]).unwrap();
    let report = repair(&path).unwrap();
    assert_eq!(report.cut_bytes, 20);
    assert_eq!(report.bytes, last_moof as u64);
    let repaired = std::fs::read(&path).unwrap();
    let kept = runs(&repaired).concat();
    assert_eq!(report.tags, kept.iter().map(|r| r.samples).sum::<u64>());
    assert_eq!(report.duration_ms as u64, kept.iter().map(|r| r.end).max().unwrap());
    assert_eq!(kinds(&repaired)[2], "sidx");
    // A whole file repaired again is unchanged.
    std::fs::write(&path, &finished).unwrap();
    let again = repair(&path).unwrap();
    assert_eq!((again.cut_bytes, again.duration_ms), (0, 3010));
    assert_eq!(std::fs::read(&path).unwrap(), finished);
    // Not MP4: refused, unchanged.
    std::fs::write(&path, b"FLV\x01 not an mp4 at all").unwrap();
    assert!(matches!(repair(&path), Err(crate::flv::repair::RepairError::NotMp4(_))));
    assert_eq!(std::fs::read(&path).unwrap(), b"FLV\x01 not an mp4 at all");
    // A plain MP4 (no mvex): its durations are not ours to rewrite.
    let plain = [
        &finished[..32],
        &[0, 0, 0, 20][..],
        b"moov",
        &[0, 0, 0, 12],
        b"mvhd",
        &[0, 0, 0, 0],
        &[0, 0, 0, 9],
        b"mdat",
        &[1],
    ]
    .concat();
    std::fs::write(&path, &plain).unwrap();
    assert!(matches!(repair(&path), Err(crate::flv::repair::RepairError::NotMp4(_))));
    assert_eq!(std::fs::read(&path).unwrap(), plain);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_box_walker_lists_children() {
    let (mut muxer, mut out) = mux(&[video(0, true), video(40, false)]);
    muxer.drain(&mut out).unwrap();
    let moov = top_level(&out)[1];
    let names: Vec<[u8; 4]> = children(&out[moov.1 + 8..moov.1 + moov.2])
        .iter()
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(names, [*b"mvhd", *b"trak", *b"trak", *b"mvex"]);
}

#[test]
fn without_both_sequence_headers_the_header_waits_for_the_first_fragment() {
    let v = avc_config();
    let headers = StreamHeaders {
        video: Some(&v),
        audio: None,
        metadata: &[],
    };
    let mut muxer = Mp4Muxer::new();
    let mut out = Vec::new();
    muxer.open(&headers, &[], &mut out).unwrap();
    assert!(out.is_empty(), "MP3 audio may still come: no header yet");
    let mp3 = |ts| frame(FrameKind::Audio, ts, &[0x2F, 0xFF, 0xFB, 0x90, 0x64, 0]);
    for f in [
        video(0, true),
        mp3(0),
        mp3(26),
        video(40, false),
        mp3(52),
        video(80, true),
    ] {
        muxer.append(&f, f.timestamp, &mut out).unwrap();
    }
    assert_eq!(kinds(&out), ["ftyp", "moov", "free", "moof", "mdat"]);
    let moov = top_level(&out)[1];
    let body = &out[moov.1 + 8..moov.1 + moov.2];
    assert_eq!(
        children(body).iter().filter(|(k, _)| k == b"trak").count(),
        2,
        "video and MP3 tracks"
    );
    let mp4a = body.windows(4).position(|w| w == b"mp4a").unwrap();
    assert_eq!(&body[mp4a + 20..mp4a + 24], &[0, 2, 0, 16], "stereo, 16 bit");
    assert_eq!(&body[mp4a + 28..mp4a + 30], &[0xAC, 0x44], "44.1 kHz");
    assert_eq!(
        runs(&out)[0][1],
        RunInfo {
            track: 2,
            base_dts: 0,
            end: 52,
            samples: 2,
            first_sync: true
        }
    );
}
