//! Frames for the recording unit tests (planner and muxers): video, audio and raw frames.

use crate::media::{Frame, FrameKind};
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
