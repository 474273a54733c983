//! The most recent events, numbered, for the API (`GET /api/events?after=N`, which may wait
//! for the next one): operators and tests see what happened without reading the log.

use super::bus::Observer;
use super::event::Event;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Events kept; older ones are forgotten (a reader that fell further behind sees a gap in
/// the sequence numbers).
pub const RECENT_EVENTS: usize = 1000;
/// Longest wait a reader may ask for.
pub const MAX_EVENTS_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Ring {
    /// Sequence number of the next event (the first is 1).
    next: u64,
    events: VecDeque<(u64, Event)>,
}

/// The shared ring; the observer writes it, the API reads it.
#[derive(Debug, Default)]
pub struct RecentEvents {
    ring: Mutex<Ring>,
    arrived: Condvar,
}

impl RecentEvents {
    pub fn new() -> Arc<RecentEvents> {
        Arc::new(RecentEvents::default())
    }

    fn push(&self, event: Event) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.next += 1;
        let seq = ring.next;
        if ring.events.len() >= RECENT_EVENTS {
            ring.events.pop_front();
        }
        ring.events.push_back((seq, event));
        drop(ring);
        self.arrived.notify_all();
    }

    /// Events numbered above `after`, waiting up to `wait` (capped) for one when none is.
    pub fn after(&self, after: u64, wait: Duration) -> Vec<(u64, Event)> {
        let deadline = Instant::now() + wait.min(MAX_EVENTS_WAIT);
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let found: Vec<(u64, Event)> = ring.events.iter().filter(|(seq, _)| *seq > after).cloned().collect();
            let now = Instant::now();
            if !found.is_empty() || now >= deadline {
                return found;
            }
            ring = match self.arrived.wait_timeout(ring, deadline - now) {
                Ok((ring, _)) => ring,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// The sequence number of the newest event (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).next
    }
}

/// The observer that fills a `RecentEvents`.
pub struct RecentEventsObserver(pub Arc<RecentEvents>);

impl Observer for RecentEventsObserver {
    fn name(&self) -> &'static str {
        "recent"
    }

    fn on_event(&mut self, event: &Event) {
        self.0.push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kicked(conn_id: u64) -> Event {
        Event::Kicked {
            conn_id,
            reason: "test",
        }
    }

    #[test]
    fn readers_get_events_after_their_number_and_the_ring_is_bounded() {
        let recent = RecentEvents::new();
        for n in 0..(RECENT_EVENTS as u64 + 5) {
            recent.push(kicked(n));
        }
        assert_eq!(recent.last_seq(), RECENT_EVENTS as u64 + 5);
        let all = recent.after(0, Duration::ZERO);
        assert_eq!(all.len(), RECENT_EVENTS);
        assert_eq!(
            all.first().map(|(seq, _)| *seq),
            Some(6),
            "the oldest five are forgotten"
        );
        let tail = recent.after(RECENT_EVENTS as u64 + 3, Duration::ZERO);
        assert_eq!(
            tail,
            vec![
                (RECENT_EVENTS as u64 + 4, kicked(RECENT_EVENTS as u64 + 3)),
                (RECENT_EVENTS as u64 + 5, kicked(RECENT_EVENTS as u64 + 4))
            ]
        );
    }

    #[test]
    fn a_reader_waits_for_the_next_event() {
        let recent = RecentEvents::new();
        let writer = Arc::clone(&recent);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            writer.push(kicked(7));
        });
        let got = recent.after(0, Duration::from_secs(30));
        assert_eq!(got, vec![(1, kicked(7))]);
        thread.join().unwrap();
        assert!(
            recent.after(1, Duration::from_millis(10)).is_empty(),
            "nothing newer: waits, then empty"
        );
    }
}
