//! SRT stream ids (pure): `publish:APP/STREAM`, `APP/STREAM` and the access-control form
//! `#!::r=APP/STREAM,m=publish,u=USER,s=SESSION`, each with an optional `?query` on the
//! resource. The key may be the query's `key=` or, in the access-control form, `s=` (else
//! `u=`); it becomes the `key=` of the query the publish decision checks, as over RTMP.

use std::fmt;

/// The access-control form's prefix.
const ACCESS_CONTROL_PREFIX: &str = "#!::";
/// Longest stream id accepted (libsrt's limit is 512).
pub const MAX_STREAM_ID: usize = 512;

/// What an SRT caller asks for: a publish of app/stream with this query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtTarget {
    pub app: String,
    pub stream: String,
    /// The query the publish decision checks (may hold `key=`); never logged.
    pub query: String,
}

/// Why a stream id is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamIdError {
    Missing,
    TooLong,
    /// Not APP/STREAM (empty part, a slash in the stream, control characters).
    BadResource,
    /// A mode other than publish (`m=request` is playback, not served over SRT).
    UnsupportedMode(String),
}

impl fmt::Display for StreamIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamIdError::Missing => f.write_str("no stream id (expected publish:APP/STREAM)"),
            StreamIdError::TooLong => write!(f, "stream id longer than {MAX_STREAM_ID} bytes"),
            StreamIdError::BadResource => f.write_str("stream id is not APP/STREAM"),
            StreamIdError::UnsupportedMode(mode) => write!(f, "mode {mode:?} not supported (only publish)"),
        }
    }
}

impl std::error::Error for StreamIdError {}

/// Parses a caller's stream id.
pub fn parse_stream_id(stream_id: Option<&str>) -> Result<SrtTarget, StreamIdError> {
    let id = stream_id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(StreamIdError::Missing)?;
    if id.len() > MAX_STREAM_ID {
        return Err(StreamIdError::TooLong);
    }
    if let Some(fields) = id.strip_prefix(ACCESS_CONTROL_PREFIX) {
        return access_control(fields);
    }
    // Some callers URL-encode the access-control form (`%23!::r%3D...`).
    if id.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%23")) {
        let decoded = percent_decode(id).ok_or(StreamIdError::BadResource)?;
        if let Some(fields) = decoded.strip_prefix(ACCESS_CONTROL_PREFIX) {
            return access_control(fields);
        }
    }
    let resource = match id.split_once(':') {
        Some(("publish", resource)) => resource,
        Some((mode @ ("play" | "request" | "read"), _)) => return Err(StreamIdError::UnsupportedMode(mode.to_owned())),
        _ => id,
    };
    resource_target(resource, None)
}

/// `%XX` escapes decoded; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn access_control(fields: &str) -> Result<SrtTarget, StreamIdError> {
    let (mut resource, mut user, mut session) = (None, None, None);
    for field in fields.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key.trim() {
            "r" => resource = Some(value),
            "u" => user = Some(value),
            "s" => session = Some(value),
            "m" if !matches!(value, "publish") => return Err(StreamIdError::UnsupportedMode(value.to_owned())),
            _ => {}
        }
    }
    let key = session.or(user).filter(|k| !k.is_empty());
    resource_target(resource.ok_or(StreamIdError::BadResource)?, key)
}

fn resource_target(resource: &str, key: Option<&str>) -> Result<SrtTarget, StreamIdError> {
    let (path, query) = resource.split_once('?').unwrap_or((resource, ""));
    let (app, stream) = path.split_once('/').ok_or(StreamIdError::BadResource)?;
    let valid = |part: &str| !part.is_empty() && !part.contains('/') && !part.chars().any(char::is_control);
    if !valid(app) || !valid(stream) || query.chars().any(char::is_control) {
        return Err(StreamIdError::BadResource);
    }
    let has_key = query.split('&').any(|pair| pair.starts_with("key="));
    let query = match key {
        Some(key) if !has_key && query.is_empty() => format!("key={key}"),
        Some(key) if !has_key => format!("{query}&key={key}"),
        _ => query.to_owned(),
    };
    Ok(SrtTarget {
        app: app.to_owned(),
        stream: stream.to_owned(),
        query,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code may panic
    use super::*;

    fn target(app: &str, stream: &str, query: &str) -> Result<SrtTarget, StreamIdError> {
        Ok(SrtTarget {
            app: app.into(),
            stream: stream.into(),
            query: query.into(),
        })
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(parse_stream_id(Some("publish:live/cam")), target("live", "cam", ""));
        assert_eq!(
            parse_stream_id(Some("live/cam?key=abc")),
            target("live", "cam", "key=abc")
        );
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam,m=publish")),
            target("live", "cam", "")
        );
        assert_eq!(
            parse_stream_id(Some("#!::m=publish,r=live/cam?key=k1")),
            target("live", "cam", "key=k1")
        );
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam,m=publish,s=sess")),
            target("live", "cam", "key=sess")
        );
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam,u=user")),
            target("live", "cam", "key=user")
        );
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam?a=1,s=k")),
            target("live", "cam", "a=1&key=k")
        );
        // The query's key wins over s=.
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam?key=q,s=k")),
            target("live", "cam", "key=q")
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_stream_id(None), Err(StreamIdError::Missing));
        assert_eq!(parse_stream_id(Some("  ")), Err(StreamIdError::Missing));
        assert_eq!(parse_stream_id(Some("live")), Err(StreamIdError::BadResource));
        assert_eq!(parse_stream_id(Some("live/")), Err(StreamIdError::BadResource));
        assert_eq!(parse_stream_id(Some("/cam")), Err(StreamIdError::BadResource));
        assert_eq!(parse_stream_id(Some("live/a/b")), Err(StreamIdError::BadResource));
        assert_eq!(parse_stream_id(Some("live/a\nb")), Err(StreamIdError::BadResource));
        assert_eq!(parse_stream_id(Some("#!::m=publish")), Err(StreamIdError::BadResource));
        assert_eq!(
            parse_stream_id(Some("#!::r=live/cam,m=request")),
            Err(StreamIdError::UnsupportedMode("request".into()))
        );
        assert_eq!(
            parse_stream_id(Some("play:live/cam")),
            Err(StreamIdError::UnsupportedMode("play".into()))
        );
        assert_eq!(parse_stream_id(Some(&"a/".repeat(300))), Err(StreamIdError::TooLong));
    }
}
