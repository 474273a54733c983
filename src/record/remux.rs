//! `rtmp-server remux IN.flv OUT.mp4`: an FLV file converted offline by the recording's own
//! MP4 muxer (no FFmpeg): every audio and video tag fed to it at its timestamp, the result
//! written to a new file (an existing OUT is refused and left unchanged).

use super::mp4_muxer::Mp4Muxer;
use super::muxer::{MuxError, Muxer, StreamHeaders, Summary};
use crate::flv::reader::{read_all, FlvReadError};
use crate::flv::{TAG_AUDIO, TAG_VIDEO};
use crate::media::{Frame, FrameKind};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug)]
pub enum RemuxError {
    /// IN could not be read.
    Read(io::Error),
    /// IN is not FLV.
    Flv(FlvReadError),
    /// The stream cannot be written as MP4.
    Mux(MuxError),
    /// OUT exists (unchanged) or could not be written (removed).
    Write(io::Error),
}

impl std::fmt::Display for RemuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemuxError::Read(e) => write!(f, "cannot read the input: {e}"),
            RemuxError::Flv(e) => write!(f, "the input is not a readable FLV file: {e}"),
            RemuxError::Mux(e) => write!(f, "cannot write MP4: {e}"),
            RemuxError::Write(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl std::error::Error for RemuxError {}

/// The MP4 bytes of an FLV file's bytes, and what they hold.
pub fn remux_bytes(flv: &[u8]) -> Result<(Vec<u8>, Summary), RemuxError> {
    let (_, tags) = read_all(flv).map_err(RemuxError::Flv)?;
    let mut muxer = Mp4Muxer::new();
    let mut out = Vec::new();
    let headers = StreamHeaders {
        video: None,
        audio: None,
        metadata: &[],
    };
    muxer.open(&headers, &[], &mut out).map_err(RemuxError::Mux)?;
    for tag in tags {
        let kind = match tag.tag_type {
            TAG_AUDIO => FrameKind::Audio,
            TAG_VIDEO => FrameKind::Video,
            _ => continue,
        };
        let frame = Frame::new(kind, tag.timestamp, Arc::new(tag.body.to_vec()));
        muxer.append(&frame, tag.timestamp, &mut out).map_err(RemuxError::Mux)?;
    }
    muxer.drain(&mut out).map_err(RemuxError::Mux)?;
    let (patches, summary) = muxer.finalize().ok_or(RemuxError::Mux(MuxError::NotOpen))?;
    for (offset, bytes) in patches {
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        if let Some(place) = out.get_mut(at..at.saturating_add(bytes.len())) {
            place.copy_from_slice(&bytes);
        }
    }
    Ok((out, summary))
}

/// Converts `input` (FLV) to a new file `output` (fragmented MP4).
pub fn remux(input: &Path, output: &Path) -> Result<Summary, RemuxError> {
    let flv = std::fs::read(input).map_err(RemuxError::Read)?;
    let (mp4, summary) = remux_bytes(&flv)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .map_err(RemuxError::Write)?;
    let written = file.write_all(&mp4).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(output);
        return Err(RemuxError::Write(e));
    }
    Ok(summary)
}
