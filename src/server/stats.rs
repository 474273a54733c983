//! Per-stream media statistics: packet counts and bitrate, reported every interval.

use std::time::{Duration, Instant};

/// How often a publishing stream logs its media statistics.
pub const STATS_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct MediaStats {
    pub audio_packets: u64,
    pub video_packets: u64,
    pub data_packets: u64,
    pub bytes: u64,
    started: Instant,
    window_start: Instant,
    window_bytes: u64,
}

/// One report: totals plus the bitrate over the last window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsReport {
    pub audio_packets: u64,
    pub video_packets: u64,
    pub bytes: u64,
    pub bitrate_kbps: f64,
}

impl MediaStats {
    pub fn new(now: Instant) -> Self {
        MediaStats {
            audio_packets: 0,
            video_packets: 0,
            data_packets: 0,
            bytes: 0,
            started: now,
            window_start: now,
            window_bytes: 0,
        }
    }

    pub fn count(&mut self, kind: crate::media::FrameKind, bytes: usize) {
        match kind {
            crate::media::FrameKind::Audio => self.audio_packets += 1,
            crate::media::FrameKind::Video => self.video_packets += 1,
            crate::media::FrameKind::Data => self.data_packets += 1,
        }
        self.bytes += bytes as u64;
        self.window_bytes += bytes as u64;
    }

    /// A report when the interval has passed since the last one (and starts a new window).
    pub fn due_report(&mut self, now: Instant) -> Option<StatsReport> {
        if now.saturating_duration_since(self.window_start) < STATS_INTERVAL {
            return None;
        }
        Some(self.report(now))
    }

    /// A report now, over the current window (or the whole stream if the window is empty).
    pub fn report(&mut self, now: Instant) -> StatsReport {
        let window = now.saturating_duration_since(self.window_start).as_secs_f64();
        let (bytes, seconds) = if window > 0.0 {
            (self.window_bytes, window)
        } else {
            (self.bytes, now.saturating_duration_since(self.started).as_secs_f64())
        };
        let bitrate_kbps = if seconds > 0.0 {
            bytes as f64 * 8.0 / 1000.0 / seconds
        } else {
            0.0
        };
        self.window_start = now;
        self.window_bytes = 0;
        StatsReport {
            audio_packets: self.audio_packets,
            video_packets: self.video_packets,
            bytes: self.bytes,
            bitrate_kbps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::FrameKind;

    #[test]
    fn report_is_due_every_interval_with_window_bitrate() {
        let start = Instant::now();
        let mut stats = MediaStats::new(start);
        stats.count(FrameKind::Video, 125_000);
        stats.count(FrameKind::Audio, 0);
        assert_eq!(stats.due_report(start + Duration::from_secs(9)), None);
        let report = stats.due_report(start + STATS_INTERVAL).unwrap();
        assert_eq!((report.audio_packets, report.video_packets), (1, 1));
        assert!((report.bitrate_kbps - 100.0).abs() < 1e-9, "{}", report.bitrate_kbps);
        assert_eq!(stats.due_report(start + STATS_INTERVAL + Duration::from_secs(1)), None);
    }
}
