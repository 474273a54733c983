//! `SharedMedia`: a frame as players receive it (parsed once, on the stream's timeline,
//! shared by every player), with the chunk headers each player's writer puts around its
//! payload, and the chunk streams players' media and notices travel on.

use crate::media::demux::{self, FrameInfo};
use crate::media::{Frame, FrameKind, Payload};
use crate::protocol::chunk::shared::{message_headers, WireMessage};

/// Chunk streams the writer thread uses; the session's own replies use 2, 3 and 5.
const CSID_DATA: u32 = 4;
const CSID_AUDIO: u32 = 6;
const CSID_VIDEO: u32 = 7;
pub const CSID_NOTICE: u32 = 8;

/// A frame as players receive it: parsed once, on the stream's timeline, and shared by every
/// player, whose writer sends the payload in place between its own chunk headers.
#[derive(Debug)]
pub struct SharedMedia {
    pub kind: FrameKind,
    /// Timestamp on the stream's timeline (monotonic across republishes).
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    pub payload: Payload,
    /// The publisher's parse of the payload's header, kept so that consumers needing more
    /// than the flags (HLS, a recording started mid-stream) do not parse it again.
    info: FrameInfo,
}

impl SharedMedia {
    /// A frame with the given flags (the header is parsed for the rest of its info).
    pub fn new(kind: FrameKind, timestamp: u32, keyframe: bool, sequence_header: bool, payload: Payload) -> Self {
        let mut info = demux::demux(kind, &payload);
        info.keyframe = keyframe;
        info.config = sequence_header;
        SharedMedia {
            kind,
            timestamp,
            keyframe,
            sequence_header,
            payload,
            info,
        }
    }

    /// A published frame at `timestamp` on the stream's timeline: its parse is reused.
    pub fn from_frame(frame: &Frame, timestamp: u32) -> Self {
        SharedMedia {
            kind: frame.kind,
            timestamp,
            keyframe: frame.keyframe,
            sequence_header: frame.sequence_header,
            payload: std::sync::Arc::clone(&frame.payload),
            info: frame.info,
        }
    }

    /// The frame again, at its stream timestamp, without parsing its header a second time.
    pub fn frame(&self) -> Frame {
        Frame {
            kind: self.kind,
            timestamp: self.timestamp,
            keyframe: self.keyframe,
            sequence_header: self.sequence_header,
            payload: std::sync::Arc::clone(&self.payload),
            info: self.info,
        }
    }

    pub fn csid(&self) -> u32 {
        match self.kind {
            FrameKind::Audio => CSID_AUDIO,
            FrameKind::Video => CSID_VIDEO,
            FrameKind::Data => CSID_DATA,
        }
    }

    /// This frame's chunk headers for one player (its timestamp and stream id).
    pub fn player_headers(&self, timestamp: u32, stream_id: u32, head: &mut Vec<u8>, continuation: &mut Vec<u8>) {
        let (csid, length, type_id) = (self.csid(), self.payload.len(), self.kind.tag_type());
        message_headers(csid, timestamp, length, type_id, stream_id, head, continuation);
    }

    /// This frame on the wire with one player's headers, in `chunk_size` pieces.
    pub fn wire<'a>(&'a self, head: &'a [u8], continuation: &'a [u8], chunk_size: u32) -> WireMessage<'a> {
        WireMessage {
            head,
            continuation,
            payload: &self.payload,
            chunk_size,
        }
    }
}
