//! The byte sink under one recording file: appends go to an aligned staging buffer, and each
//! full stage is written with `O_DIRECT` (straight from the buffer to the device, skipping the
//! page-cache copy, which dominates the CPU cost of recording at high rates and evicts the box's
//! useful cache). `flush` hands whatever is staged to the kernel through the normal buffered
//! descriptor and starts the stage over at its last partial block, so a stream slower than a
//! stage per flush interval is written buffered as before, and the next direct write
//! re-covers at most the one block a buffered write left partial, with the same bytes.
//! A file system without `O_DIRECT` (or one that refuses a direct write) gets buffered writes
//! only. In-place rewrites (`write_at`) also update the staged copy, so a later direct write
//! never puts stale bytes back.

use rustix::io::Errno;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Direct writes start at, and cover, multiples of this (memory address, file offset and
/// length): the page size, which satisfies every common block device's alignment.
pub const DIRECT_ALIGN: usize = 4096;
/// Bytes staged before one direct write: large enough that the per-write cost vanishes,
/// small enough to stay a modest part of a recording's memory.
pub const STAGE_BYTES: usize = 1024 * 1024;

/// A recording file written through a staging buffer.
pub struct FileSink {
    /// The normal descriptor: buffered flushes, in-place rewrites, metadata, fsync.
    file: File,
    /// The same file opened with `O_DIRECT`, while direct writes work.
    direct: Option<File>,
    /// Capacity for `STAGE_BYTES + DIRECT_ALIGN` bytes, never reallocated: the stage is
    /// `memory[window..]`, so it grows (and touches pages) only as far as bytes arrive.
    memory: Vec<u8>,
    /// Where the aligned stage starts in `memory` (filler bytes before it).
    window: usize,
    /// The file offset of the stage's first byte (a multiple of `DIRECT_ALIGN`).
    base: u64,
    /// Stage bytes `[..handed]` are already in the kernel (buffered or direct).
    handed: usize,
}

impl FileSink {
    /// Wraps a newly created, empty file, opening `path` again with `O_DIRECT` when the file
    /// system allows it.
    pub fn new(file: File, path: &Path) -> FileSink {
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(direct_flag())
            .open(path)
            .ok();
        FileSink::with_direct(file, direct)
    }

    /// A sink that only ever writes through `file` (tests, and file systems without `O_DIRECT`).
    pub fn buffered(file: File) -> FileSink {
        FileSink::with_direct(file, None)
    }

    fn with_direct(file: File, direct: Option<File>) -> FileSink {
        let mut memory = Vec::with_capacity(STAGE_BYTES + DIRECT_ALIGN);
        let address = memory.as_ptr() as usize;
        let window = (DIRECT_ALIGN - address % DIRECT_ALIGN) % DIRECT_ALIGN;
        memory.resize(window, 0);
        FileSink {
            file,
            direct,
            memory,
            window,
            base: 0,
            handed: 0,
        }
    }

    /// Bytes in the stage.
    fn staged(&self) -> usize {
        self.memory.len() - self.window
    }

    /// The buffered descriptor (metadata, fsync).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether full stages still go out with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// File bytes already handed to the kernel (what a crash of this process keeps).
    pub fn written(&self) -> u64 {
        self.base + self.handed as u64
    }

    /// Appends `data` at the end of the file (staged; a full stage is written out).
    pub fn append(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let room = STAGE_BYTES - self.staged();
            let (now, later) = data.split_at(room.min(data.len()));
            // Within the capacity reserved up front: never a reallocation (which would lose
            // the alignment; direct writes would then be refused and fall back, still correct).
            self.memory.extend_from_slice(now);
            data = later;
            if self.staged() == STAGE_BYTES {
                self.write_out_stage()?;
            }
        }
        Ok(())
    }

    /// Hands every staged byte to the kernel (buffered write of what is not there yet).
    pub fn flush(&mut self) -> io::Result<()> {
        let staged = self.staged();
        if self.handed < staged {
            let at = self.base + self.handed as u64;
            self.file.write_all_at(self.stage(self.handed, staged), at)?;
            self.handed = staged;
        }
        // Start the stage over at the last partial block (the only one a direct write must
        // re-cover), so a slow stream keeps touching the same few pages.
        let whole = staged - staged % DIRECT_ALIGN;
        if whole > 0 {
            let from = self.window + whole;
            self.memory.copy_within(from.., self.window);
            self.memory.truncate(self.window + staged - whole);
            self.base += whole as u64;
            self.handed = staged - whole;
        }
        Ok(())
    }

    /// Rewrites `data` at `offset` inside what was appended, in the file and in the stage.
    pub fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.flush()?;
        self.file.write_all_at(data, offset)?;
        let end = offset.saturating_add(data.len() as u64);
        let staged_end = self.base + self.staged() as u64;
        let from = offset.max(self.base);
        let to = end.min(staged_end);
        if from < to {
            let (skip, start) = ((from - offset) as usize, (from - self.base) as usize);
            let len = (to - from) as usize;
            let at = self.window + start;
            if let (Some(place), Some(bytes)) = (self.memory.get_mut(at..at + len), data.get(skip..skip + len)) {
                place.copy_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// Writes out a full stage: direct from the last partial block the kernel has, or
    /// buffered when direct writes are off or refused; then the stage starts over.
    fn write_out_stage(&mut self) -> io::Result<()> {
        let start = self.handed - self.handed % DIRECT_ALIGN;
        if start < STAGE_BYTES {
            self.write_direct_or_buffered(start)?;
        }
        self.base += STAGE_BYTES as u64;
        self.memory.truncate(self.window);
        self.handed = 0;
        Ok(())
    }

    fn write_direct_or_buffered(&mut self, start: usize) -> io::Result<()> {
        let mut from = start;
        let mut refused = false;
        if let Some(direct) = self.direct.as_ref() {
            let window = self.memory.get(self.window..self.window + STAGE_BYTES).unwrap_or(&[]);
            while let Some(bytes) = window.get(from..) {
                match direct.write_at(bytes, self.base + from as u64) {
                    Ok(n) if n == bytes.len() => return Ok(()),
                    // A short direct write: the rest goes buffered (any alignment works there).
                    Ok(n) => {
                        from += n;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) => {
                        refused = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if refused {
            log::info!("recording goes on with buffered writes: the file system refused O_DIRECT");
            self.direct = None;
        }
        let from = from.max(self.handed);
        self.file
            .write_all_at(self.stage(from, STAGE_BYTES), self.base + from as u64)
    }

    fn stage(&self, from: usize, to: usize) -> &[u8] {
        self.memory.get(self.window + from..self.window + to).unwrap_or(&[])
    }
}

fn direct_flag() -> i32 {
    rustix::fs::OFlags::DIRECT.bits() as i32
}

#[cfg(test)]
#[path = "sink_tests.rs"]
mod tests;
