//! What the API and /metrics see of recordings: per recording, the file being written and
//! the bytes that reached it (`RecordingStatus`, updated by the writer thread after each
//! flush); for all recordings, files open now, finalized and failed (`RecordCounters`).
//! Plain atomics and a short-held lock; never any I/O.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One recording's current file, shared by its writer thread and the API.
#[derive(Debug, Default)]
pub struct RecordingStatus {
    file: Mutex<Option<PathBuf>>,
    bytes: AtomicU64,
}

impl RecordingStatus {
    /// A file was opened (its `.part` path); nothing of it is flushed yet.
    pub fn opened(&self, path: PathBuf) {
        self.bytes.store(0, Ordering::Relaxed);
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
    }

    /// Bytes of the open file that reached the OS (the file is at least this long).
    pub fn flushed(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    /// The file was finalized or abandoned; none is open until the next `opened`.
    pub fn closed(&self) {
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// The open file and its flushed bytes, or None between files.
    pub fn current(&self) -> Option<(PathBuf, u64)> {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        Some((file, self.bytes.load(Ordering::Relaxed)))
    }
}

/// Recording files across the server: open now, finalized, failed.
#[derive(Debug, Default)]
pub struct RecordCounters {
    active: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub active: u64,
    pub finished: u64,
    pub failed: u64,
}

impl RecordCounters {
    pub fn opened(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// An open file was finalized (`ok`) or lost to an I/O error.
    pub fn closed(&self, ok: bool) {
        // Never below zero, even if a close were ever reported twice.
        let _ = self
            .active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        self.ended(ok);
    }

    /// A file ended: finalized (`ok`) or failed (including one that could not be opened).
    pub fn ended(&self, ok: bool) {
        let counter = if ok { &self.finished } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> RecordCounts {
        RecordCounts {
            active: self.active.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_open_flush_and_close() {
        let status = RecordingStatus::default();
        assert_eq!(status.current(), None);
        status.opened(PathBuf::from("a.flv.part"));
        assert_eq!(status.current(), Some((PathBuf::from("a.flv.part"), 0)));
        status.flushed(4096);
        assert_eq!(status.current(), Some((PathBuf::from("a.flv.part"), 4096)));
        status.closed();
        assert_eq!(status.current(), None);
    }

    #[test]
    fn counters_track_active_finished_and_failed_files() {
        let counters = RecordCounters::default();
        counters.opened();
        counters.opened();
        counters.closed(true);
        counters.ended(false);
        assert_eq!(
            counters.counts(),
            RecordCounts {
                active: 1,
                finished: 1,
                failed: 1
            }
        );
        counters.closed(false);
        counters.closed(true);
        assert_eq!(counters.counts().active, 0, "never below zero");
    }
}
