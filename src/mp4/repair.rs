//! Repairs a fragmented MP4 cut short (crash, full disk): walks `ftyp`, `moov`, the index
//! room and the `moof` + `mdat` fragments, cuts the first torn fragment and what follows,
//! and rewrites the segment index and the `mvhd`/`mehd`/`tkhd`/`mdhd` durations in place
//! from the fragments kept. A file that does not begin with `ftyp` + `moov`, or whose
//! `moov` has no `mvex` (not fragmented), is refused unchanged.

use super::boxes::{be32, be64, child, children, header, BoxHeader};
use super::index::SegmentIndex;
use super::init::duration_fields;
use crate::flv::repair::{RepairError, RepairReport};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Largest `moov` or `moof` read into memory.
const MAX_HEADER_BOX: u64 = 16 * 1024 * 1024;
/// Largest index room rewritten (this server reserves `index::INDEX_ROOM`).
const MAX_INDEX_ROOM: usize = 1024 * 1024;
const TRUN_DATA_OFFSET: u32 = 0x1;
const TRUN_FIRST_FLAGS: u32 = 0x4;
const TRUN_DURATION: u32 = 0x100;
const TRUN_SIZE: u32 = 0x200;
const TRUN_FLAGS: u32 = 0x400;
const TRUN_CTS: u32 = 0x800;
const NON_SYNC: u32 = 0x0001_0000;

/// One track's run in a fragment, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunInfo {
    pub track: u32,
    pub base_dts: u64,
    pub end: u64,
    pub samples: u64,
    pub first_sync: bool,
}

/// The runs of a `moof` body.
pub fn parse_moof(moof: &[u8]) -> Vec<RunInfo> {
    let mut runs = Vec::new();
    for (kind, traf) in children(moof) {
        if &kind != b"traf" {
            continue;
        }
        let mut run = RunInfo {
            track: 0,
            base_dts: 0,
            end: 0,
            samples: 0,
            first_sync: true,
        };
        let mut duration = 0u64;
        for (kind, body) in children(traf) {
            match &kind {
                b"tfhd" => run.track = be32(body, 4).unwrap_or(0),
                b"tfdt" if body.first() == Some(&1) => run.base_dts = be64(body, 4).unwrap_or(0),
                b"tfdt" => run.base_dts = u64::from(be32(body, 4).unwrap_or(0)),
                b"trun" => {
                    let flags = be32(body, 0).unwrap_or(0) & 0xFF_FFFF;
                    let count = be32(body, 4).unwrap_or(0);
                    let mut pos = 8;
                    if flags & TRUN_DATA_OFFSET != 0 {
                        pos += 4;
                    }
                    let mut first_flags = None;
                    if flags & TRUN_FIRST_FLAGS != 0 {
                        first_flags = be32(body, pos);
                        pos += 4;
                    }
                    let per = [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS]
                        .iter()
                        .filter(|f| flags & **f != 0)
                        .count()
                        * 4;
                    for i in 0..count as usize {
                        let at = pos + i * per;
                        if body.len() < at + per {
                            break;
                        }
                        if flags & TRUN_DURATION != 0 {
                            duration += u64::from(be32(body, at).unwrap_or(0));
                        }
                        if i == 0 && first_flags.is_none() && flags & TRUN_FLAGS != 0 {
                            let skip = [TRUN_DURATION, TRUN_SIZE].iter().filter(|f| flags & **f != 0).count() * 4;
                            first_flags = be32(body, at + skip);
                        }
                        run.samples += 1;
                    }
                    run.first_sync = first_flags.is_none_or(|f| f & NON_SYNC == 0);
                }
                _ => {}
            }
        }
        run.end = run.base_dts + duration;
        runs.push(run);
    }
    runs
}

fn read_at(file: &File, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(buf.get_mut(filled..).unwrap_or_default(), at + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

fn box_at(file: &File, at: u64, len: u64) -> std::io::Result<Option<BoxHeader>> {
    let bytes = read_at(file, at, 16)?;
    Ok(header(&bytes, len.saturating_sub(at)).filter(|h| at + h.size <= len))
}

/// Repairs `path` in place (see the module comment).
pub fn repair(path: &Path) -> Result<RepairReport, RepairError> {
    let io = |e| RepairError::Io(path.to_path_buf(), e);
    let not_mp4 = || RepairError::NotMp4(path.to_path_buf());
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let ftyp = box_at(&file, 0, len)
        .map_err(io)?
        .filter(|h| &h.kind == b"ftyp")
        .ok_or_else(not_mp4)?;
    let moov_at = ftyp.size;
    let moov_box = box_at(&file, moov_at, len).map_err(io)?;
    let moov_box = moov_box
        .filter(|h| &h.kind == b"moov" && h.size <= MAX_HEADER_BOX)
        .ok_or_else(not_mp4)?;
    let moov = read_at(&file, moov_at, moov_box.size as usize).map_err(io)?;
    // Only a fragmented file (`mvex`) is repaired: a plain MP4's sample tables are its index.
    if child(moov.get(8..).unwrap_or_default(), b"mvex").is_none() {
        return Err(not_mp4());
    }
    let index_at = moov_at + moov_box.size;
    let mut tracks: Vec<(u32, bool)> = Vec::new();
    for (kind, trak) in children(moov.get(8..).unwrap_or_default()) {
        let id = child(trak, b"tkhd").and_then(|t| be32(t, 12));
        let handler = child(trak, b"mdia").and_then(|m| child(m, b"hdlr"));
        let video = handler.and_then(|h| h.get(8..12)) == Some(b"vide".as_slice());
        if let (b"trak", Some(id)) = (&kind, id) {
            tracks.push((id, video));
        }
    }
    let reference = tracks.iter().find(|t| t.1).or(tracks.first()).map_or(1, |t| t.0);
    // The index room: the free/sidx boxes right after the moov.
    let mut pos = index_at;
    while let Some(h) = box_at(&file, pos, len).map_err(io)? {
        if &h.kind != b"free" && &h.kind != b"sidx" {
            break;
        }
        pos += h.size;
    }
    let room = usize::try_from(pos - index_at).unwrap_or(usize::MAX);
    let mut index = SegmentIndex::for_room(room);
    let mut ends: Vec<(u32, u64)> = Vec::new();
    let mut samples = 0u64;
    let mut cut = pos;
    while let Some(h) = box_at(&file, pos, len).map_err(io)? {
        if &h.kind != b"moof" {
            pos += h.size;
            cut = pos;
            continue;
        }
        let Some(mdat) = box_at(&file, pos + h.size, len).map_err(io)? else {
            break;
        };
        if &mdat.kind != b"mdat" || h.size > MAX_HEADER_BOX {
            break;
        }
        let moof = read_at(&file, pos, h.size as usize).map_err(io)?;
        let runs = parse_moof(moof.get(h.header_len as usize..).unwrap_or_default());
        let size = h.size + mdat.size;
        let main = runs.iter().find(|r| r.track == reference);
        let start = main.or(runs.first()).map_or(0, |r| r.base_dts);
        index.add(pos, size, start, main.is_some_and(|r| r.first_sync));
        for run in &runs {
            samples += run.samples;
            match ends.iter_mut().find(|(id, _)| *id == run.track) {
                Some((_, end)) => *end = (*end).max(run.end),
                None => ends.push((run.track, run.end)),
            }
        }
        pos += size;
        cut = pos;
    }
    file.set_len(cut).map_err(io)?;
    let end_of = |id: u32| ends.iter().find(|(t, _)| *t == id).map_or(0, |(_, e)| *e);
    let movie_end = ends.iter().map(|(_, e)| *e).max().unwrap_or(0);
    if (8..=MAX_INDEX_ROOM).contains(&room) {
        let bytes = index.write(index_at, room, reference, end_of(reference));
        file.write_all_at(&bytes, index_at).map_err(io)?;
    }
    for field in duration_fields(&moov) {
        let end = field.track.map_or(movie_end, end_of);
        let value = u32::try_from(end).unwrap_or(u32::MAX).to_be_bytes();
        file.write_all_at(&value, moov_at + field.offset as u64).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    Ok(RepairReport {
        tags: samples,
        cut_bytes: len - cut,
        duration_ms: u32::try_from(movie_end).unwrap_or(u32::MAX),
        bytes: cut,
        rewritten: false,
    })
}
