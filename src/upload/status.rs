//! What the uploads did, for /metrics and `GET /api/uploads`: counters, failures by kind,
//! the latest results, and the queue as JSON.

use super::journal::Job;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Results kept for the API.
const RECENT: usize = 50;

/// One upload's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadResult {
    /// The file, relative to the record dir.
    pub path: String,
    /// `s3://bucket/key`.
    pub object: String,
    pub bytes: u64,
    /// None: uploaded; else the failure kind and message.
    pub error: Option<(&'static str, String)>,
    /// Seconds since the epoch.
    pub at: u64,
}

#[derive(Debug, Default)]
pub struct UploadStats {
    pub uploaded_files: AtomicU64,
    pub uploaded_bytes: AtomicU64,
    /// Files deleted before they were uploaded (`upload_delete_unsent_when_full`).
    pub lost_files: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
    recent: Mutex<VecDeque<UploadResult>>,
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl UploadStats {
    pub fn record(&self, result: UploadResult) {
        match &result.error {
            None => {
                self.uploaded_files.fetch_add(1, Ordering::Relaxed);
                self.uploaded_bytes.fetch_add(result.bytes, Ordering::Relaxed);
            }
            Some((kind, _)) => {
                *self
                    .failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(kind)
                    .or_insert(0) += 1;
            }
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= RECENT {
            recent.pop_front();
        }
        recent.push_back(result);
    }

    /// Failures so far by kind.
    pub fn failures(&self) -> Vec<(&'static str, u64)> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn recent(&self) -> Vec<UploadResult> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// The queue and the latest results as the API's JSON.
pub fn to_json(queue: &[Job], stats: &UploadStats, last_error: Option<&str>) -> serde_json::Value {
    let queued: Vec<serde_json::Value> = queue
        .iter()
        .map(|job| {
            serde_json::json!({
                "path": job.path.to_string_lossy(),
                "app": job.app,
                "stream": job.stream,
                "bytes": job.bytes,
                "queued_at": job.queued_at,
                "parts_done": job.multipart.as_ref().map(|m| m.parts.len()),
            })
        })
        .collect();
    let recent: Vec<serde_json::Value> = stats
        .recent()
        .iter()
        .rev()
        .map(|r| {
            serde_json::json!({
                "path": r.path,
                "object": r.object,
                "bytes": r.bytes,
                "ok": r.error.is_none(),
                "error_kind": r.error.as_ref().map(|e| e.0),
                "error": r.error.as_ref().map(|e| e.1.clone()),
                "at": r.at,
            })
        })
        .collect();
    let failures: serde_json::Map<String, serde_json::Value> = stats
        .failures()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    serde_json::json!({
        "queued": queued,
        "queued_files": queue.len(),
        "queued_bytes": queue.iter().map(|j| j.bytes).sum::<u64>(),
        "uploaded_files": stats.uploaded_files.load(Ordering::Relaxed),
        "uploaded_bytes": stats.uploaded_bytes.load(Ordering::Relaxed),
        "failures": failures,
        "last_error": last_error,
        "recent": recent,
    })
}

/// The upload metrics: queue, uploads, failures by kind, the oldest queued file's age.
pub fn render_metrics(out: &mut String, queue: &[Job], oldest_age_s: u64, stats: &UploadStats) {
    use std::fmt::Write;
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    metric(
        "rtmp_upload_queued_files",
        "gauge",
        "Recordings waiting for upload.",
        queue.len() as u64,
    );
    metric(
        "rtmp_upload_queued_bytes",
        "gauge",
        "Bytes of recordings waiting for upload.",
        queue.iter().map(|j| j.bytes).sum(),
    );
    metric(
        "rtmp_upload_oldest_queued_seconds",
        "gauge",
        "Age of the oldest recording waiting for upload (0 when none).",
        oldest_age_s,
    );
    metric(
        "rtmp_uploaded_files_total",
        "counter",
        "Recordings uploaded and verified.",
        stats.uploaded_files.load(Ordering::Relaxed),
    );
    metric(
        "rtmp_uploaded_bytes_total",
        "counter",
        "Bytes of recordings uploaded and verified.",
        stats.uploaded_bytes.load(Ordering::Relaxed),
    );
    metric(
        "rtmp_upload_lost_files_total",
        "counter",
        "Recordings deleted by retention before their upload (upload_delete_unsent_when_full).",
        stats.lost_files.load(Ordering::Relaxed),
    );
    let _ = writeln!(out, "# HELP rtmp_upload_failures_total Failed upload attempts by kind.");
    let _ = writeln!(out, "# TYPE rtmp_upload_failures_total counter");
    for (kind, n) in stats.failures() {
        let _ = writeln!(out, "rtmp_upload_failures_total{{kind=\"{kind}\"}} {n}");
    }
}
