//! Counters of the HTTP server for GET /metrics: open connections, and connections refused
//! or dropped by the limits, by reason.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the server refused or dropped a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Refused with 503: `--http-max-connections` reached and every connection busy.
    Cap,
    /// Refused with 503: `--http-max-connections-per-ip` reached and every connection from
    /// that address busy.
    IpCap,
    /// Closed to make room for a newcomer: it had not finished a request.
    Evicted,
    /// Closed with 408: its request did not arrive whole within `--http-timeout`.
    RequestTimeout,
    /// Closed with 431: head over the size limit or too many headers.
    HeadTooLarge,
    /// Closed with 413: body over the size limit.
    BodyTooLarge,
    /// Closed with 400 or 501: not an acceptable request.
    BadRequest,
    /// Closed while a response was going out: the client took no data for `--http-timeout`.
    SlowReader,
}

impl DropReason {
    /// Every reason, in the order they are rendered.
    pub const ALL: [DropReason; 8] = [
        DropReason::Cap,
        DropReason::IpCap,
        DropReason::Evicted,
        DropReason::RequestTimeout,
        DropReason::HeadTooLarge,
        DropReason::BodyTooLarge,
        DropReason::BadRequest,
        DropReason::SlowReader,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Cap => "max_connections",
            DropReason::IpCap => "max_connections_per_ip",
            DropReason::Evicted => "evicted",
            DropReason::RequestTimeout => "request_timeout",
            DropReason::HeadTooLarge => "head_too_large",
            DropReason::BodyTooLarge => "body_too_large",
            DropReason::BadRequest => "bad_request",
            DropReason::SlowReader => "slow_reader",
        }
    }

    fn index(self) -> usize {
        DropReason::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }
}

/// The HTTP server's counters, shared with whoever renders them.
#[derive(Debug, Default)]
pub struct HttpStats {
    open: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
}

impl HttpStats {
    /// Counts one refused or dropped connection.
    pub fn dropped(&self, reason: DropReason) {
        if let Some(counter) = self.drops.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Connections refused or dropped for `reason` so far.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.index()).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Sets the number of open connections.
    pub fn set_open(&self, open: usize) {
        self.open.store(open as u64, Ordering::Relaxed);
    }

    /// Open connections (evicted ones still ending included).
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// The Prometheus text of these counters.
    pub fn render(&self, out: &mut String) {
        let name = "rtmp_http_connections";
        let _ = writeln!(out, "# HELP {name} Open HTTP connections (API, viewers).");
        let _ = writeln!(out, "# TYPE {name} gauge\n{name} {}", self.open());
        let name = "rtmp_http_connections_rejected_total";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP connections refused (503 at a cap) or dropped by the limits, by reason."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for reason in DropReason::ALL {
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {}", reason.label(), self.drops(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_counts_separately() {
        let stats = HttpStats::default();
        stats.dropped(DropReason::Evicted);
        stats.dropped(DropReason::Evicted);
        stats.dropped(DropReason::SlowReader);
        assert_eq!(stats.drops(DropReason::Evicted), 2);
        assert_eq!(stats.drops(DropReason::SlowReader), 1);
        assert_eq!(stats.drops(DropReason::Cap), 0);
        let labels: std::collections::HashSet<_> = DropReason::ALL.iter().map(|d| d.label()).collect();
        assert_eq!(labels.len(), DropReason::ALL.len());
        let mut text = String::new();
        stats.set_open(3);
        stats.render(&mut text);
        assert!(text.contains("\nrtmp_http_connections 3\n"), "{text}");
        assert!(
            text.contains("rtmp_http_connections_rejected_total{reason=\"evicted\"} 2\n"),
            "{text}"
        );
    }
}
