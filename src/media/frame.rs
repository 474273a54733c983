//! `Frame`: one audio, video or data message, demuxed once and shared (Arc) by every consumer.

use super::demux::{self, FrameInfo};
pub use crate::protocol::frame_kind::FrameKind;
use std::sync::Arc;

/// A frame's bytes, shared by every consumer. An `Arc<Vec<u8>>` rather than `Arc<[u8]>`:
/// the chunk decoder's message buffer becomes the shared payload without a copy.
pub type Payload = Arc<Vec<u8>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Timestamp in ms, as published (32 bits): the decode time (dts).
    pub timestamp: u32,
    /// True for a video keyframe (any codec, legacy or Enhanced RTMP); `info.keyframe`.
    pub keyframe: bool,
    /// True for a codec configuration record (AVC/HEVC/AAC sequence header, E-RTMP
    /// SequenceStart); `info.config`.
    pub sequence_header: bool,
    pub payload: Payload,
    /// What the payload's header says (codec, cts, config, where the codec data starts),
    /// demuxed once by `Frame::new`.
    pub info: FrameInfo,
}

impl Frame {
    /// Builds a frame and demuxes its codec header once.
    pub fn new(kind: FrameKind, timestamp: u32, payload: Payload) -> Frame {
        let info = demux::demux(kind, &payload);
        Frame {
            kind,
            timestamp,
            keyframe: info.keyframe,
            sequence_header: info.config,
            payload,
            info,
        }
    }

    /// The encoder's bytes: the payload after its FLV/E-RTMP header.
    pub fn data(&self) -> &[u8] {
        self.info.data(&self.payload)
    }

    /// The codec configuration record, when the frame carries one.
    pub fn config_record(&self) -> Option<&[u8]> {
        self.info.config_record(&self.payload)
    }

    pub fn len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}
