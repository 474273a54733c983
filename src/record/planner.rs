//! Recording planner (no I/O, no bytes; it only logs one warning): decides, frame by frame,
//! where a recording's files begin and end and at which timestamp each frame lands in its
//! file, whatever the format. The writer thread (`output`) asks `push` what to do with a
//! frame, opens/closes files (one per sink, each with its own `Muxer`) when told, and hands
//! the muxers what every file begins with (`headers`, `take_held_data`).
//!
//! - A file begins at a start point: a video keyframe (any media frame for the very first
//!   file with `from_any_frame`; any audio frame while the stream has shown no video).
//!   AVC/HEVC/AAC/E-RTMP sequence headers and script data seen before are held for the top
//!   of every file.
//! - The publisher's onMetaData is never a frame of its own: every one (encoders resend it
//!   every few hundred ms) is merged into the stream's metadata (`Decision::Metadata`) that
//!   the muxers fold into their files; other script data (onCuePoint, onTextData…) is
//!   written in order.
//! - Rotation: once a file reaches the size or duration limit, the next start point begins a
//!   new file; nothing is lost or duplicated across the boundary.
//! - Each file's timestamps start at 0 (the start point's recording time, from `timeline`,
//!   which also rebases discontinuities and reconnects); a frame that would land before it
//!   (audio a few ms ahead of the keyframe) is written at 0.

use super::muxer::StreamHeaders;
use super::timeline::{Jump, Timeline};
use crate::flv::metadata::{merge_fields, parse_onmetadata};
use crate::media::{Frame, FrameKind};
use crate::protocol::amf0::Amf0Value;
use log::warn;

/// Script data frames held while no file is open (beyond these, the oldest are dropped).
pub const MAX_HELD_DATA_FRAMES: usize = 32;
/// Nesting depth followed when reading a publisher's onMetaData.
pub const METADATA_MAX_DEPTH: usize = 16;

/// Rotation limits and start rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentRules {
    /// Begin a new file at the next start point once a file holds this many bytes.
    pub max_bytes: Option<u64>,
    /// ... or this much media time (ms).
    pub max_duration_ms: Option<u64>,
    /// Let the first file begin at any media frame instead of a keyframe.
    pub from_any_frame: bool,
}

/// What the writer should do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to write (held for the next file, or dropped before the first keyframe).
    Skip,
    /// Nothing to write: the stream's onMetaData changed (the muxers fold it into open files).
    Metadata,
    /// Append it to the open file.
    Write,
    /// No file is open: open one (`open`) then write the frame.
    Open,
    /// The open file is full: close it, open the next, then write the frame.
    Rotate,
}

/// The open file as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedFile {
    /// Recording time of the file's timestamp 0.
    pub start_time: i64,
    /// 1-based file number within the recording.
    pub index: u32,
}

#[derive(Debug)]
pub struct Planner {
    rules: SegmentRules,
    timeline: Timeline,
    video_header: Option<Frame>,
    audio_header: Option<Frame>,
    publisher_metadata: Vec<(String, Amf0Value)>,
    held_data: Vec<Frame>,
    seen_video: bool,
    opened_any: bool,
    file: Option<PlannedFile>,
    next_index: u32,
    /// Recording time of the frame last passed to `push`.
    time: i64,
    /// Frames dropped because no file could begin yet.
    pub skipped: u64,
}

impl Planner {
    pub fn new(rules: SegmentRules) -> Self {
        Planner {
            rules,
            timeline: Timeline::new(),
            video_header: None,
            audio_header: None,
            publisher_metadata: Vec::new(),
            held_data: Vec::new(),
            seen_video: false,
            opened_any: false,
            file: None,
            next_index: 1,
            time: 0,
            skipped: 0,
        }
    }

    /// A publisher reconnected: its next frame continues just after the latest time.
    pub fn resume(&mut self) {
        self.timeline.resume();
    }

    /// The open file, if any.
    pub fn file(&self) -> Option<PlannedFile> {
        self.file
    }

    /// The index the next file gets (1-based).
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// What every file begins with: the latest sequence headers and the publisher's
    /// onMetaData fields.
    pub fn headers(&self) -> StreamHeaders<'_> {
        StreamHeaders {
            video: self.video_header.as_ref(),
            audio: self.audio_header.as_ref(),
            metadata: &self.publisher_metadata,
        }
    }

    /// Begins a new file at the time of the frame just pushed (after `Open`/`Rotate`, once
    /// the writer could create it); returns its bookkeeping.
    pub fn open(&mut self) -> PlannedFile {
        let file = PlannedFile {
            start_time: self.time,
            index: self.next_index,
        };
        self.next_index += 1;
        self.opened_any = true;
        self.file = Some(file);
        file
    }

    /// Script data held while no file was open, for the top of the file just opened.
    pub fn take_held_data(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.held_data)
    }

    /// Forgets the open file (after the writer closed it, e.g. on rotation or low disk).
    pub fn close(&mut self) -> Option<PlannedFile> {
        self.file.take()
    }

    /// The timestamp of the frame just pushed within the open file (0 when none is open).
    pub fn file_time(&self) -> u32 {
        let start = self.file.map(|f| f.start_time).unwrap_or(0);
        u32::try_from((self.time - start).max(0)).unwrap_or(u32::MAX)
    }

    fn is_start_point(&self, frame: &Frame) -> bool {
        if frame.sequence_header {
            return false;
        }
        match frame.kind {
            FrameKind::Video => frame.keyframe || (self.rules.from_any_frame && !self.opened_any),
            FrameKind::Audio => !self.seen_video || (self.rules.from_any_frame && !self.opened_any),
            FrameKind::Data => false,
        }
    }

    fn is_full(&self, file: &PlannedFile, bytes: u64) -> bool {
        let by_size = self.rules.max_bytes.is_some_and(|max| bytes >= max);
        let elapsed = self.time.saturating_sub(file.start_time).max(0) as u64;
        let by_time = self.rules.max_duration_ms.is_some_and(|max| elapsed >= max);
        by_size || by_time
    }

    /// Maps the frame onto the recording timeline and decides what to do with it; `bytes` is
    /// the size of the open file (the largest of the sinks'). Returns the timeline's rebase,
    /// if this frame caused one, for the log.
    pub fn push(&mut self, frame: &Frame, bytes: u64) -> (Decision, Option<Jump>) {
        let (time, jump) = self.timeline.map(frame.kind, frame.timestamp, frame.sequence_header);
        self.time = time;
        if frame.kind == FrameKind::Video && !frame.sequence_header {
            self.seen_video = true;
        }
        if frame.sequence_header {
            match frame.kind {
                FrameKind::Video => self.video_header = Some(frame.clone()),
                FrameKind::Audio => self.audio_header = Some(frame.clone()),
                FrameKind::Data => {}
            }
        }
        if frame.kind == FrameKind::Data {
            if let Some(fields) = parse_onmetadata(&frame.payload, METADATA_MAX_DEPTH) {
                let left_out = merge_fields(&mut self.publisher_metadata, &fields);
                if left_out > 0 {
                    warn!("onMetaData update over the field limits, fields_left_out={left_out}");
                }
                return (Decision::Metadata, jump);
            }
        }
        let decision = match &self.file {
            None if self.is_start_point(frame) => Decision::Open,
            None => {
                if frame.kind == FrameKind::Data {
                    if self.held_data.len() >= MAX_HELD_DATA_FRAMES {
                        self.held_data.remove(0);
                        self.skipped += 1;
                    }
                    self.held_data.push(frame.clone());
                } else if !frame.sequence_header {
                    self.skipped += 1;
                }
                Decision::Skip
            }
            Some(file) if self.is_start_point(frame) && self.is_full(file, bytes) => Decision::Rotate,
            Some(_) => Decision::Write,
        };
        (decision, jump)
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
