//! The SRT settings (`--srt-listen`, `--srt-latency`, `--srt-passphrase-file`,
//! `--srt-max-connections`), their parsers and the limits that are constants.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default receiver latency (TSBPD delay): libsrt's and OBS's default.
pub const DEFAULT_SRT_LATENCY: Duration = Duration::from_millis(120);
/// Bounds of `--srt-latency`.
pub const MIN_SRT_LATENCY: Duration = Duration::from_millis(20);
pub const MAX_SRT_LATENCY: Duration = Duration::from_secs(10);
/// Default most SRT connections (handshakes in progress included).
pub const DEFAULT_SRT_MAX_CONNECTIONS: usize = 64;
/// Largest UDP datagram read: SRT's largest MSS (libsrt caps SRTO_MSS at 1500); a longer
/// one is cut and fails to parse.
pub const MAX_DATAGRAM: usize = 1500;
/// Datagrams queued from the socket thread to one connection's thread (at most 1.5 MB,
/// about a second at 10 Mbit/s); beyond this the connection is too slow and packets are
/// dropped (SRT retransmits them).
pub const CONNECTION_QUEUE: usize = 1024;

/// All SRT settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtOptions {
    /// None: no SRT listener.
    pub listen: Option<SocketAddr>,
    pub latency: Duration,
    /// The top level's passphrase file; `[[app]]` tables may set their own (policy).
    pub passphrase_file: Option<PathBuf>,
    pub max_connections: usize,
}

impl Default for SrtOptions {
    fn default() -> Self {
        SrtOptions {
            listen: None,
            latency: DEFAULT_SRT_LATENCY,
            passphrase_file: None,
            max_connections: DEFAULT_SRT_MAX_CONNECTIONS,
        }
    }
}

/// Parses `--srt-latency`: milliseconds with `ms`, or seconds with `s` (e.g. 120ms, 1s).
pub fn parse_srt_latency(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let latency = if let Some(ms) = value.strip_suffix("ms") {
        ms.trim().parse::<u64>().map(Duration::from_millis).ok()
    } else if let Some(s) = value.strip_suffix('s') {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    } else {
        None
    };
    match latency {
        Some(latency) if (MIN_SRT_LATENCY..=MAX_SRT_LATENCY).contains(&latency) => Ok(latency),
        _ => Err(format!(
            "expected a latency between 20ms and 10s, like 120ms or 1s, got {value:?}"
        )),
    }
}

/// Parses `--srt-max-connections` (at least 1).
pub fn parse_srt_max_connections(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a positive number of connections, got {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_takes_milliseconds_or_seconds_within_bounds() {
        assert_eq!(parse_srt_latency("120ms"), Ok(Duration::from_millis(120)));
        assert_eq!(parse_srt_latency("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_srt_latency("5ms").is_err());
        assert!(parse_srt_latency("11s").is_err());
        assert!(parse_srt_latency("120").is_err());
        assert!(parse_srt_latency("-1s").is_err());
    }

    #[test]
    fn max_connections_is_positive() {
        assert_eq!(parse_srt_max_connections("10"), Ok(10));
        assert!(parse_srt_max_connections("0").is_err());
    }
}
