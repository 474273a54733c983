//! Hook outcomes for /metrics (per event and outcome) and the latest failures for the API.
//! Failure entries name the event, stream and target, never the query.

use super::HookKind;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Most recent failures kept.
pub const RECENT_FAILURES: usize = 50;

/// One failed hook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub time: String,
    pub event: &'static str,
    pub app: String,
    pub stream: String,
    /// The target (a webhook URL without user info or query, or a program).
    pub target: String,
    pub error: String,
}

impl Failure {
    /// A failure of `target` for `event`.
    pub fn of(event: &super::HookEvent, target: &impl std::fmt::Display, error: &impl std::fmt::Display) -> Failure {
        Failure {
            time: event.time.clone(),
            event: event.kind.as_str(),
            app: event.app.clone(),
            stream: event.stream.clone(),
            target: target.to_string(),
            error: error.to_string(),
        }
    }
}

#[derive(Debug, Default)]
pub struct HookStats {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    failures: Mutex<VecDeque<Failure>>,
}

impl HookStats {
    pub fn new() -> HookStats {
        HookStats::default()
    }

    /// Counts one call (or drop) of `kind` with `outcome` (ok, failed, timeout, dropped...).
    pub fn count(&self, kind: HookKind, outcome: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((kind.as_str(), outcome)).or_insert(0) += 1;
    }

    pub fn fail(&self, failure: Failure) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= RECENT_FAILURES {
            failures.pop_front();
        }
        failures.push_back(failure);
    }

    /// (event, outcome, count), sorted.
    pub fn counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().map(|((k, o), n)| (*k, *o, *n)).collect()
    }

    /// The latest failures, oldest first.
    pub fn failures(&self) -> Vec<Failure> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.iter().cloned().collect()
    }

    /// The counters in Prometheus text.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP rtmp_hooks_total Hook calls by event and outcome.");
        let _ = writeln!(out, "# TYPE rtmp_hooks_total counter");
        for (event, outcome, n) in self.counts() {
            let _ = writeln!(out, "rtmp_hooks_total{{event=\"{event}\",outcome=\"{outcome}\"}} {n}");
        }
    }
}
