//! A time range of an FLV recording as fragmented MP4 made while it is sent (the playback
//! server's `?format=mp4&start=&duration=`), with no temporary file. `FlvRange::plan` reads
//! the top of the file (onMetaData, sequence headers) and picks the keyframe at or before
//! the start from the file's own keyframe index (a scan of the tags when the file has none,
//! as files from elsewhere may); `stream` then reads from that keyframe through the
//! recording's MP4 muxer, times counted from it, the range's duration in the header so
//! players know the length and can seek. A torn last tag ends the stream, as a crash
//! leaves it.

use super::mp4_muxer::Mp4Muxer;
use super::muxer::{Muxer, StreamHeaders, Summary};
use super::remux::{media_frame, RemuxError, Window, WRITE_BATCH};
use crate::flv::metadata::parse_onmetadata;
use crate::flv::reader::{parse_header, parse_tag, FlvReadError};
use crate::flv::{repair, TAG_HEADER_LEN, TAG_SCRIPT, TAG_VIDEO};
use crate::media::{Frame, FrameKind};
use crate::protocol::amf0::Amf0Value;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A time range of a file, in ms from its start (`duration_ms` None: to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start_ms: u32,
    pub duration_ms: Option<u32>,
}

/// At most this much of the top of a file is read for its onMetaData and sequence headers
/// (a file with no media frame within it is streamed without them).
const HEAD_LIMIT: u64 = 4 * 1024 * 1024;
/// Reading stops at the first frame this far past the range's end (audio and video tags
/// are interleaved a little out of time order, so a frame past the end is not yet the end).
const END_SLACK_MS: u32 = 1000;
/// Nesting accepted in a file's onMetaData (its keyframe index is two levels deep).
const METADATA_MAX_DEPTH: usize = 16;

/// A planned range of one FLV file.
#[derive(Debug)]
pub struct FlvRange {
    path: PathBuf,
    /// Where reading starts: the start keyframe's tag, or the first media tag.
    seek: u64,
    /// The sequence headers from the top of the file.
    headers: Vec<Frame>,
    metadata: Vec<(String, Amf0Value)>,
    /// File time of the first frame sent (sent as 0); earlier frames are left out.
    first_ms: u32,
    /// Frames at or after this file time are left out.
    end_ms: Option<u32>,
    duration_ms: u32,
}

/// What the top of a file holds.
struct Head {
    /// Offset of the first coded media tag (or where reading the head stopped).
    data_start: u64,
    metadata: Vec<(String, Amf0Value)>,
    headers: Vec<Frame>,
}

fn read_head(file: &File) -> Result<Head, RemuxError> {
    let mut window = Window::new(file);
    let mut at = loop {
        match parse_header(window.rest()) {
            Ok(Some(header)) => {
                window.pos += header.data_offset;
                break header.data_offset as u64;
            }
            Ok(None) if !window.eof => window.fill()?,
            Ok(None) => return Err(RemuxError::Flv(FlvReadError::NotFlv)),
            Err(e) => return Err(RemuxError::Flv(e)),
        }
    };
    let mut head = Head {
        data_start: at,
        metadata: Vec::new(),
        headers: Vec::new(),
    };
    let mut first_tag = true;
    while at < HEAD_LIMIT {
        let (tag_type, timestamp, body, used) = match parse_tag(window.rest()) {
            Ok(Some((tag, used))) => (tag.tag_type, tag.timestamp, tag.body.to_vec(), used),
            Ok(None) if !window.eof => {
                window.fill()?;
                continue;
            }
            Ok(None) => break,
            Err(e) => return Err(RemuxError::Flv(e)),
        };
        if first_tag && tag_type == TAG_SCRIPT {
            head.metadata = parse_onmetadata(&body, METADATA_MAX_DEPTH).unwrap_or_default();
        }
        first_tag = false;
        if let Some(frame) = media_frame(tag_type, timestamp, &body) {
            if frame.info.config {
                head.headers.retain(|h| h.kind != frame.kind);
                head.headers.push(frame);
            } else if frame.info.coded {
                head.data_start = at;
                return Ok(head);
            }
        }
        window.pos += used;
        at += used as u64;
    }
    head.data_start = at;
    Ok(head)
}

fn field<'a>(fields: &'a [(String, Amf0Value)], name: &str) -> Option<&'a Amf0Value> {
    fields.iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

/// ms from a seconds value of onMetaData (None unless a finite, non-negative number).
fn millis(value: &Amf0Value) -> Option<u32> {
    match value {
        Amf0Value::Number(s) if s.is_finite() && *s >= 0.0 && *s < f64::from(u32::MAX) / 1000.0 => {
            Some((s * 1000.0).round() as u32)
        }
        _ => None,
    }
}

/// The onMetaData `duration`, in ms.
fn metadata_duration(fields: &[(String, Amf0Value)]) -> Option<u32> {
    field(fields, "duration").and_then(millis)
}

/// The onMetaData `keyframes` index: (ms, tag offset) pairs.
fn metadata_index(fields: &[(String, Amf0Value)]) -> Vec<(u32, u64)> {
    let Some(Amf0Value::Object(index) | Amf0Value::EcmaArray(index)) = field(fields, "keyframes") else {
        return Vec::new();
    };
    let (Some(Amf0Value::StrictArray(times)), Some(Amf0Value::StrictArray(positions))) =
        (field(index, "times"), field(index, "filepositions"))
    else {
        return Vec::new();
    };
    let position = |value: &Amf0Value| match value {
        Amf0Value::Number(p) if p.is_finite() && *p >= 0.0 && *p < 9.0e15 => Some(*p as u64),
        _ => None,
    };
    times
        .iter()
        .zip(positions)
        .filter_map(|(time, at)| Some((millis(time)?, position(at)?)))
        .collect()
}

/// Whether a video tag with timestamp `ms` starts at `at` (an index entry is trusted only then).
fn video_tag_at(file: &File, at: u64, ms: u32) -> bool {
    let mut header = [0u8; TAG_HEADER_LEN];
    if file.read_exact_at(&mut header, at).is_err() {
        return false;
    }
    let [kind, _, _, _, t2, t1, t0, t3, ..] = header;
    kind & 0x1F == TAG_VIDEO && u32::from_be_bytes([t3, t2, t1, t0]) == ms
}

fn scan(path: &Path) -> Result<repair::Scan, RemuxError> {
    repair::scan(path).map_err(|e| match e {
        repair::RepairError::NotFlv(_) => RemuxError::Flv(FlvReadError::NotFlv),
        other => RemuxError::Read(io::Error::other(other.to_string())),
    })
}

impl FlvRange {
    /// Plans `range` of the FLV file at `path`. `RemuxError::OutOfRange` when it starts at or
    /// after the file's end.
    pub fn plan(path: &Path, range: TimeRange) -> Result<FlvRange, RemuxError> {
        let file = File::open(path).map_err(RemuxError::Read)?;
        let head = read_head(&file)?;
        let has_video = head.headers.iter().any(|h| h.kind == FrameKind::Video);
        let mut index = metadata_index(&head.metadata);
        let mut total = metadata_duration(&head.metadata);
        let cut = range.start_ms > 0;
        let trusted = |index: &[(u32, u64)]| {
            index
                .iter()
                .rev()
                .find(|(ms, at)| *ms <= range.start_ms && *at >= head.data_start)
                .is_none_or(|&(ms, at)| video_tag_at(&file, at, ms))
        };
        if total.is_none() || (cut && has_video && (index.is_empty() || !trusted(&index))) {
            let scanned = scan(path)?;
            total = total.or(Some(scanned.stats.duration_ms));
            if cut && (index.is_empty() || !trusted(&index)) {
                index = scanned.stats.index.entries().to_vec();
            }
        }
        let total = total.unwrap_or(0);
        if cut && range.start_ms >= total {
            return Err(RemuxError::OutOfRange);
        }
        let keyframe = index
            .iter()
            .rev()
            .find(|(ms, at)| *ms <= range.start_ms && *at >= head.data_start);
        let (seek, first_ms) = match keyframe {
            Some(&(ms, at)) if cut && has_video => (at, ms),
            // Before the first keyframe, or no video: every audio frame is a start point.
            _ if cut && !has_video => (head.data_start, range.start_ms),
            _ => (head.data_start, 0),
        };
        let end_ms = range.duration_ms.map(|d| range.start_ms.saturating_add(d));
        let duration_ms = end_ms.unwrap_or(total).min(total).saturating_sub(first_ms);
        Ok(FlvRange {
            path: path.to_path_buf(),
            seek,
            headers: head.headers,
            metadata: head.metadata,
            first_ms,
            end_ms,
            duration_ms,
        })
    }

    /// The duration the MP4's header carries, in ms.
    pub fn duration_ms(&self) -> u32 {
        self.duration_ms
    }

    /// File time of the first frame sent (its time 0 in the MP4), in ms.
    pub fn first_ms(&self) -> u32 {
        self.first_ms
    }

    /// Sends the range as fragmented MP4: every byte goes to `write`, in order, in batches.
    pub fn stream(&self, mut write: impl FnMut(&[u8]) -> io::Result<()>) -> Result<Summary, RemuxError> {
        let mut file = File::open(&self.path).map_err(RemuxError::Read)?;
        file.seek(SeekFrom::Start(self.seek)).map_err(RemuxError::Read)?;
        let mut window = Window::new(file);
        let mut muxer = Mp4Muxer::with_known_duration(self.duration_ms);
        let mut out = Vec::new();
        let headers = StreamHeaders {
            video: self.headers.iter().find(|h| h.kind == FrameKind::Video),
            audio: self.headers.iter().find(|h| h.kind == FrameKind::Audio),
            metadata: &self.metadata,
        };
        muxer.open(&headers, &[], &mut out).map_err(RemuxError::Mux)?;
        loop {
            let (frame, used) = match parse_tag(window.rest()) {
                Ok(Some((tag, used))) => (media_frame(tag.tag_type, tag.timestamp, tag.body), used),
                Ok(None) if !window.eof => {
                    window.fill()?;
                    continue;
                }
                // The end of the file, or a torn or corrupt tail: what came before is sent.
                Ok(None) | Err(_) => break,
            };
            window.pos += used;
            let Some(frame) = frame else { continue };
            if let Some(end) = self.end_ms {
                if frame.timestamp >= end.saturating_add(END_SLACK_MS) {
                    break;
                }
                if frame.timestamp >= end && !frame.info.config {
                    continue;
                }
            }
            if frame.timestamp < self.first_ms && !frame.info.config {
                continue;
            }
            muxer
                .append(&frame, frame.timestamp.saturating_sub(self.first_ms), &mut out)
                .map_err(RemuxError::Mux)?;
            if out.len() >= WRITE_BATCH {
                write(&out).map_err(RemuxError::Write)?;
                out.clear();
            }
        }
        muxer.drain(&mut out).map_err(RemuxError::Mux)?;
        write(&out).map_err(RemuxError::Write)?;
        let (_, summary) = muxer
            .finalize()
            .ok_or(RemuxError::Mux(super::muxer::MuxError::NotOpen))?;
        Ok(summary)
    }
}

#[cfg(test)]
#[path = "remux_range_tests.rs"]
mod tests;
