//! A time range of an MP4 recording (the playback server's `?format=mp4&start=&duration=`
//! on an `.mp4`), with nothing remuxed: the file's `ftyp` and `moov` (durations set to the
//! range's), then its fragments as they are from the one that starts with the keyframe at
//! or before the start, found through the file's segment index (`sidx`) and then its
//! `moof`s, each `tfdt` moved back by that fragment's earliest time (its keyframe's, or an
//! audio sample's just before it); fragments that start at or
//! after the range's end are left out, and a torn last fragment ends it. Sample bytes go
//! from the file to `write` in chunks. Fragments must address their data from their `moof`
//! (default-base-is-moof, as this server and FFmpeg's `frag_keyframe` write them) and every
//! time scale must be ms (this server's recordings).

use super::remux_range::TimeRange;
use crate::mp4::boxes::{be32, be64, child, children, header, BoxHeader};
use crate::mp4::init::duration_fields;
use crate::mp4::reader::{moof_samples, read_moov, MovieInfo};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Largest `ftyp`, `moov` or `sidx` read (a larger one is not a recording of this server).
const HEADER_BOX_LIMIT: u64 = 16 * 1024 * 1024;
/// Largest `moof` read (this server's hold at most 500 ms or one GOP of samples).
const MOOF_LIMIT: u64 = 8 * 1024 * 1024;
/// Media bytes copied at a time.
const COPY_CHUNK: usize = 1024 * 1024;
/// The only time scale accepted (ms, as the recording's muxer writes).
const TIMESCALE: u32 = 1000;
/// `tfhd` flag: an explicit base data offset (absolute: it would break when copied).
const TFHD_BASE_DATA_OFFSET: u32 = 0x1;

#[derive(Debug)]
pub enum Mp4RangeError {
    Read(io::Error),
    /// No `ftyp`/`moov` at the top, or one too large.
    NotMp4,
    /// An MP4 this range cannot be cut from (a time scale not in ms, absolute data offsets).
    Unsupported(&'static str),
    /// The range starts at or after the end of the file.
    OutOfRange,
    Write(io::Error),
}

impl std::fmt::Display for Mp4RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mp4RangeError::Read(e) => write!(f, "cannot read the file: {e}"),
            Mp4RangeError::NotMp4 => write!(f, "not a fragmented MP4 file"),
            Mp4RangeError::Unsupported(why) => write!(f, "cannot cut this MP4 file: {why}"),
            Mp4RangeError::OutOfRange => write!(f, "the range starts after the end of the file"),
            Mp4RangeError::Write(e) => write!(f, "cannot send: {e}"),
        }
    }
}

impl std::error::Error for Mp4RangeError {}

/// The box header at `at` (None past the end, or a box running past the end of the file).
fn box_at(file: &File, at: u64, len: u64) -> Option<BoxHeader> {
    let mut bytes = [0u8; 16];
    let available = usize::try_from(len.checked_sub(at)?.min(16)).ok()?;
    let bytes = bytes.get_mut(..available)?;
    file.read_exact_at(bytes, at).ok()?;
    let h = header(bytes, len - at)?;
    (at.checked_add(h.size)? <= len).then_some(h)
}

fn read_box(file: &File, at: u64, h: &BoxHeader, limit: u64) -> Result<Vec<u8>, Mp4RangeError> {
    if h.size > limit {
        return Err(Mp4RangeError::Unsupported("a box is larger than this server writes"));
    }
    let mut bytes = vec![0; usize::try_from(h.size).map_err(|_| Mp4RangeError::NotMp4)?];
    file.read_exact_at(&mut bytes, at).map_err(Mp4RangeError::Read)?;
    Ok(bytes)
}

/// Times of one fragment.
struct FragmentTimes {
    /// The reference track's first sample: (decode time, sync).
    reference: Option<(u64, bool)>,
    /// The earliest decode time over every track (audio may begin a little before video).
    earliest: u64,
    /// The end of its samples over every track.
    end: u64,
}

fn fragment_times(moof: &[u8], movie: &MovieInfo, reference: u32) -> FragmentTimes {
    let body = moof.get(8..).unwrap_or_default();
    let samples = moof_samples(body, 0, movie);
    FragmentTimes {
        reference: samples.iter().find(|s| s.track == reference).map(|s| (s.dts, s.sync)),
        earliest: samples.iter().map(|s| s.dts).min().unwrap_or(0),
        end: samples.iter().map(|s| s.dts + u64::from(s.duration)).max().unwrap_or(0),
    }
}

/// Moves every `tfdt` of a whole `moof` back by `by` (ms); refuses absolute data offsets.
fn rebase(moof: &mut [u8], by: u64) -> Result<(), Mp4RangeError> {
    let mut places = Vec::new();
    {
        let base = moof.as_ptr() as usize;
        for (kind, traf) in children(moof.get(8..).unwrap_or_default()) {
            if &kind != b"traf" {
                continue;
            }
            let flags = child(traf, b"tfhd").and_then(|t| be32(t, 0)).unwrap_or(0) & 0xFF_FFFF;
            if flags & TFHD_BASE_DATA_OFFSET != 0 {
                return Err(Mp4RangeError::Unsupported("fragments with absolute data offsets"));
            }
            if let Some(tfdt) = child(traf, b"tfdt") {
                places.push((tfdt.as_ptr() as usize - base, tfdt.first() == Some(&1)));
            }
        }
    }
    for (at, long) in places {
        if long {
            let value = be64(moof, at + 4).unwrap_or(0).saturating_sub(by);
            if let Some(field) = moof.get_mut(at + 4..at + 12) {
                field.copy_from_slice(&value.to_be_bytes());
            }
        } else {
            let value = u64::from(be32(moof, at + 4).unwrap_or(0)).saturating_sub(by);
            if let Some(field) = moof.get_mut(at + 4..at + 8) {
                field.copy_from_slice(&u32::try_from(value).unwrap_or(0).to_be_bytes());
            }
        }
    }
    Ok(())
}

/// The `sidx` references as (file offset, start time, starts with a sync sample).
fn sidx_references(sidx: &[u8], sidx_end: u64) -> Vec<(u64, u64, bool)> {
    let body = sidx.get(8..).unwrap_or_default();
    let v1 = body.first() == Some(&1);
    let (time, first_offset, at) = if v1 {
        (be64(body, 12), be64(body, 20), 28)
    } else {
        (be32(body, 12).map(u64::from), be32(body, 16).map(u64::from), 20)
    };
    let (Some(mut time), Some(first_offset)) = (time, first_offset) else {
        return Vec::new();
    };
    let count = body
        .get(at + 2..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u16::from_be_bytes);
    let mut offset = sidx_end.saturating_add(first_offset);
    let mut references = Vec::new();
    for i in 0..usize::from(count) {
        let entry = at + 4 + i * 12;
        let (Some(size), Some(duration), Some(sap)) = (be32(body, entry), be32(body, entry + 4), be32(body, entry + 8))
        else {
            break;
        };
        references.push((offset, time, sap & 0x8000_0000 != 0));
        offset = offset.saturating_add(u64::from(size & 0x7FFF_FFFF));
        time = time.saturating_add(u64::from(duration));
    }
    references
}

/// A planned range of one MP4 file.
#[derive(Debug)]
pub struct Mp4Range {
    path: PathBuf,
    len: u64,
    /// `ftyp` and `moov`, durations set to the range's.
    head: Vec<u8>,
    movie: MovieInfo,
    reference: u32,
    /// Where the first fragment sent starts.
    from: u64,
    /// File time sent as 0: the first fragment's earliest sample.
    first_ms: u64,
    end_ms: Option<u64>,
    duration_ms: u32,
}

impl Mp4Range {
    pub fn plan(path: &Path, range: TimeRange) -> Result<Mp4Range, Mp4RangeError> {
        let file = File::open(path).map_err(Mp4RangeError::Read)?;
        let len = file.metadata().map_err(Mp4RangeError::Read)?.len();
        let (mut at, mut head, mut moov_at) = (0u64, Vec::new(), None);
        let mut references = Vec::new();
        let mut media_start = len;
        while let Some(h) = box_at(&file, at, len) {
            match &h.kind {
                b"ftyp" | b"moov" => {
                    if &h.kind == b"moov" {
                        moov_at = Some(head.len());
                    }
                    head.extend_from_slice(&read_box(&file, at, &h, HEADER_BOX_LIMIT)?);
                }
                b"sidx" => references = sidx_references(&read_box(&file, at, &h, HEADER_BOX_LIMIT)?, at + h.size),
                b"moof" => {
                    media_start = at;
                    break;
                }
                _ => {}
            }
            at += h.size;
        }
        let moov_at = moov_at.ok_or(Mp4RangeError::NotMp4)?;
        let moov = head.get(moov_at..).unwrap_or_default();
        let movie = read_moov(moov.get(8..).unwrap_or_default());
        let movie_scale = child(moov.get(8..).unwrap_or_default(), b"mvhd").and_then(|m| be32(m, 12));
        if movie_scale != Some(TIMESCALE) || movie.tracks.iter().any(|t| t.timescale != TIMESCALE) {
            return Err(Mp4RangeError::Unsupported("a time scale other than ms"));
        }
        let reference = movie
            .tracks
            .iter()
            .find(|t| t.video)
            .or(movie.tracks.first())
            .map_or(1, |t| t.id);
        let fields = duration_fields(moov);
        let written = fields
            .iter()
            .find(|f| f.track.is_none())
            .and_then(|f| be32(moov, f.offset))
            .filter(|d| *d > 0);
        let start = u64::from(range.start_ms);
        // The last indexed keyframe fragment at or before the start: the walk begins there.
        let mut walk = references
            .iter()
            .rev()
            .find(|(offset, time, sync)| *sync && *time <= start && *offset >= media_start)
            .map_or(media_start, |r| r.0);
        let mut chosen = (media_start, 0u64);
        let mut end = 0u64;
        while let Some(h) = box_at(&file, walk, len) {
            if &h.kind == b"moof" {
                let moof = read_box(&file, walk, &h, MOOF_LIMIT)?;
                let times = fragment_times(&moof, &movie, reference);
                end = end.max(times.end);
                match times.reference {
                    Some((dts, true)) if dts <= start && start > 0 => chosen = (walk, times.earliest.min(dts)),
                    Some((dts, _)) if dts > start && written.is_some() => break,
                    _ => {}
                }
            }
            walk += h.size;
        }
        let total = written.map_or(end, u64::from);
        if start > 0 && start >= total {
            return Err(Mp4RangeError::OutOfRange);
        }
        let (from, first_ms) = chosen;
        let end_ms = range.duration_ms.map(|d| start + u64::from(d));
        let duration_ms =
            u32::try_from(end_ms.unwrap_or(total).min(total).saturating_sub(first_ms)).unwrap_or(u32::MAX);
        for field in &fields {
            if let Some(place) = head.get_mut(moov_at + field.offset..moov_at + field.offset + 4) {
                place.copy_from_slice(&duration_ms.to_be_bytes());
            }
        }
        Ok(Mp4Range {
            path: path.to_path_buf(),
            len,
            head,
            movie,
            reference,
            from,
            first_ms,
            end_ms,
            duration_ms,
        })
    }

    pub fn first_ms(&self) -> u64 {
        self.first_ms
    }

    pub fn duration_ms(&self) -> u32 {
        self.duration_ms
    }

    /// Sends the range; returns the bytes sent.
    pub fn stream(&self, mut write: impl FnMut(&[u8]) -> io::Result<()>) -> Result<u64, Mp4RangeError> {
        let file = File::open(&self.path).map_err(Mp4RangeError::Read)?;
        write(&self.head).map_err(Mp4RangeError::Write)?;
        let mut sent = self.head.len() as u64;
        let mut at = self.from;
        let mut chunk = vec![0u8; COPY_CHUNK];
        while let Some(h) = box_at(&file, at, self.len) {
            match &h.kind {
                b"moof" => {
                    // A fragment whose data is not (yet) all in the file ends the range.
                    if box_at(&file, at + h.size, self.len).is_none_or(|next| &next.kind != b"mdat") {
                        break;
                    }
                    let mut moof = read_box(&file, at, &h, MOOF_LIMIT)?;
                    let first = fragment_times(&moof, &self.movie, self.reference).reference;
                    if let (Some(end), Some((dts, _))) = (self.end_ms, first) {
                        if dts >= end {
                            break;
                        }
                    }
                    rebase(&mut moof, self.first_ms)?;
                    write(&moof).map_err(Mp4RangeError::Write)?;
                }
                b"mdat" => {
                    let mut copied = 0u64;
                    while copied < h.size {
                        let n = usize::try_from(h.size - copied).map_or(COPY_CHUNK, |left| left.min(COPY_CHUNK));
                        let part = chunk.get_mut(..n).unwrap_or_default();
                        file.read_exact_at(part, at + copied).map_err(Mp4RangeError::Read)?;
                        write(part).map_err(Mp4RangeError::Write)?;
                        copied += n as u64;
                    }
                }
                _ => {
                    at += h.size;
                    continue;
                }
            }
            sent += h.size;
            at += h.size;
        }
        Ok(sent)
    }
}

#[cfg(test)]
#[path = "mp4_range_tests.rs"]
mod tests;
