//! FLV muxer: the bytes of a recording's FLV files. A file begins with the FLV header, a
//! reserved onMetaData tag (publisher fields merged across updates, width/height from the
//! AVC sequence header when the publisher sent none, duration, filesize and a keyframe index
//! with fixed room) and the held sequence headers and script data at timestamp 0; each frame
//! is one tag. The reserved onMetaData and the header flags are rewritten in place by
//! `checkpoint`/`finalize`; `repair` (`flv::repair`) rebuilds them for a file cut short.

use super::muxer::{MuxError, Muxer, Patch, StreamHeaders, Summary, Tail};
use crate::flv::metadata::{MetaStats, MetadataLayout, KEYFRAME_INDEX_CAPACITY};
use crate::flv::repair::{RepairError, RepairReport};
use crate::flv::writer::{encode_tag, file_header, header_flags, tag_frame, FlvWriteError};
use crate::flv::{FILE_HEADER_LEN, FLAGS_OFFSET, TAG_HEADER_LEN, TAG_SCRIPT};
use crate::media::avc_sps::avc_picture_size;
use crate::media::{Frame, FrameKind};
use crate::protocol::amf0::Amf0Value;
use std::path::Path;

/// FLV video codec id of AVC (H.264).
const AVC_CODEC_ID: u8 = 7;
/// File offset of the onMetaData tag body (after the file header and its tag header).
pub const METADATA_BODY_OFFSET: u64 = (FILE_HEADER_LEN + TAG_HEADER_LEN) as u64;

impl From<FlvWriteError> for MuxError {
    fn from(e: FlvWriteError) -> Self {
        match e {
            FlvWriteError::TagTooLarge(n) => MuxError::TooLarge(n),
        }
    }
}

/// One open file's bookkeeping.
#[derive(Debug, Clone)]
pub struct FlvFile {
    pub layout: MetadataLayout,
    pub stats: MetaStats,
    pub tags: u64,
    /// An onMetaData update did not fit this file's reserved tag (reported once).
    metadata_overflow: bool,
}

impl FlvFile {
    /// The header flags byte for what the file holds.
    pub fn flags(&self) -> u8 {
        header_flags(self.stats.has_audio, self.stats.has_video)
    }

    /// The current onMetaData body (same length as the reserved one).
    pub fn metadata_body(&self) -> Vec<u8> {
        self.layout.build(&self.stats)
    }

    /// The in-place rewrites: onMetaData body, then the header flags.
    fn patches(&self) -> Vec<Patch> {
        vec![
            (METADATA_BODY_OFFSET, self.metadata_body()),
            (FLAGS_OFFSET, vec![self.flags()]),
        ]
    }

    /// Appends a tag header for a frame at `file_time` and accounts for the whole tag.
    fn append_split(&mut self, frame: &Frame, file_time: u32, out: &mut Vec<u8>) -> Result<[u8; 4], FlvWriteError> {
        let (header, trailer) = tag_frame(frame.kind.tag_type(), file_time, frame.payload.len())?;
        out.extend_from_slice(&header);
        let position = self.stats.filesize;
        let stats = &mut self.stats;
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
        self.tags += 1;
        Ok(trailer)
    }

    /// Appends a whole tag (the payload copied).
    fn append_whole(&mut self, frame: &Frame, file_time: u32, out: &mut Vec<u8>) -> Result<(), FlvWriteError> {
        let trailer = self.append_split(frame, file_time, out)?;
        out.extend_from_slice(&frame.payload);
        out.extend_from_slice(&trailer);
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct FlvMuxer {
    file: Option<FlvFile>,
}

impl FlvMuxer {
    pub fn new() -> Self {
        FlvMuxer::default()
    }

    /// The open file's bookkeeping.
    pub fn file(&self) -> Option<&FlvFile> {
        self.file.as_ref()
    }

    /// Repairs an FLV file in place (`flv::repair`).
    pub fn repair(path: &Path) -> Result<RepairReport, RepairError> {
        crate::flv::repair::repair(path)
    }
}

/// The publisher's onMetaData fields, with width/height taken from the AVC sequence header
/// when the publisher did not send them (players and flvmeta want them).
pub fn metadata_fields(stream: &StreamHeaders<'_>) -> Vec<(String, Amf0Value)> {
    let mut fields = stream.metadata.to_vec();
    let has = |key: &str| fields.iter().any(|(k, _)| k.eq_ignore_ascii_case(key));
    if has("width") && has("height") {
        return fields;
    }
    let is_avc = |f: &&Frame| {
        f.payload
            .first()
            .is_some_and(|b| b & 0x80 == 0 && b & 0x0F == AVC_CODEC_ID)
    };
    let size = stream.video.filter(is_avc).and_then(|f| avc_picture_size(&f.payload));
    if let Some((width, height)) = size {
        fields.retain(|(k, _)| !k.eq_ignore_ascii_case("width") && !k.eq_ignore_ascii_case("height"));
        fields.push(("width".to_owned(), Amf0Value::Number(f64::from(width))));
        fields.push(("height".to_owned(), Amf0Value::Number(f64::from(height))));
    }
    fields
}

impl Muxer for FlvMuxer {
    fn extension(&self) -> &'static str {
        "flv"
    }

    fn open(&mut self, stream: &StreamHeaders<'_>, data: &[Frame], out: &mut Vec<u8>) -> Result<(), MuxError> {
        let layout = MetadataLayout::new(&metadata_fields(stream), KEYFRAME_INDEX_CAPACITY);
        let mut file = FlvFile {
            stats: MetaStats::new(layout.capacity()),
            layout,
            tags: 0,
            metadata_overflow: false,
        };
        let start = out.len();
        out.extend_from_slice(&file_header(true, true));
        encode_tag(TAG_SCRIPT, 0, &file.metadata_body(), out)?;
        file.stats.filesize = (out.len() - start) as u64;
        file.tags = 1;
        let file = self.file.insert(file);
        let held = [stream.video, stream.audio].into_iter().flatten().chain(data);
        for frame in held {
            file.append_whole(frame, 0, out)?;
        }
        Ok(())
    }

    fn append(&mut self, frame: &Frame, file_ts: u32, out: &mut Vec<u8>) -> Result<Tail, MuxError> {
        let file = self.file.as_mut().ok_or(MuxError::NotOpen)?;
        Ok(Tail::new(&file.append_split(frame, file_ts, out)?))
    }

    fn update_metadata(&mut self, stream: &StreamHeaders<'_>) -> bool {
        let Some(file) = self.file.as_mut() else {
            return true;
        };
        match file.layout.with_publisher(&metadata_fields(stream)) {
            Some(layout) => file.layout = layout,
            None if !file.metadata_overflow => {
                file.metadata_overflow = true;
                return false;
            }
            None => {}
        }
        true
    }

    fn checkpoint(&self) -> Vec<Patch> {
        self.file.as_ref().map(FlvFile::patches).unwrap_or_default()
    }

    fn finalize(&mut self) -> Option<(Vec<Patch>, Summary)> {
        let file = self.file.take()?;
        let summary = Summary {
            bytes: file.stats.filesize,
            frames: file.tags,
            duration_ms: file.stats.duration_ms,
        };
        Some((file.patches(), summary))
    }

    fn abandon(&mut self) {
        self.file = None;
    }

    fn bytes(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.stats.filesize)
    }

    fn duration_ms(&self) -> u32 {
        self.file.as_ref().map_or(0, |f| f.stats.duration_ms)
    }
}

#[cfg(test)]
#[path = "flv_muxer_tests.rs"]
mod tests;
