//! What each push reports (for GET /api/pushes and /metrics): its redacted URL, whether it
//! is connected, media bytes sent, failed attempts and the last error.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct PushStatus {
    pub app: String,
    pub stream: String,
    /// Redacted: no query, no literal stream key.
    pub url: String,
    connected: AtomicBool,
    bytes: AtomicU64,
    retries: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A consistent copy of one push's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSnapshot {
    pub app: String,
    pub stream: String,
    pub url: String,
    pub connected: bool,
    pub bytes: u64,
    pub retries: u64,
    pub last_error: Option<String>,
}

impl PushStatus {
    pub fn new(app: &str, stream: &str, url: String) -> PushStatus {
        PushStatus {
            app: app.to_owned(),
            stream: stream.to_owned(),
            url,
            connected: AtomicBool::new(false),
            bytes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a failed attempt or a lost connection; returns the new count.
    pub fn failed(&self, error: String) -> u64 {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
        self.retries.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn snapshot(&self) -> PushSnapshot {
        PushSnapshot {
            app: self.app.clone(),
            stream: self.stream.clone(),
            url: self.url.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Appends the push metrics (Prometheus text) for these pushes.
pub fn render_metrics(pushes: &[PushSnapshot], out: &mut String) {
    type Family = (&'static str, &'static str, &'static str, fn(&PushSnapshot) -> u64);
    let families: [Family; 3] = [
        (
            "rtmp_push_connected",
            "gauge",
            "1 while a push is connected to its upstream.",
            |p| u64::from(p.connected),
        ),
        (
            "rtmp_push_bytes_total",
            "counter",
            "Media bytes sent upstream by a push.",
            |p| p.bytes,
        ),
        (
            "rtmp_push_retries_total",
            "counter",
            "Failed push attempts and lost push connections.",
            |p| p.retries,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for push in pushes {
            let _ = writeln!(
                out,
                "{name}{{app=\"{}\",stream=\"{}\",url=\"{}\"}} {}",
                escape_label(&push.app),
                escape_label(&push.stream),
                escape_label(&push.url),
                value(push)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_and_renders_as_prometheus_text() {
        let status = PushStatus::new("live", "cam", "rtmp://o:1935/live/cam".into());
        status.set_connected(true);
        status.add_bytes(1000);
        assert_eq!(status.failed("i/o: refused".into()), 1);
        let snapshot = status.snapshot();
        assert_eq!(snapshot.last_error.as_deref(), Some("i/o: refused"));
        let mut out = String::new();
        render_metrics(&[snapshot], &mut out);
        let labels = "{app=\"live\",stream=\"cam\",url=\"rtmp://o:1935/live/cam\"}";
        assert!(out.contains(&format!("rtmp_push_connected{labels} 1\n")), "{out}");
        assert!(out.contains(&format!("rtmp_push_bytes_total{labels} 1000\n")), "{out}");
        assert!(out.contains(&format!("rtmp_push_retries_total{labels} 1\n")), "{out}");
    }
}
