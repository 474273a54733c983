//! HLS from memory (`--hls`), low-latency: for each live stream with HLS on, a feeder
//! thread reads the stream like a push relay (bounded queue, drops rather than blocks) and
//! cuts CMAF segments and parts (`segmenter`, sans-IO, the MP4 muxer's box code) into a
//! bounded in-memory store (`store`); `playlist` writes the playlists, `sessions` keeps the
//! viewers (one player each), `service` is the threads and the shared state the HTTP routes
//! (`api`) read. Nothing is written to disk.

pub mod playlist;
pub mod segmenter;
mod service;
pub mod sessions;
pub mod store;

pub use service::{HlsService, SessionRefusal};

use std::time::Duration;

/// Default segment target (`--hls-segment`).
pub const DEFAULT_SEGMENT: Duration = Duration::from_secs(2);
/// Default finished segments listed (`--hls-window`).
pub const DEFAULT_WINDOW: usize = 6;
/// Default part target (`--hls-part`).
pub const DEFAULT_PART: Duration = Duration::from_millis(500);
/// Default idle time that ends a viewer's session (`--hls-session-idle`).
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30);
/// Most bytes one stream's segments may hold in memory; past it the oldest segments are
/// dropped (and a single segment that alone passes it takes no more parts).
pub const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

/// HLS settings (the switch itself is per stream, in its policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlsOptions {
    pub segment: Duration,
    pub window: usize,
    pub part: Duration,
    pub session_idle: Duration,
    pub max_stream_bytes: usize,
}

impl Default for HlsOptions {
    fn default() -> Self {
        HlsOptions {
            segment: DEFAULT_SEGMENT,
            window: DEFAULT_WINDOW,
            part: DEFAULT_PART,
            session_idle: DEFAULT_SESSION_IDLE,
            max_stream_bytes: MAX_STREAM_BYTES,
        }
    }
}

impl HlsOptions {
    /// The longest a blocking playlist or part request waits: three target durations.
    pub fn block_limit(&self) -> Duration {
        self.segment.max(Duration::from_secs(1)) * 3
    }
}

/// `--hls-window`: 1..=100 segments.
pub fn parse_window(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err("expected a number of segments from 1 to 100".to_owned()),
    }
}

/// `--hls-segment`, `--hls-part`, `--hls-session-idle`: a positive duration.
pub fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    let duration = crate::record::options::parse_duration(value)?;
    if duration < Duration::from_millis(100) {
        return Err("expected a duration of at least 100ms".to_owned());
    }
    Ok(duration)
}
