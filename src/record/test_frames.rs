//! Frames for the recording and HLS unit tests (planner, muxers, segmenter): video, audio,
//! sequence header and raw frames,
//! and a whole FLV file (ranges and remux).

use crate::flv::writer::{encode_tag, file_header};
use crate::media::{Frame, FrameKind};
use crate::protocol::amf0::{self, Amf0Value};
use std::sync::Arc;

pub fn frame(kind: FrameKind, timestamp: u32, payload: &[u8]) -> Frame {
    Frame::new(kind, timestamp, Arc::new(payload.to_vec()))
}

/// An AVC video frame: a keyframe (0x17) or an inter frame (0x27).
pub fn video(timestamp: u32, key: bool) -> Frame {
    frame(
        FrameKind::Video,
        timestamp,
        &[if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 7],
    )
}

/// An AAC raw frame.
pub fn audio(timestamp: u32) -> Frame {
    frame(FrameKind::Audio, timestamp, &[0xAF, 1, 9])
}

const AVC_HEADER: [u8; 12] = [0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1E, 0xFF, 0xE0, 0];
const AAC_HEADER: [u8; 4] = [0xAF, 0, 0x12, 0x10];

/// An AVC sequence header (a minimal record).
pub fn avc_config() -> Frame {
    frame(FrameKind::Video, 0, &AVC_HEADER)
}

/// An AAC AudioSpecificConfig frame.
pub fn aac_config() -> Frame {
    frame(FrameKind::Audio, 0, &AAC_HEADER)
}

/// The keyframe index an FLV file made by `flv_file` carries.
#[derive(Clone, Copy, PartialEq)]
pub enum Index {
    Right,
    None,
    /// Positions 7 bytes off.
    Wrong,
}

/// 10 s of video at 25 fps (a keyframe every 25 frames) and audio every 40 ms, 5 ms after.
pub fn flv_file(index: Index, video: bool) -> Vec<u8> {
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
