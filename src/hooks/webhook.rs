//! Webhook requests: the JSON body of a hook event, its HMAC-SHA256 signature (pure,
//! unit-tested), and the POST itself over a blocking `ureq` agent whose every call is bounded
//! by `--hook-timeout`. Retries with backoff are the observer's (`observer.rs`).

use super::{HookError, HookEvent, HookKind, HookSecret};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The header carrying `sha256=HEX` when `--hook-secret-file` is set.
pub const SIGNATURE_HEADER: &str = "X-Rtmp-Signature";
/// First wait before a notification is tried again; doubled each time up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The JSON object a webhook receives.
pub fn body(event: &HookEvent) -> String {
    let mut value = json!({
        "event": event.kind.as_str(),
        "app": event.app,
        "stream": event.stream,
        "query": event.query,
        "client_addr": event.client_addr.map(|a| a.to_string()),
        "conn_id": event.conn_id,
        "time": event.time,
    });
    if let Some(fields) = value.as_object_mut() {
        if event.kind == HookKind::UploadDone {
            fields.insert("url".into(), json!(event.url));
            fields.insert("bytes".into(), json!(event.bytes));
        }
        if matches!(event.kind, HookKind::RecordDone | HookKind::UploadDone) {
            let path = event.path.as_ref().map(|p| p.display().to_string());
            fields.insert("path".into(), json!(path));
        }
        if matches!(
            event.kind,
            HookKind::PublishDone | HookKind::PlayDone | HookKind::RecordDone
        ) {
            fields.insert("duration_ms".into(), json!(event.duration_ms));
            fields.insert("bytes".into(), json!(event.bytes));
        }
    }
    Value::to_string(&value)
}

/// `sha256=HEX`: the HMAC-SHA256 of `body` under `secret`, lowercase hex.
pub fn signature(secret: &HookSecret, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&secret.0) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never reached.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The wait before retry number `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// A URL for logs: without user info and query (either may hold a secret).
pub fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or("");
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_owned(),
    }
}

/// The client: every call bounded by `timeout`, any status returned (not an error), no
/// proxy from the environment (hooks go straight to their receiver).
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .build()
        .into()
}

/// POSTs `event` to `url` once: Ok on a 2xx answer.
pub fn post(agent: &ureq::Agent, url: &str, event: &HookEvent, secret: Option<&HookSecret>) -> Result<(), HookError> {
    let body = body(event);
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
    }
    match request.send(body.as_bytes()) {
        Ok(response) => {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(HookError::Status(status))
            }
        }
        Err(ureq::Error::Timeout(_)) => Err(HookError::Timeout),
        Err(ureq::Error::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) =>
        {
            Err(HookError::Timeout)
        }
        Err(e) => Err(HookError::Connection(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_common_fields_and_the_per_event_ones() {
        let mut event = HookEvent::new(HookKind::RecordDone, "live", "cam", "key=k");
        event.time = "2024-01-02T03:04:05Z".into();
        event.path = Some("rec/a.flv".into());
        event.duration_ms = Some(1500);
        event.bytes = Some(99);
        let value: Value = serde_json::from_str(&body(&event)).unwrap();
        assert_eq!(
            value,
            json!({"event": "record_done", "app": "live", "stream": "cam", "query": "key=k",
                   "client_addr": null, "conn_id": null, "time": "2024-01-02T03:04:05Z",
                   "path": "rec/a.flv", "duration_ms": 1500, "bytes": 99})
        );
        let mut publish = HookEvent::new(HookKind::Publish, "live", "cam", "");
        publish.client_addr = Some("127.0.0.1:5000".parse().unwrap());
        publish.conn_id = Some(7);
        let value: Value = serde_json::from_str(&body(&publish)).unwrap();
        assert_eq!(value["client_addr"], "127.0.0.1:5000");
        assert_eq!(value["conn_id"], 7);
        assert!(value.get("bytes").is_none() && value.get("path").is_none());
    }

    #[test]
    fn the_signature_is_hmac_sha256_in_lowercase_hex() {
        // RFC 4231 test case 2.
        let secret = HookSecret(b"Jefe".to_vec());
        assert_eq!(
            signature(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn urls_are_logged_without_user_info_or_query() {
        assert_eq!(redact_url("https://u:p@h:1/a/b?token=x"), "https://h:1/a/b");
        assert_eq!(redact_url("http://h"), "http://h");
    }
}
