//! What the API and /metrics show of a source: its state, pid, restarts and how it last
//! ended (never its command, which may hold a camera's password).

use super::machine::State;
use crate::config::sources::SourceTable;
use std::fmt::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// How a source's process last ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// It could not be started (program missing, spawn error).
    SpawnFailed(String),
}

impl Exit {
    pub fn of(status: ExitStatus) -> Exit {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "code {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::SpawnFailed(error) => write!(f, "not started: {error}"),
        }
    }
}

/// One source as the API and metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    pub name: String,
    pub on_demand: Option<String>,
    pub state: State,
    pub pid: Option<u32>,
    pub restarts: u64,
    pub last_exit: Option<Exit>,
    /// When the running process started (Unix seconds).
    pub started_unix: Option<u64>,
}

impl SourceStatus {
    pub fn new(table: &SourceTable) -> SourceStatus {
        SourceStatus {
            name: table.name.clone(),
            on_demand: table.on_demand.clone(),
            state: if table.on_demand.is_some() {
                State::Idle
            } else {
                State::Stopped
            },
            pid: None,
            restarts: 0,
            last_exit: None,
            started_unix: None,
        }
    }
}

/// `rtmp_source_up{source}` and `rtmp_source_restarts_total{source}`.
pub fn render_metrics(sources: &[SourceStatus], out: &mut String) {
    type Family = (&'static str, &'static str, &'static str, fn(&SourceStatus) -> u64);
    let families: [Family; 2] = [
        (
            "rtmp_source_up",
            "gauge",
            "1 while a supervised source's process runs.",
            |s| u64::from(s.pid.is_some()),
        ),
        (
            "rtmp_source_restarts_total",
            "counter",
            "Restarts of a supervised source after its process exited.",
            |s| s.restarts,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for source in sources {
            // Names are letters, digits, '-', '_' and '.': nothing to escape.
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", source.name, value(source));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_have_a_sample_per_source() {
        let table = SourceTable {
            name: "door".into(),
            command: vec!["x".into()],
            on_demand: None,
            on_demand_idle: std::time::Duration::from_secs(1),
        };
        let mut status = SourceStatus::new(&table);
        status.pid = Some(7);
        status.restarts = 3;
        let mut out = String::new();
        render_metrics(&[status], &mut out);
        assert!(out.contains("rtmp_source_up{source=\"door\"} 1\n"), "{out}");
        assert!(out.contains("rtmp_source_restarts_total{source=\"door\"} 3\n"), "{out}");
        assert!(out.contains("# TYPE rtmp_source_restarts_total counter"));
    }
}
