//! FLV repair: scans a file tag by tag (streaming, whole file never in memory), cuts a torn
//! or corrupt tail after the last whole tag, and rebuilds onMetaData (duration, filesize,
//! keyframe index, header flags). A file whose first tag is this server's reserved
//! onMetaData is fixed in place; any other FLV is rewritten through a temporary file next
//! to it with a fresh reserved onMetaData. Input that is not FLV is refused before anything
//! is changed.

use super::metadata::{is_reserved, parse_onmetadata, MetaStats, MetadataLayout, KEYFRAME_INDEX_CAPACITY};
use super::reader::parse_header;
use super::writer::{encode_tag, file_header, header_flags};
use super::{FLAGS_OFFSET, TAG_HEADER_LEN, TAG_SCRIPT, TAG_VIDEO};
use crate::media::codec::inspect_video;
use crate::protocol::amf0::Amf0Value;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Nesting depth followed when reading an existing onMetaData.
const METADATA_MAX_DEPTH: usize = 16;
/// Read buffer of a scan.
const READ_BUFFER_SIZE: usize = 256 * 1024;
/// Suffix of the temporary file a rewrite goes through.
pub const REWRITE_SUFFIX: &str = ".repair-tmp";

#[derive(Debug)]
pub enum RepairError {
    /// The input has no FLV signature or a broken header: nothing was changed.
    NotFlv(PathBuf),
    /// The input is not a fragmented MP4 this server wrote (no `ftyp` + `moov`): unchanged.
    NotMp4(PathBuf),
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for RepairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepairError::NotFlv(path) => write!(f, "{} is not an FLV file; left unchanged", path.display()),
            RepairError::NotMp4(path) => write!(f, "{} is not a fragmented MP4 file; left unchanged", path.display()),
            RepairError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for RepairError {}

/// The first tag's onMetaData: body offset, body length and its fields.
#[derive(Debug, Clone)]
pub struct FirstMetadata {
    pub offset: u64,
    pub len: usize,
    pub fields: Vec<(String, Amf0Value)>,
}

/// What a scan found.
#[derive(Debug, Clone)]
pub struct Scan {
    pub data_offset: u64,
    /// End of the last whole tag (everything after it is torn or corrupt).
    pub valid_end: u64,
    pub file_len: u64,
    pub tags: u64,
    pub stats: MetaStats,
    pub first_metadata: Option<FirstMetadata>,
}

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    pub tags: u64,
    pub cut_bytes: u64,
    pub duration_ms: u32,
    pub bytes: u64,
    pub rewritten: bool,
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(buf.get_mut(filled..).unwrap_or(&mut [])) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Walks every whole tag of `path`; calls `each(tag_type, timestamp, body, position)`.
fn walk(
    path: &Path,
    mut each: impl FnMut(u8, u32, &[u8], u64) -> io::Result<()>,
) -> Result<(u64, u64, u64), RepairError> {
    let io_err = |e| RepairError::Io(path.to_path_buf(), e);
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER_SIZE, file);
    let mut head = [0u8; 13];
    if !read_full(&mut reader, &mut head).map_err(io_err)? {
        return Err(RepairError::NotFlv(path.to_path_buf()));
    }
    let header = match parse_header(&head) {
        Ok(Some(h)) => h,
        _ => return Err(RepairError::NotFlv(path.to_path_buf())),
    };
    let data_offset = header.data_offset as u64;
    reader.seek(SeekFrom::Start(data_offset)).map_err(io_err)?;
    let mut position = data_offset;
    let mut body = Vec::new();
    loop {
        let mut tag_header = [0u8; TAG_HEADER_LEN];
        if !read_full(&mut reader, &mut tag_header).map_err(io_err)? {
            break;
        }
        let tag_type = tag_header[0] & 0x1F;
        if !matches!(tag_type, 8 | 9 | 18) {
            break;
        }
        let size = u32::from_be_bytes([0, tag_header[1], tag_header[2], tag_header[3]]);
        let timestamp = u32::from_be_bytes([tag_header[7], tag_header[4], tag_header[5], tag_header[6]]);
        body.clear();
        let read = (&mut reader)
            .take(u64::from(size) + 4)
            .read_to_end(&mut body)
            .map_err(io_err)?;
        if read < size as usize + 4 {
            break;
        }
        let Some((payload, prev)) = body.split_at_checked(size as usize) else {
            break;
        };
        if prev != (size + TAG_HEADER_LEN as u32).to_be_bytes() {
            break;
        }
        each(tag_type, timestamp, payload, position).map_err(io_err)?;
        position += u64::from(size) + TAG_HEADER_LEN as u64 + 4;
    }
    Ok((data_offset, position, file_len))
}

/// Scans a file without changing it.
pub fn scan(path: &Path) -> Result<Scan, RepairError> {
    let mut stats = MetaStats::new(KEYFRAME_INDEX_CAPACITY);
    let mut tags = 0u64;
    let mut first_metadata = None;
    let (data_offset, valid_end, file_len) = walk(path, |tag_type, timestamp, body, position| {
        if tags == 0 && tag_type == TAG_SCRIPT {
            if let Some(fields) = parse_onmetadata(body, METADATA_MAX_DEPTH) {
                first_metadata = Some(FirstMetadata {
                    offset: position + TAG_HEADER_LEN as u64,
                    len: body.len(),
                    fields,
                });
            }
        }
        tags += 1;
        match tag_type {
            8 => stats.has_audio = true,
            9 => stats.note_video(timestamp, position, inspect_video(body).keyframe),
            _ => return Ok(()),
        }
        stats.last_timestamp = stats.last_timestamp.max(timestamp);
        Ok(())
    })?;
    stats.duration_ms = stats.last_timestamp;
    stats.filesize = valid_end;
    Ok(Scan {
        data_offset,
        valid_end,
        file_len,
        tags,
        stats,
        first_metadata,
    })
}

/// Repairs `path` (in place when it carries this server's reserved onMetaData).
pub fn repair(path: &Path) -> Result<RepairReport, RepairError> {
    let scan = scan(path)?;
    let io_err = |e| RepairError::Io(path.to_path_buf(), e);
    if let Some(FirstMetadata { offset, len, fields }) = &scan.first_metadata {
        if is_reserved(fields) {
            if let Some(layout) = MetadataLayout::fitting(fields, KEYFRAME_INDEX_CAPACITY, *len) {
                let file = OpenOptions::new().write(true).open(path).map_err(io_err)?;
                file.set_len(scan.valid_end).map_err(io_err)?;
                file.write_all_at(&layout.build(&scan.stats), *offset).map_err(io_err)?;
                let flags = header_flags(scan.stats.has_audio, scan.stats.has_video);
                file.write_all_at(&[flags], FLAGS_OFFSET).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                return Ok(RepairReport {
                    tags: scan.tags,
                    cut_bytes: scan.file_len.saturating_sub(scan.valid_end),
                    duration_ms: scan.stats.duration_ms,
                    bytes: scan.valid_end,
                    rewritten: false,
                });
            }
        }
    }
    rewrite(path, &scan)
}

/// Rewrites a foreign FLV with a reserved onMetaData in front; replaces `path` at the end.
fn rewrite(path: &Path, scan: &Scan) -> Result<RepairReport, RepairError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(REWRITE_SUFFIX);
    let tmp = PathBuf::from(tmp_name);
    let io_err = |e| RepairError::Io(path.to_path_buf(), e);
    let publisher = scan
        .first_metadata
        .as_ref()
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    let layout = MetadataLayout::new(&publisher, KEYFRAME_INDEX_CAPACITY);
    let out_file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io_err)?;
    let mut out = BufWriter::new(out_file);
    let mut head = file_header(scan.stats.has_audio, scan.stats.has_video).to_vec();
    let mut stats = MetaStats::new(layout.capacity());
    encode_tag(TAG_SCRIPT, 0, &layout.build(&stats), &mut head).map_err(|e| io_err(io::Error::other(e)))?;
    let mut written = head.len() as u64;
    let skip_first = scan.first_metadata.is_some();
    let mut index = 0u64;
    let mut tag = Vec::new();
    let result = out.write_all(&head).map_err(io_err).and_then(|()| {
        walk(path, |tag_type, timestamp, body, _| {
            index += 1;
            if index == 1 && skip_first {
                return Ok(());
            }
            tag.clear();
            encode_tag(tag_type, timestamp, body, &mut tag).map_err(io::Error::other)?;
            if tag_type == TAG_VIDEO {
                stats.note_video(timestamp, written, inspect_video(body).keyframe);
            }
            out.write_all(&tag)?;
            written += tag.len() as u64;
            Ok(())
        })
    });
    let finished = result.and_then(|_| {
        stats.has_audio = scan.stats.has_audio;
        stats.last_timestamp = scan.stats.last_timestamp;
        stats.duration_ms = scan.stats.duration_ms;
        stats.filesize = written;
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        let body_offset = (head.len() - layout.body_len() - 4) as u64;
        file.write_all_at(&layout.build(&stats), body_offset).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)
    });
    if let Err(e) = finished {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(RepairReport {
        tags: index.saturating_sub(u64::from(skip_first)) + 1,
        cut_bytes: scan.file_len.saturating_sub(scan.valid_end),
        duration_ms: stats.duration_ms,
        bytes: written,
        rewritten: true,
    })
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;
