//! Segmenter (no I/O; it only logs two warnings): decides, frame by frame, what a
//! recording writes and where its files begin and end, and builds their bytes. No file,
//! clock or thread here: the writer thread (`output`) asks `push` what to do with a frame,
//! opens/closes files when told, and writes the bytes `open`/`write_split` append (and each
//! frame's payload after its tag header).
//!
//! - A file begins at a start point: a video keyframe (any media frame for the very first
//!   file with `from_any_frame`; any audio frame while the stream has shown no video).
//!   AVC/HEVC/AAC/E-RTMP sequence headers and script data seen before are held and written
//!   at the top of every file, after the reserved onMetaData tag (whose width/height come
//!   from the AVC sequence header when the publisher sent none).
//! - The publisher's onMetaData is never written as a tag of its own: every one (encoders
//!   resend it every few hundred ms) is merged into the file's reserved onMetaData, which the
//!   writer rewrites in place; other script data (onCuePoint, onTextData…) is written in
//!   order. An update that does not fit the reserved room is left out of the open file (one
//!   warning per file) and carried into the next.
//! - Rotation: once a file reaches the size or duration limit, the next start point begins a
//!   new file; nothing is lost or duplicated across the boundary.
//! - Each file's timestamps start at 0 (the start point's recording time); a frame that
//!   would land before it (audio a few ms ahead of the keyframe) is written at 0.

use super::timeline::{Jump, Timeline};
use crate::flv::metadata::{merge_fields, parse_onmetadata, MetaStats, MetadataLayout, KEYFRAME_INDEX_CAPACITY};
use crate::flv::writer::{encode_tag, file_header, header_flags, tag_frame, FlvWriteError};
use crate::flv::{FILE_HEADER_LEN, TAG_HEADER_LEN, TAG_SCRIPT};
use crate::media::avc_sps::avc_picture_size;
use crate::media::{Frame, FrameKind};
use crate::protocol::amf0::Amf0Value;
use log::warn;

/// Script data frames held while no file is open (beyond these, the oldest are dropped).
pub const MAX_HELD_DATA_FRAMES: usize = 32;
/// Nesting depth followed when reading a publisher's onMetaData.
pub const METADATA_MAX_DEPTH: usize = 16;
/// FLV video codec id of AVC (H.264).
const AVC_CODEC_ID: u8 = 7;
/// File offset of the onMetaData tag body (after the file header and its tag header).
pub const METADATA_BODY_OFFSET: u64 = (FILE_HEADER_LEN + TAG_HEADER_LEN) as u64;

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
    /// Append it to the open file.
    Write,
    /// No file is open: open one (`open`) then write the frame.
    Open,
    /// The open file is full: close it, open the next, then write the frame.
    Rotate,
}

/// One open file's bookkeeping.
#[derive(Debug, Clone)]
pub struct Segment {
    pub layout: MetadataLayout,
    pub stats: MetaStats,
    pub tags: u64,
    /// Recording time of the file's timestamp 0.
    start_time: i64,
    pub index: u32,
    /// An onMetaData update did not fit this file's reserved tag (warned once).
    metadata_overflow: bool,
}

impl Segment {
    pub fn bytes(&self) -> u64 {
        self.stats.filesize
    }

    pub fn duration_ms(&self) -> u32 {
        self.stats.duration_ms
    }

    /// The header flags byte for what the file holds.
    pub fn flags(&self) -> u8 {
        header_flags(self.stats.has_audio, self.stats.has_video)
    }

    /// The current onMetaData body (same length as the reserved one).
    pub fn metadata_body(&self) -> Vec<u8> {
        self.layout.build(&self.stats)
    }
}

#[derive(Debug)]
pub struct Segmenter {
    rules: SegmentRules,
    timeline: Timeline,
    video_header: Option<Frame>,
    audio_header: Option<Frame>,
    publisher_metadata: Vec<(String, Amf0Value)>,
    held_data: Vec<Frame>,
    seen_video: bool,
    opened_any: bool,
    segment: Option<Segment>,
    next_index: u32,
    /// Recording time of the frame last passed to `push`.
    time: i64,
    /// Frames dropped because no file could begin yet.
    pub skipped: u64,
}

impl Segmenter {
    pub fn new(rules: SegmentRules) -> Self {
        Segmenter {
            rules,
            timeline: Timeline::new(),
            video_header: None,
            audio_header: None,
            publisher_metadata: Vec::new(),
            held_data: Vec::new(),
            seen_video: false,
            opened_any: false,
            segment: None,
            next_index: 1,
            time: 0,
            skipped: 0,
        }
    }

    /// A publisher reconnected: its next frame continues just after the latest time.
    pub fn resume(&mut self) {
        self.timeline.resume();
    }

    pub fn segment(&self) -> Option<&Segment> {
        self.segment.as_ref()
    }

    /// The index the next file gets (1-based).
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// Forgets the open file (after the writer closed it, e.g. on rotation or low disk);
    /// returns its final bookkeeping.
    pub fn close(&mut self) -> Option<Segment> {
        self.segment.take()
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

    fn is_full(&self, segment: &Segment) -> bool {
        let by_size = self.rules.max_bytes.is_some_and(|max| segment.bytes() >= max);
        let elapsed = self.time.saturating_sub(segment.start_time).max(0) as u64;
        let by_time = self.rules.max_duration_ms.is_some_and(|max| elapsed >= max);
        by_size || by_time
    }

    /// Maps the frame onto the recording timeline and decides what to do with it.
    /// Returns the timeline's rebase, if this frame caused one, for the log.
    pub fn push(&mut self, frame: &Frame) -> (Decision, Option<Jump>) {
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
                self.merge_metadata(&fields);
                return (Decision::Skip, jump);
            }
        }
        let decision = match &self.segment {
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
            Some(segment) if self.is_start_point(frame) && self.is_full(segment) => Decision::Rotate,
            Some(_) => Decision::Write,
        };
        (decision, jump)
    }

    /// Begins a new file at the time of the frame just pushed: appends the FLV header, the
    /// reserved onMetaData and the held sequence headers and script data to `out`.
    pub fn open(&mut self, out: &mut Vec<u8>) -> Result<(), FlvWriteError> {
        let layout = MetadataLayout::new(&self.metadata_fields(), KEYFRAME_INDEX_CAPACITY);
        let mut segment = Segment {
            stats: MetaStats::new(layout.capacity()),
            layout,
            tags: 0,
            start_time: self.time,
            index: self.next_index,
            metadata_overflow: false,
        };
        self.next_index += 1;
        self.opened_any = true;
        let start = out.len();
        out.extend_from_slice(&file_header(true, true));
        encode_tag(TAG_SCRIPT, 0, &segment.metadata_body(), out)?;
        segment.stats.filesize = (out.len() - start) as u64;
        segment.tags = 1;
        self.segment = Some(segment);
        let held: Vec<Frame> = [self.video_header.clone(), self.audio_header.clone()]
            .into_iter()
            .flatten()
            .chain(std::mem::take(&mut self.held_data))
            .collect();
        for frame in &held {
            self.append(frame, 0, out)?;
        }
        Ok(())
    }

    /// Merges an onMetaData into the publisher's fields and the open file's reserved tag.
    fn merge_metadata(&mut self, update: &[(String, Amf0Value)]) {
        let left_out = merge_fields(&mut self.publisher_metadata, update);
        if left_out > 0 {
            warn!("onMetaData update over the field limits, fields_left_out={left_out}");
        }
        let fields = self.metadata_fields();
        let Some(segment) = self.segment.as_mut() else {
            return;
        };
        match segment.layout.with_publisher(&fields) {
            Some(layout) => segment.layout = layout,
            None if !segment.metadata_overflow => {
                segment.metadata_overflow = true;
                warn!(
                    "onMetaData update does not fit the file's reserved tag, kept for the next file segment={}",
                    segment.index
                );
            }
            None => {}
        }
    }

    /// The publisher's onMetaData fields, with width/height taken from the AVC sequence
    /// header when the publisher did not send them (players and flvmeta want them).
    fn metadata_fields(&self) -> Vec<(String, Amf0Value)> {
        let mut fields = self.publisher_metadata.clone();
        let has = |key: &str| fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(key));
        if has("width") && has("height") {
            return fields;
        }
        let is_avc = |f: &Frame| {
            f.payload
                .first()
                .is_some_and(|b| b & 0x80 == 0 && b & 0x0F == AVC_CODEC_ID)
        };
        let size = self
            .video_header
            .as_ref()
            .filter(|f| is_avc(f))
            .and_then(|f| avc_picture_size(&f.payload));
        if let Some((width, height)) = size {
            fields.retain(|(k, _)| !k.eq_ignore_ascii_case("width") && !k.eq_ignore_ascii_case("height"));
            fields.push(("width".to_owned(), Amf0Value::Number(f64::from(width))));
            fields.push(("height".to_owned(), Amf0Value::Number(f64::from(height))));
        }
        fields
    }

    /// Appends the tag header of the frame just pushed (after `Write`, or after `open` for
    /// `Open`/`Rotate`): the caller writes the payload from the frame's own buffer, then the
    /// returned previous-tag-size field (None: nothing to write).
    pub fn write_split(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<Option<[u8; 4]>, FlvWriteError> {
        let start = self.segment.as_ref().map(|s| s.start_time).unwrap_or(0);
        let file_time = u32::try_from((self.time - start).max(0)).unwrap_or(u32::MAX);
        self.append_split(frame, file_time, out)
    }

    fn append(&mut self, frame: &Frame, file_time: u32, out: &mut Vec<u8>) -> Result<(), FlvWriteError> {
        if let Some(trailer) = self.append_split(frame, file_time, out)? {
            out.extend_from_slice(&frame.payload);
            out.extend_from_slice(&trailer);
        }
        Ok(())
    }

    /// Appends a tag header for `frame` at `file_time` and accounts for the whole tag.
    fn append_split(
        &mut self,
        frame: &Frame,
        file_time: u32,
        out: &mut Vec<u8>,
    ) -> Result<Option<[u8; 4]>, FlvWriteError> {
        let Some(segment) = self.segment.as_mut() else {
            return Ok(None);
        };
        let (header, trailer) = tag_frame(frame.kind.tag_type(), file_time, frame.payload.len())?;
        out.extend_from_slice(&header);
        let position = segment.stats.filesize;
        let stats = &mut segment.stats;
        match frame.kind {
            FrameKind::Audio => stats.has_audio = true,
            FrameKind::Video => stats.note_video(file_time, position, frame.keyframe),
            FrameKind::Data => {}
        }
        stats.filesize += (TAG_HEADER_LEN + frame.payload.len() + trailer.len()) as u64;
        if frame.kind != FrameKind::Data {
            stats.last_timestamp = stats.last_timestamp.max(file_time);
            stats.duration_ms = stats.last_timestamp;
        }
        segment.tags += 1;
        Ok(Some(trailer))
    }
}

#[cfg(test)]
#[path = "segmenter_tests.rs"]
mod tests;
