//! RTMP URLs (`rtmp://host[:port]/app[/more]/stream[?query]`, `rtmps://…`), split into what
//! a client needs: TLS or not, host, port, app, stream name (query included) and tcUrl.
//!
//! App and stream are split the way FFmpeg's rtmpproto.c (and librtmp's "app/instance")
//! does: with two path segments the first is the app; with three or more the first two are
//! the app ("app/instance") and the rest the stream, unless the second segment holds a `:`
//! (a playpath prefix such as `mp4:`), in which case the app is the first segment only. The
//! query is cut off before splitting and stays with the stream name (`key?token=…`), as
//! encoders send it. tcUrl is `scheme://authority/app` with the host and port as written
//! (never a resolved address).

/// Default port of `rtmp://`.
pub const RTMP_DEFAULT_PORT: u16 = 1935;
/// Default port of `rtmps://`.
pub const RTMPS_DEFAULT_PORT: u16 = 443;
/// Longest URL accepted (bytes).
pub const MAX_URL_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    TooLong,
    /// Not `rtmp://` or `rtmps://`.
    Scheme,
    /// `user:password@` is not supported.
    Credentials,
    Host,
    Port,
    /// No app or no stream name in the path.
    Path,
}

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            UrlError::TooLong => "URL too long",
            UrlError::Scheme => "expected rtmp:// or rtmps://",
            UrlError::Credentials => "user:password@ in the URL is not supported",
            UrlError::Host => "missing or malformed host",
            UrlError::Port => "port must be a number 1..=65535",
            UrlError::Path => "expected /app/stream after the host",
        };
        f.write_str(text)
    }
}

impl std::error::Error for UrlError {}

/// A parsed RTMP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// `rtmps://`: the connection runs over TLS.
    pub tls: bool,
    /// Host as written, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    pub app: String,
    /// Stream name as sent in `publish`/`play`, query included.
    pub stream: String,
    pub tc_url: String,
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<RtmpUrl, UrlError> {
        if url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let (tls, default_port, scheme) = match scheme.to_ascii_lowercase().as_str() {
            "rtmp" => (false, RTMP_DEFAULT_PORT, "rtmp"),
            "rtmps" => (true, RTMPS_DEFAULT_PORT, "rtmps"),
            _ => return Err(UrlError::Scheme),
        };
        let (authority, path) = rest.split_at(rest.find('/').ok_or(UrlError::Path)?);
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let (host, port) = split_authority(authority, default_port)?;
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let (app, name) = split_app(path.strip_prefix('/').unwrap_or(path))?;
        let stream = match query {
            Some(query) => format!("{name}?{query}"),
            None => name.to_owned(),
        };
        Ok(RtmpUrl {
            tls,
            host,
            port,
            app: app.to_owned(),
            stream,
            tc_url: format!("{scheme}://{authority}/{app}"),
        })
    }

    /// Parses a tcUrl, `rtmp[s]://host[:port]/app` (what `connect` and a reconnect request
    /// carry): the URL with every path segment (and any query) as the app, and no stream.
    pub fn parse_tc_url(tc_url: &str) -> Result<RtmpUrl, UrlError> {
        if tc_url.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let (scheme, rest) = tc_url.split_once("://").ok_or(UrlError::Scheme)?;
        let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "rtmp" => (false, RTMP_DEFAULT_PORT),
            "rtmps" => (true, RTMPS_DEFAULT_PORT),
            _ => return Err(UrlError::Scheme),
        };
        let (authority, path) = rest.split_at(rest.find('/').ok_or(UrlError::Path)?);
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let (host, port) = split_authority(authority, default_port)?;
        let app = path.trim_matches('/');
        if app.is_empty() || app.starts_with('?') {
            return Err(UrlError::Path);
        }
        Ok(RtmpUrl {
            tls,
            host,
            port,
            app: app.to_owned(),
            stream: String::new(),
            tc_url: format!("{}://{authority}/{app}", scheme.to_ascii_lowercase()),
        })
    }

    /// The stream name without its query.
    pub fn stream_name(&self) -> &str {
        self.stream.split('?').next().unwrap_or("")
    }

    /// The URL for logs and the API: the query (which may hold a key) replaced by `***`, and
    /// the stream name too unless `show_stream` (a platform's stream key is the name itself).
    pub fn redacted(&self, show_stream: bool) -> String {
        let scheme = if self.tls { "rtmps" } else { "rtmp" };
        let name = if show_stream { self.stream_name() } else { "***" };
        let query = if self.stream.contains('?') { "?***" } else { "" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}/{name}{query}", self.port, self.app)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::Host)?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(UrlError::Host)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return Err(UrlError::Host);
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(UrlError::Port),
        },
    };
    Ok((host.to_owned(), port))
}

/// FFmpeg's split of `app[/instance]/stream` (see the module comment).
fn split_app(path: &str) -> Result<(&str, &str), UrlError> {
    let (first, rest) = path.split_once('/').ok_or(UrlError::Path)?;
    let (app, stream) = match rest.split_once('/') {
        Some((second, _)) if !second.contains(':') => {
            let app_len = first.len() + 1 + second.len();
            (path.get(..app_len).unwrap_or(""), path.get(app_len + 1..).unwrap_or(""))
        }
        _ => (first, rest),
    };
    if app.is_empty() || stream.is_empty() {
        return Err(UrlError::Path);
    }
    Ok((app, stream))
}

/// Replaces `{app}` and `{stream}` in a URL template.
pub fn substitute(template: &str, app: &str, stream: &str) -> String {
    template.replace("{app}", app).replace("{stream}", stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> RtmpUrl {
        RtmpUrl::parse(url).unwrap()
    }

    #[test]
    fn two_segments_are_app_and_stream_with_default_port() {
        let url = parse("rtmp://origin.example/live/cam");
        assert!(!url.tls);
        assert_eq!((url.host.as_str(), url.port), ("origin.example", 1935));
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("live", "cam"));
        assert_eq!(url.tc_url, "rtmp://origin.example/live");
    }

    #[test]
    fn rtmps_defaults_to_443_and_keeps_the_key_as_stream() {
        let url = parse("rtmps://a.rtmp.youtube.com/live2/abcd-efgh-ijkl");
        assert!(url.tls);
        assert_eq!(url.port, 443);
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("live2", "abcd-efgh-ijkl"));
        assert_eq!(url.tc_url, "rtmps://a.rtmp.youtube.com/live2");
    }

    #[test]
    fn explicit_port_is_used_and_kept_in_tc_url() {
        let url = parse("RTMP://127.0.0.1:19350/live/cam");
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 19350));
        assert_eq!(url.tc_url, "rtmp://127.0.0.1:19350/live");
    }

    #[test]
    fn three_segments_make_app_and_instance_like_ffmpeg() {
        let url = parse("rtmp://h/app/inst/stream");
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("app/inst", "stream"));
        let url = parse("rtmp://h/app/inst/dir/stream");
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("app/inst", "dir/stream"));
        assert_eq!(url.tc_url, "rtmp://h/app/inst");
    }

    #[test]
    fn a_colon_in_the_second_segment_keeps_a_one_segment_app() {
        let url = parse("rtmp://h/vod/mp4:dir/file.mp4");
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("vod", "mp4:dir/file.mp4"));
    }

    #[test]
    fn query_stays_with_the_stream_and_slashes_in_it_do_not_split() {
        let url = parse("rtmp://h/live/cam?key=s3cret/x&y=1");
        assert_eq!(
            (url.app.as_str(), url.stream.as_str()),
            ("live", "cam?key=s3cret/x&y=1")
        );
        assert_eq!(url.stream_name(), "cam");
    }

    #[test]
    fn ipv6_hosts_in_brackets() {
        let url = parse("rtmp://[::1]:1940/live/cam");
        assert_eq!((url.host.as_str(), url.port), ("::1", 1940));
        assert_eq!(url.tc_url, "rtmp://[::1]:1940/live");
        assert_eq!(parse("rtmp://[::1]/live/cam").port, 1935);
    }

    #[test]
    fn malformed_urls_are_typed_errors() {
        let cases = [
            ("http://h/live/cam", UrlError::Scheme),
            ("h/live/cam", UrlError::Scheme),
            ("rtmp://h", UrlError::Path),
            ("rtmp://h/live", UrlError::Path),
            ("rtmp://h/live/", UrlError::Path),
            ("rtmp://h//cam", UrlError::Path),
            ("rtmp://:1935/live/cam", UrlError::Host),
            ("rtmp://h:0/live/cam", UrlError::Port),
            ("rtmp://h:99999/live/cam", UrlError::Port),
            ("rtmp://h:x/live/cam", UrlError::Port),
            ("rtmp://u:p@h/live/cam", UrlError::Credentials),
            ("rtmp://[::1/live/cam", UrlError::Host),
            ("rtmp://h h/live/cam", UrlError::Host),
        ];
        for (url, error) in cases {
            assert_eq!(RtmpUrl::parse(url), Err(error), "{url}");
        }
        assert_eq!(
            RtmpUrl::parse(&format!("rtmp://h/live/{}", "x".repeat(MAX_URL_LEN))),
            Err(UrlError::TooLong)
        );
    }

    #[test]
    fn a_tc_url_is_scheme_host_port_and_app() {
        let url = RtmpUrl::parse_tc_url("rtmps://edge.example:4443/live/inst/").unwrap();
        assert!(url.tls);
        assert_eq!((url.host.as_str(), url.port), ("edge.example", 4443));
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("live/inst", ""));
        assert_eq!(url.tc_url, "rtmps://edge.example:4443/live/inst");
        assert_eq!(RtmpUrl::parse_tc_url("rtmp://h/live").unwrap().port, 1935);
        let cases = [
            ("http://h/live", UrlError::Scheme),
            ("//h/live", UrlError::Scheme),
            ("rtmp://h", UrlError::Path),
            ("rtmp://h/", UrlError::Path),
            ("rtmp://h/?k=1", UrlError::Path),
            ("rtmp://u@h/live", UrlError::Credentials),
            ("rtmp://h:0/live", UrlError::Port),
        ];
        for (url, error) in cases {
            assert_eq!(RtmpUrl::parse_tc_url(url), Err(error), "{url}");
        }
    }

    #[test]
    fn substitution_fills_app_and_stream_everywhere() {
        let template = "rtmp://origin:1936/{app}/{stream}?from={app}";
        assert_eq!(
            substitute(template, "live", "cam"),
            "rtmp://origin:1936/live/cam?from=live"
        );
        let url = parse(&substitute("rtmp://o/{app}/{stream}", "live/a", "b"));
        assert_eq!((url.app.as_str(), url.stream.as_str()), ("live/a", "b"));
        assert_eq!(substitute("rtmp://o/x/y", "live", "cam"), "rtmp://o/x/y");
    }

    #[test]
    fn redaction_hides_the_query_and_optionally_the_stream() {
        let url = parse("rtmps://a.rtmp.youtube.com/live2/KEY?token=abc");
        assert_eq!(url.redacted(false), "rtmps://a.rtmp.youtube.com:443/live2/***?***");
        assert_eq!(url.redacted(true), "rtmps://a.rtmp.youtube.com:443/live2/KEY?***");
        assert_eq!(parse("rtmp://o/live/cam").redacted(true), "rtmp://o:1935/live/cam");
    }
}
