//! `Frame`: one audio, video or data message, parsed once and shared (Arc) by every consumer.

use super::codec;
pub use crate::protocol::frame_kind::FrameKind;
use std::sync::Arc;

/// A frame's bytes, shared by every consumer. An `Arc<Vec<u8>>` rather than `Arc<[u8]>`:
/// the chunk decoder's message buffer becomes the shared payload without a copy.
pub type Payload = Arc<Vec<u8>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Timestamp in ms, as published (32 bits).
    pub timestamp: u32,
    /// True for a video keyframe (any codec, legacy or Enhanced RTMP).
    pub keyframe: bool,
    /// True for a codec configuration record (AVC/HEVC/AAC sequence header, E-RTMP SequenceStart).
    pub sequence_header: bool,
    pub payload: Payload,
}

impl Frame {
    /// Builds a frame and inspects its codec header once.
    pub fn new(kind: FrameKind, timestamp: u32, payload: Payload) -> Frame {
        let info = match kind {
            FrameKind::Video => codec::inspect_video(&payload),
            FrameKind::Audio => codec::inspect_audio(&payload),
            FrameKind::Data => codec::FrameInfo::default(),
        };
        Frame {
            kind,
            timestamp,
            keyframe: info.keyframe,
            sequence_header: info.sequence_header,
            payload,
        }
    }

    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}
