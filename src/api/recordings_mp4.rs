//! The playback server's conversions: `GET /recordings/PATH?format=mp4[&start=S][&duration=S]`
//! sends an FLV recording as fragmented MP4 made while it is sent (`record::remux_range`: no
//! temporary file, the range's duration in the `moov` so players can seek), from the
//! keyframe at or before `start` (seconds) for `duration` seconds; an MP4 recording's range
//! is its fragments copied (`record::mp4_range`), and one asked for whole is sent as it is
//! (with Range). The answer says where the range starts in the
//! file (`X-Range-Start`, seconds) and how long it is (`X-Range-Duration`).

use super::error;
use crate::http::percent::query_value;
use crate::http::response::StreamBody;
use crate::http::Response;
use crate::record::mp4_range::{Mp4Range, Mp4RangeError};
use crate::record::remux::RemuxError;
use crate::record::remux_range::{FlvRange, TimeRange};
use log::{info, warn};
use std::path::Path;

/// What a request's query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// The file as it is.
    None,
    /// Fragmented MP4, the whole file or a range of it.
    Mp4(TimeRange),
}

/// Seconds in a query (`start=12.5`) as ms: finite, at least 0, at most a u32 of ms.
fn seconds(query: &str, name: &str) -> Result<Option<u32>, String> {
    let Some(value) = query_value(query, name).map_err(str::to_owned)? else {
        return Ok(None);
    };
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 && s * 1000.0 < f64::from(u32::MAX) => Ok(Some((s * 1000.0).round() as u32)),
        _ => Err(format!("{name} must be a number of seconds, at least 0")),
    }
}

/// The conversion `query` asks for; an error message for a 400.
pub fn conversion(query: &str) -> Result<Conversion, String> {
    let format = query_value(query, "format").map_err(str::to_owned)?;
    let start = seconds(query, "start")?;
    let duration = seconds(query, "duration")?;
    match format.as_deref() {
        None if start.is_none() && duration.is_none() => Ok(Conversion::None),
        None => Err("start and duration go with format=mp4".to_owned()),
        Some("mp4") if duration == Some(0) => Err("duration must be more than 0".to_owned()),
        Some("mp4") => Ok(Conversion::Mp4(TimeRange {
            start_ms: start.unwrap_or(0),
            duration_ms: duration,
        })),
        Some(_) => Err("format must be mp4".to_owned()),
    }
}

fn header_seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A 200 whose MP4 body `send` writes while it is sent.
fn streamed(
    shown: &str,
    first_ms: u64,
    duration_ms: u32,
    send: impl FnOnce(&mut dyn std::io::Write) -> Result<u64, String> + Send + 'static,
) -> Response {
    let shown_in_body = shown.to_owned();
    let body = StreamBody::new(move |socket| {
        let shown = shown_in_body;
        match send(socket) {
            Ok(bytes) => {
                info!(
                    "Recording sent as MP4 path={shown:?} start_ms={first_ms} duration_ms={duration_ms} bytes={bytes}"
                );
                Ok(())
            }
            // Most often the viewer left (a seek, a closed tab).
            Err(e) => {
                info!("Recording as MP4 stopped path={shown:?} error={e}");
                Err(std::io::Error::other(e))
            }
        }
    });
    Response::streamed(200, "video/mp4", body)
        .with_header("Accept-Ranges", "none")
        .with_header("Cache-Control", "no-cache")
        .with_header("X-Range-Start", &header_seconds(first_ms))
        .with_header("X-Range-Duration", &header_seconds(u64::from(duration_ms)))
}

/// The answer to `range` of the FLV recording at `path` (`shown` names it in logs).
pub fn flv_as_mp4(path: &Path, shown: &str, range: TimeRange) -> Response {
    let plan = match FlvRange::plan(path, range) {
        Ok(plan) => plan,
        Err(RemuxError::OutOfRange) => return error(416, "start is at or after the end of the recording"),
        Err(e @ (RemuxError::Flv(_) | RemuxError::Mux(_))) => {
            warn!("Recording cannot be sent as MP4 path={shown:?} error={e}");
            return error(422, &format!("cannot convert this recording: {e}"));
        }
        Err(e) => {
            warn!("Recording cannot be read path={shown:?} error={e}");
            return error(500, "cannot read the recording");
        }
    };
    let (first, duration) = (u64::from(plan.first_ms()), plan.duration_ms());
    streamed(shown, first, duration, move |socket| {
        plan.stream(|bytes| socket.write_all(bytes))
            .map(|summary| summary.bytes)
            .map_err(|e| e.to_string())
    })
}

/// The answer to `range` of the MP4 recording at `path`: its fragments, copied.
pub fn mp4_range(path: &Path, shown: &str, range: TimeRange) -> Response {
    let plan = match Mp4Range::plan(path, range) {
        Ok(plan) => plan,
        Err(Mp4RangeError::OutOfRange) => return error(416, "start is at or after the end of the recording"),
        Err(e @ (Mp4RangeError::NotMp4 | Mp4RangeError::Unsupported(_))) => {
            warn!("Recording range cannot be cut path={shown:?} error={e}");
            return error(422, &e.to_string());
        }
        Err(e) => {
            warn!("Recording cannot be read path={shown:?} error={e}");
            return error(500, "cannot read the recording");
        }
    };
    let (first, duration) = (plan.first_ms(), plan.duration_ms());
    streamed(shown, first, duration, move |socket| {
        plan.stream(|bytes| socket.write_all(bytes)).map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_a_format_and_a_range_in_seconds() {
        assert_eq!(conversion(""), Ok(Conversion::None));
        assert_eq!(conversion("x=1"), Ok(Conversion::None));
        assert_eq!(
            conversion("format=mp4"),
            Ok(Conversion::Mp4(TimeRange {
                start_ms: 0,
                duration_ms: None
            }))
        );
        assert_eq!(
            conversion("format=mp4&start=12.5&duration=3"),
            Ok(Conversion::Mp4(TimeRange {
                start_ms: 12_500,
                duration_ms: Some(3000)
            }))
        );
        for bad in [
            "format=webm",
            "start=3",
            "format=mp4&start=-1",
            "format=mp4&start=nan",
            "format=mp4&duration=0",
            "format=mp4&start=1e300",
            "format=mp4&start=%ZZ",
        ] {
            assert!(conversion(bad).is_err(), "{bad}");
        }
    }
}
