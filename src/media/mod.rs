//! Media frames shared by every consumer, and codec header inspection.

pub mod avc_sps;
pub mod codec;
pub mod describe;
pub mod frame;
pub mod gop_cache;
pub mod hevc_sps;

pub use frame::{Frame, FrameKind, Payload};
