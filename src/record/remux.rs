//! `rtmp-server remux IN.flv OUT.mp4`: an FLV file converted offline by the recording's own
//! MP4 muxer (no FFmpeg): every audio and video tag fed to it at its timestamp, streamed
//! (the input read and the output written a megabyte at a time, then the muxer's in-place
//! rewrites) into a new file; an existing OUT is refused and left unchanged.

use super::mp4_muxer::Mp4Muxer;
use super::muxer::{MuxError, Muxer, Patch, StreamHeaders, Summary};
use crate::flv::reader::{parse_header, parse_tag, FlvReadError};
use crate::flv::{TAG_AUDIO, TAG_VIDEO};
use crate::media::{Frame, FrameKind};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
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
    /// A time range asked for starts at or after the end of IN.
    OutOfRange,
}

impl std::fmt::Display for RemuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemuxError::Read(e) => write!(f, "cannot read the input: {e}"),
            RemuxError::Flv(e) => write!(f, "the input is not a readable FLV file: {e}"),
            RemuxError::Mux(e) => write!(f, "cannot write MP4: {e}"),
            RemuxError::Write(e) => write!(f, "cannot write the output: {e}"),
            RemuxError::OutOfRange => write!(f, "the range starts after the end of the input"),
        }
    }
}

impl std::error::Error for RemuxError {}

/// Bytes of input read at a time.
const READ_CHUNK: usize = 1024 * 1024;
/// Output is written in batches of about this much.
pub(super) const WRITE_BATCH: usize = 1024 * 1024;

/// A window over the input: parsed from `pos`, refilled by `READ_CHUNK`.
pub(super) struct Window<R> {
    pub(super) input: R,
    bytes: Vec<u8>,
    pub(super) pos: usize,
    pub(super) eof: bool,
}

impl<R: Read> Window<R> {
    pub(super) fn new(input: R) -> Self {
        Window {
            input,
            bytes: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    pub(super) fn rest(&self) -> &[u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn fill(&mut self) -> Result<(), RemuxError> {
        self.bytes.drain(..self.pos.min(self.bytes.len()));
        self.pos = 0;
        let len = self.bytes.len();
        self.bytes.resize(len + READ_CHUNK, 0);
        let read = loop {
            match self.input.read(self.bytes.get_mut(len..).unwrap_or_default()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = read.map_err(RemuxError::Read)?;
        self.bytes.truncate(len + n);
        self.eof = n == 0;
        Ok(())
    }
}

/// An FLV audio or video tag as a frame (None: script data and anything else).
pub(super) fn media_frame(tag_type: u8, timestamp: u32, body: &[u8]) -> Option<Frame> {
    let kind = match tag_type {
        TAG_AUDIO => FrameKind::Audio,
        TAG_VIDEO => FrameKind::Video,
        _ => return None,
    };
    Some(Frame::new(kind, timestamp, Arc::new(body.to_vec())))
}

/// Streams an FLV file through the MP4 muxer: every output byte goes to `write` (in
/// order, in batches); returns the in-place rewrites to apply afterwards and the summary.
/// A torn last tag is ignored, as a crash leaves it.
pub fn remux_stream(
    input: impl Read,
    mut write: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(Vec<Patch>, Summary), RemuxError> {
    let mut window = Window::new(input);
    loop {
        match parse_header(window.rest()) {
            Ok(Some(header)) => {
                window.pos += header.data_offset;
                break;
            }
            Ok(None) if !window.eof => window.fill()?,
            Ok(None) => return Err(RemuxError::Flv(FlvReadError::NotFlv)),
            Err(e) => return Err(RemuxError::Flv(e)),
        }
    }
    let mut muxer = Mp4Muxer::new();
    let mut out = Vec::new();
    let headers = StreamHeaders {
        video: None,
        audio: None,
        metadata: &[],
    };
    muxer.open(&headers, &[], &mut out).map_err(RemuxError::Mux)?;
    loop {
        let (frame, used) = match parse_tag(window.rest()) {
            Ok(Some((tag, used))) => (media_frame(tag.tag_type, tag.timestamp, tag.body), used),
            Ok(None) if !window.eof => {
                window.fill()?;
                continue;
            }
            Ok(None) => break,
            Err(e) => return Err(RemuxError::Flv(e)),
        };
        window.pos += used;
        if let Some(frame) = frame {
            muxer
                .append(&frame, frame.timestamp, &mut out)
                .map_err(RemuxError::Mux)?;
        }
        if out.len() >= WRITE_BATCH {
            write(&out).map_err(RemuxError::Write)?;
            out.clear();
        }
    }
    muxer.drain(&mut out).map_err(RemuxError::Mux)?;
    write(&out).map_err(RemuxError::Write)?;
    muxer.finalize().ok_or(RemuxError::Mux(MuxError::NotOpen))
}

/// Converts `input` (FLV) to a new file `output` (fragmented MP4), streaming both.
pub fn remux(input: &Path, output: &Path) -> Result<Summary, RemuxError> {
    let source = File::open(input).map_err(RemuxError::Read)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .map_err(RemuxError::Write)?;
    let done = remux_stream(source, |bytes| (&file).write_all(bytes)).and_then(|(patches, summary)| {
        for (offset, bytes) in patches {
            file.write_all_at(&bytes, offset).map_err(RemuxError::Write)?;
        }
        file.sync_all().map_err(RemuxError::Write)?;
        Ok(summary)
    });
    if done.is_err() {
        drop(file);
        let _ = std::fs::remove_file(output);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::writer::{encode_tag, file_header};

    #[test]
    fn flv_streams_through_in_small_reads_and_torn_tails_are_ignored() {
        let mut flv = file_header(true, true).to_vec();
        encode_tag(9, 0, &[0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1E, 0xFF, 0xE0, 0], &mut flv).unwrap();
        encode_tag(8, 0, &[0xAF, 0, 0x12, 0x10], &mut flv).unwrap();
        encode_tag(18, 0, &[2, 0, 1, b'x'], &mut flv).unwrap();
        for i in 0..20u32 {
            encode_tag(
                9,
                i * 40,
                &[if i % 10 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0, 7],
                &mut flv,
            )
            .unwrap();
            encode_tag(8, i * 40 + 5, &[0xAF, 1, 9], &mut flv).unwrap();
        }
        flv.extend_from_slice(&[9, 0, 0, 50]); // a torn tag
        let mut out = Vec::new();
        let (patches, summary) = remux_stream(io::Cursor::new(&flv), |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(summary.frames, 40);
        assert_eq!(summary.bytes, out.len() as u64);
        assert!(!patches.is_empty());
        assert!(matches!(
            remux_stream(io::Cursor::new(b"GIF89a".to_vec()), |_| Ok(())),
            Err(RemuxError::Flv(FlvReadError::NotFlv))
        ));
    }
}
