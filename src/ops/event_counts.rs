//! Events counted by kind, an event observer for /metrics (`rtmp_events_total{kind}`), and
//! the bus's per-observer drops beside them.

use crate::events::bus::ObserverStats;
use crate::events::{Event, Observer};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Events seen, by kind.
#[derive(Debug, Default)]
pub struct EventCounts(Mutex<BTreeMap<&'static str, u64>>);

impl EventCounts {
    pub fn new() -> Arc<EventCounts> {
        Arc::new(EventCounts::default())
    }

    fn add(&self, kind: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_insert(0) += 1;
    }

    /// (kind, count) pairs, by kind.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().map(|(kind, n)| (*kind, *n)).collect()
    }
}

/// The observer that feeds an `EventCounts`.
pub struct EventCountsObserver(pub Arc<EventCounts>);

impl Observer for EventCountsObserver {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn on_event(&mut self, event: &Event) {
        self.0.add(event.kind());
    }
}

/// Appends the event metrics in Prometheus text.
pub fn render(counts: &EventCounts, observers: &[ObserverStats], out: &mut String) {
    let _ = writeln!(out, "# HELP rtmp_events_total Events the server emitted, by kind.");
    let _ = writeln!(out, "# TYPE rtmp_events_total counter");
    for (kind, n) in counts.counts() {
        let _ = writeln!(out, "rtmp_events_total{{kind=\"{kind}\"}} {n}");
    }
    type Value = fn(&ObserverStats) -> u64;
    let per_observer: [(&str, &str, &str, Value); 2] = [
        (
            "rtmp_event_observer_dropped_total",
            "counter",
            "Events an observer lost because its queue was full.",
            |o| o.dropped,
        ),
        (
            "rtmp_event_observer_queued",
            "gauge",
            "Events waiting for an observer.",
            |o| o.queued as u64,
        ),
    ];
    for (name, kind, help, value) in per_observer {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for o in observers {
            let _ = writeln!(out, "{name}{{observer=\"{}\"}} {}", o.name, value(o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_by_kind_and_rendered_with_observer_drops() {
        let counts = EventCounts::new();
        let mut observer = EventCountsObserver(Arc::clone(&counts));
        for conn_id in 0..3 {
            observer.on_event(&Event::Kicked {
                conn_id,
                reason: "test",
            });
        }
        observer.on_event(&Event::RecordingFailed {
            name: crate::events::StreamName::new("live", "cam"),
            path: None,
            error: "x".into(),
        });
        assert_eq!(counts.counts(), vec![("kicked", 3), ("recording_failed", 1)]);
        let mut out = String::new();
        let stats = [ObserverStats {
            name: "hook",
            dropped: 2,
            queued: 5,
        }];
        render(&counts, &stats, &mut out);
        assert!(out.contains("rtmp_events_total{kind=\"kicked\"} 3\n"), "{out}");
        assert!(
            out.contains("rtmp_event_observer_dropped_total{observer=\"hook\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("rtmp_event_observer_queued{observer=\"hook\"} 5\n"),
            "{out}"
        );
    }
}
