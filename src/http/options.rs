//! The HTTP server's settings (`--http-max-connections`, `--http-timeout`): defaults and
//! flag parsers.

use crate::limits_options::parse_timeout;
use std::time::Duration;

/// Default `--http-max-connections`. At the cap a new connection evicts the oldest one that
/// has not finished sending a request; if every connection is busy with a request, the new
/// one gets a 503 and is closed.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 100;
/// Default `--http-timeout`: a request must arrive whole within this after the connection
/// opened (or its previous response went out), else the connection is closed (408 if part of
/// a request came); each socket write must also progress within it.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// Most open HTTP connections (each has one thread).
    pub max_connections: usize,
    /// Read deadline for a whole request, keep-alive idle time and per-write timeout.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
            timeout: DEFAULT_HTTP_TIMEOUT,
        }
    }
}

/// `--http-max-connections`: a whole number of at least 1.
pub fn parse_http_max_connections(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

/// `--http-timeout`: seconds (`10`) or a duration (`10s`, `500ms`); zero is refused.
pub fn parse_http_timeout(value: &str) -> Result<Duration, String> {
    parse_timeout(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_connections_is_at_least_one() {
        assert_eq!(parse_http_max_connections("100"), Ok(100));
        for bad in ["0", "-1", "x", ""] {
            assert!(parse_http_max_connections(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeout_takes_seconds_or_durations_but_not_zero() {
        assert_eq!(parse_http_timeout("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_http_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_http_timeout("0").is_err());
        assert!(parse_http_timeout("soon").is_err());
    }
}
