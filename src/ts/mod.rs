//! MPEG transport stream demuxing for SRT ingest (pure, sans-IO, bounded): TS packets and
//! program tables (`packet`), PES reassembly (`pes`), the 90 kHz clock (`clock`), H.264/HEVC
//! Annex B to length-prefixed samples and configuration records (`nal`), AAC ADTS (`adts`), audio and video in decode-time order (`interleave`),
//! and the demuxer that turns them into the FLV tag bodies of an RTMP publish (`demuxer`).

pub mod adts;
pub mod clock;
pub mod demuxer;
pub mod interleave;
pub mod nal;
pub mod packet;
pub mod pes;
#[cfg(test)]
mod tests;

pub use demuxer::{DemuxStats, TsDemuxer, TsFrame};
