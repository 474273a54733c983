//! The HTTP server's settings (`--http-max-connections`, `--http-max-connections-per-ip`,
//! `--http-timeout`, `--http-cors-origin`): defaults and flag parsers. The size limits of a
//! request are constants in `request`, the keep-alive request limit one in `server`.

use super::cors::CorsOrigins;
use crate::limits_options::parse_timeout;
use std::time::Duration;

/// Default `--http-max-connections`. At the cap a new connection evicts the oldest one that
/// has not finished sending a request; if every connection is busy with a request, the new
/// one gets a 503 and is closed.
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 100;
/// Default `--http-max-connections-per-ip`: one address (a household, an office NAT, or an
/// attacker; for IPv6 a /64) gets at most this many connections; at this cap its own longest-waiting
/// connection without a whole request is evicted, or the newcomer gets 503. Loopback is not
/// exempt: a reverse proxy on the same box needs a higher value.
pub const DEFAULT_HTTP_MAX_CONNECTIONS_PER_IP: usize = 16;
/// Default `--http-timeout`: a connection with no byte of a request is closed after this
/// (fresh, or idle after a keep-alive response); from its first byte a request must arrive
/// whole within this, however the bytes trickle (408 then); each socket write must progress
/// within it (slow readers are dropped).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Most open HTTP connections (each has one thread).
    pub max_connections: usize,
    /// Most open HTTP connections from one client address.
    pub max_connections_per_ip: usize,
    /// Idle time before a request, read deadline for a whole request from its first byte,
    /// and per-write timeout.
    pub timeout: Duration,
    /// Origins whose scripts may read the viewer paths' responses (default: none).
    pub cors: CorsOrigins,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_connections: DEFAULT_HTTP_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_HTTP_MAX_CONNECTIONS_PER_IP,
            timeout: DEFAULT_HTTP_TIMEOUT,
            cors: CorsOrigins::default(),
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

/// `--http-cors-origin`: `*`, or origins like `https://example.com` (a comma list allowed).
pub fn parse_http_cors_origin(value: &str) -> Result<String, String> {
    for origin in value.split(',').map(str::trim) {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .map(|rest| rest.trim_end_matches('/'));
        let valid = origin == "*"
            || host.is_some_and(|h| {
                !h.is_empty() && !h.contains(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            });
        if !valid {
            return Err(format!(
                "expected * or an origin like https://example.com (scheme, host, port), got {origin:?}"
            ));
        }
    }
    Ok(value.to_owned())
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
    fn cors_origins_are_star_or_scheme_host_port() {
        for good in [
            "*",
            "https://example.com",
            "http://10.0.0.5:8080",
            "https://a.example, https://b.example/",
        ] {
            assert_eq!(parse_http_cors_origin(good), Ok(good.to_owned()), "{good}");
        }
        for bad in [
            "",
            "example.com",
            "https://",
            "https://a.example/path",
            "ftp://a",
            "https://a.example,",
        ] {
            assert!(parse_http_cors_origin(bad).is_err(), "{bad}");
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
