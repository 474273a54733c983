//! GET /api/events?after=N&wait=SECONDS: the latest events numbered above N as JSON, waiting
//! up to `wait` (at most 30 s) for one when there is none yet. Operators and tests follow
//! what happened (publishes, plays, recordings, pushes, kicks) without reading the log.

use crate::events::recent::RecentEvents;
use crate::events::Event;
use serde_json::{json, Value};
use std::time::Duration;

/// The value of `name` in a query string such as `after=5&wait=10` (undecoded).
fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The reply to one request whose query string is `query`; `Err` names a bad parameter.
pub fn reply(recent: &RecentEvents, query: &str) -> Result<Value, &'static str> {
    let after = match query_value(query, "after") {
        Some(text) => text.parse::<u64>().map_err(|_| "after must be an event number")?,
        None => 0,
    };
    let wait = match query_value(query, "wait") {
        Some(text) => Duration::from_secs_f64(
            text.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or("wait must be a number of seconds")?
                .min(crate::events::recent::MAX_EVENTS_WAIT.as_secs_f64()),
        ),
        None => Duration::ZERO,
    };
    let events: Vec<Value> = recent
        .after(after, wait)
        .iter()
        .map(|(seq, event)| to_json(*seq, event))
        .collect();
    Ok(json!({ "events": events, "last": recent.last_seq() }))
}

/// One event as JSON: its number, kind, stream (when it has one) and its own fields.
pub fn to_json(seq: u64, event: &Event) -> Value {
    let mut value = match event {
        Event::Connected {
            app, conn_id, remote, ..
        } => {
            json!({ "app": app, "conn_id": conn_id, "remote": remote.to_string() })
        }
        Event::Published { conn_id, remote, .. } | Event::PlayStarted { conn_id, remote, .. } => {
            json!({ "conn_id": conn_id, "remote": remote.to_string() })
        }
        Event::Unpublished { end, .. } | Event::PlayStopped { end, .. } => {
            json!({ "conn_id": end.conn_id, "reason": end.reason })
        }
        Event::RecordingStarted { path, .. } => json!({ "path": path.display().to_string() }),
        Event::RecordingFinalized {
            path,
            duration_ms,
            bytes,
            publisher,
            ..
        } => json!({ "path": path.display().to_string(), "duration_ms": duration_ms, "bytes": bytes,
                     "conn_id": publisher.conn_id }),
        Event::RecordingFailed { path, error, .. } => {
            json!({ "path": path.as_ref().map(|p| p.display().to_string()), "error": error })
        }
        Event::UploadDone { path, url, bytes, .. } => {
            json!({ "path": path.display().to_string(), "url": url, "bytes": bytes })
        }
        Event::PushStateChanged { url, connected, .. } => json!({ "url": url, "connected": connected }),
        Event::Kicked { conn_id, reason } => json!({ "conn_id": conn_id, "reason": reason }),
        Event::ReconnectRequested {
            conn_id,
            cause,
            redirected,
        } => json!({ "conn_id": conn_id, "cause": cause, "redirected": redirected }),
    };
    if let Some(fields) = value.as_object_mut() {
        fields.insert("seq".into(), json!(seq));
        fields.insert("kind".into(), json!(event.kind()));
        if let Some(name) = event.stream() {
            fields.insert("app".into(), json!(name.app));
            fields.insert("stream".into(), json!(name.stream));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StreamName;

    #[test]
    fn events_render_with_number_kind_stream_and_fields() {
        let event = Event::RecordingFinalized {
            name: StreamName::new("live", "cam"),
            path: "rec/cam.flv".into(),
            duration_ms: 2000,
            bytes: 345,
            publisher: crate::events::Publisher {
                conn_id: 3,
                remote: "127.0.0.1:5000".parse().unwrap(),
                query: crate::events::Query("key=SECRET".into()),
            },
        };
        assert_eq!(
            to_json(7, &event),
            json!({"seq": 7, "kind": "recording_finalized", "app": "live", "stream": "cam",
                   "path": "rec/cam.flv", "duration_ms": 2000, "bytes": 345, "conn_id": 3})
        );
    }

    #[test]
    fn bad_parameters_are_named_and_missing_ones_default() {
        let recent = RecentEvents::new();
        assert_eq!(reply(&recent, "after=x"), Err("after must be an event number"));
        assert_eq!(reply(&recent, "wait=-1"), Err("wait must be a number of seconds"));
        assert_eq!(reply(&recent, "wait=nan"), Err("wait must be a number of seconds"));
        assert_eq!(reply(&recent, ""), Ok(json!({ "events": [], "last": 0 })));
    }
}
