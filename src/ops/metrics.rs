//! Process-wide counters (rendered by `api::metrics` at GET /metrics) and the disk guard's view.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_total: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub publishes_total: AtomicU64,
    pub plays_total: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub kicks: AtomicU64,
    pub auth_failures: AtomicU64,
    /// API requests refused for a missing or wrong bearer token.
    pub http_auth_failures: AtomicU64,
    /// Frames dropped for slow players since start (push relays aside).
    pub player_dropped_frames: AtomicU64,
    /// Frames that left in a player's send of several held frames (`--play-coalesce`).
    pub player_coalesced_frames: AtomicU64,
    /// The HTTP server's open connections and drops (shared with it).
    pub http: std::sync::Arc<crate::http::stats::HttpStats>,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the disk guard sees now (free space is read on each call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskGuard {
    pub free_bytes: Option<u64>,
    pub min_free: u64,
    /// Free space is known and below the minimum: no recording starts.
    pub low: bool,
}

/// What the disk guard sees for `dir` with `min_free` bytes required.
pub fn disk_guard(dir: &std::path::Path, min_free: u64) -> DiskGuard {
    let free_bytes = crate::record::disk::free_bytes(dir).ok();
    DiskGuard {
        free_bytes,
        min_free,
        low: free_bytes.is_some_and(|free| free < min_free),
    }
}
