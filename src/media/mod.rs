//! Media frames shared by every consumer, demuxed once (`demux`: codec, cts, config record),
//! and wrap-aware timestamp arithmetic (`timestamp`).

pub mod avc_sps;
pub mod codec;
pub mod demux;
pub mod describe;
pub mod frame;
pub mod gop_cache;
pub mod hevc_sps;
pub mod timestamp;

pub use demux::{AudioCodec, Codec, FrameInfo, VideoCodec};
pub use frame::{Frame, FrameKind, Payload};
