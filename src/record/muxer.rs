//! The `Muxer` trait: one container format's bytes, and nothing else (no file, no clock, no
//! thread). The planner decides when files begin and end and each frame's file timestamp;
//! a muxer builds the file header (and whatever it reserves), each frame's framing, and the
//! in-place rewrites of what it reserved (periodic `checkpoint`, final `finalize`). The
//! writer (`output`) owns one muxer per sink and does the I/O. `Format` lists the muxers:
//! a new format is a new muxer file and one entry here.

use crate::media::demux::Codec;
use crate::media::Frame;
use crate::protocol::amf0::Amf0Value;

/// An in-place rewrite: the bytes at a file offset (within what the muxer already wrote).
pub type Patch = (u64, Vec<u8>);

/// What every file of a stream begins with, as the planner holds it.
#[derive(Debug, Clone, Copy)]
pub struct StreamHeaders<'a> {
    /// The latest video sequence header (AVC/HEVC/E-RTMP configuration record).
    pub video: Option<&'a Frame>,
    /// The latest audio sequence header (AAC AudioSpecificConfig...).
    pub audio: Option<&'a Frame>,
    /// The publisher's onMetaData fields, merged across its updates.
    pub metadata: &'a [(String, Amf0Value)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxError {
    /// No file is open (`open` was not called, or the file was finalized or abandoned).
    NotOpen,
    /// A frame (or a header the muxer builds) is too large for the format.
    TooLarge(usize),
    /// The format cannot carry the stream's codec (the recording goes on in the others).
    Unsupported(Codec),
}

impl std::fmt::Display for MuxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MuxError::NotOpen => write!(f, "no recording file is open"),
            MuxError::TooLarge(n) => write!(f, "{n} bytes exceed the format's limit"),
            MuxError::Unsupported(codec) => write!(f, "the format cannot carry codec {codec:?}"),
        }
    }
}

impl std::error::Error for MuxError {}

/// The bytes that follow a frame's payload, after the ones `append` put in its buffer (so
/// the writer sends the payload from the frame's own buffer, never copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tail {
    bytes: [u8; Tail::CAPACITY],
    len: usize,
}

impl Tail {
    pub const CAPACITY: usize = 16;

    /// `bytes` (at most [`Tail::CAPACITY`], longer is cut).
    pub fn new(bytes: &[u8]) -> Self {
        let mut tail = Tail::default();
        let len = bytes.len().min(Tail::CAPACITY);
        if let (Some(to), Some(from)) = (tail.bytes.get_mut(..len), bytes.get(..len)) {
            to.copy_from_slice(from);
        }
        tail.len = len;
        tail
    }

    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    /// Frames (tags, samples...) including the ones the muxer wrote itself.
    pub frames: u64,
    pub duration_ms: u32,
}

/// One container format. A muxer has at most one open file at a time.
pub trait Muxer: Send + std::fmt::Debug {
    /// The final file name's extension, without the dot (`flv`).
    fn extension(&self) -> &'static str;

    /// Begins a file: appends its header, what the muxer reserves for later in-place
    /// rewrites, the stream's sequence headers and `data` (script data held for the top of
    /// the file) to `out`.
    fn open(&mut self, stream: &StreamHeaders<'_>, data: &[Frame], out: &mut Vec<u8>) -> Result<(), MuxError>;

    /// Appends the framing that goes before `frame` at file time `file_ts` (ms) to `out`; the
    /// caller then writes the frame's payload and the returned tail.
    fn append(&mut self, frame: &Frame, file_ts: u32, out: &mut Vec<u8>) -> Result<Tail, MuxError>;

    /// Whether `append` copies the frame's payload into `out` itself (a muxer that holds
    /// frames back to write them whole, e.g. MP4 fragments): the writer then writes only `out`.
    fn embeds_payload(&self) -> bool {
        false
    }

    /// Appends what the muxer still holds back (an unfinished fragment) to `out`; called
    /// before `finalize`.
    fn drain(&mut self, _out: &mut Vec<u8>) -> Result<(), MuxError> {
        Ok(())
    }

    /// The stream's onMetaData changed: fold it into the open file. Returns `false` the first
    /// time an update does not fit the open file (kept for the next one), for a warning.
    fn update_metadata(&mut self, stream: &StreamHeaders<'_>) -> bool;

    /// In-place refreshes of the open file (what it reserved, brought up to date), written
    /// periodically so a file cut short by a crash is only that stale.
    fn checkpoint(&self) -> Vec<Patch>;

    /// Ends the open file: the final in-place rewrites and what the file holds (None: no file
    /// was open). The muxer forgets the file.
    fn finalize(&mut self) -> Option<(Vec<Patch>, Summary)>;

    /// Forgets the open file without finalizing it (its writes failed or it was deleted).
    fn abandon(&mut self);

    /// Bytes of the open file so far (0: none open).
    fn bytes(&self) -> u64;

    /// Media time of the open file so far (ms).
    fn duration_ms(&self) -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_their_bytes() {
        assert_eq!(Tail::new(&[0, 0, 0, 13]).as_slice(), &[0, 0, 0, 13]);
        assert_eq!(Tail::new(&[]).as_slice(), &[] as &[u8]);
        assert_eq!(Tail::new(&[7; 20]).as_slice().len(), Tail::CAPACITY);
    }
}
