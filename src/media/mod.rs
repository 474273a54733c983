//! Media frames shared by every consumer, codec header inspection, and wrap-aware timestamp
//! arithmetic (`timestamp`).

pub mod avc_sps;
pub mod codec;
pub mod demux;
pub mod describe;
pub mod frame;
pub mod gop_cache;
pub mod hevc_sps;
pub mod timestamp;

pub use frame::{Frame, FrameKind, Payload};
