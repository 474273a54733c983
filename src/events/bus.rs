//! The event bus: `emit` hands each event to every observer through that observer's own
//! bounded queue, read by a thread of its own, so an observer that is slow or stuck (a hook,
//! a webhook) never holds up a connection, a recording or another observer. A full queue
//! drops the event for that observer only; the drop is counted and logged once per episode.
//! Inline observers (rare, short: the upload queue's journal of a starting recording) run on
//! the emitter's thread first.

use super::event::Event;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use log::{info, warn};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events that may wait for one observer; when full, new events are dropped for it (counted
/// in `dropped`, logged once until it catches up).
pub const OBSERVER_QUEUE: usize = 1024;
/// Stack of an observer's thread (observers do small work or hand it to their own workers).
const OBSERVER_STACK_SIZE: usize = 256 * 1024;

/// Something that reacts to events, on a thread of its own.
pub trait Observer: Send + 'static {
    /// A short name for logs, thread names and metrics labels.
    fn name(&self) -> &'static str;
    fn on_event(&mut self, event: &Event);
    /// The bus is closing: finish in-flight work, within `deadline` where possible.
    fn close(&mut self, _deadline: Instant) {}
}

/// One observer's queue and its drop accounting.
#[derive(Debug)]
struct ObserverQueue {
    name: &'static str,
    sender: Sender<Event>,
    dropped: Arc<AtomicU64>,
    full: AtomicBool,
}

/// Every observer's drop count, for /metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverStats {
    pub name: &'static str,
    pub dropped: u64,
    pub queued: usize,
}

/// Work that must be done before `emit` returns, on the emitter's thread (the upload queue
/// records a recording as it starts, so that no crash can leave the file out). Keep it short.
pub type InlineObserver = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Default)]
struct InlineObservers(RwLock<Vec<InlineObserver>>);

impl std::fmt::Debug for InlineObservers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InlineObservers")
    }
}

#[derive(Debug, Default)]
pub struct EventBus {
    inline: InlineObservers,
    observers: RwLock<Vec<ObserverQueue>>,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl EventBus {
    pub fn new() -> EventBus {
        EventBus::default()
    }

    /// Adds an observer and starts its thread. It sees the events emitted from now on.
    pub fn observe(&self, observer: Box<dyn Observer>) -> std::io::Result<()> {
        let name = observer.name();
        // Unbounded in the type, bounded by `offer` (OBSERVER_QUEUE): a bounded channel
        // would allocate every slot up front, for every observer.
        let (sender, receiver) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name(format!("events-{name}"))
            .stack_size(OBSERVER_STACK_SIZE)
            .spawn(move || run_observer(observer, receiver))?;
        self.threads.lock().unwrap_or_else(|e| e.into_inner()).push(thread);
        self.observers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(ObserverQueue {
                name,
                sender,
                dropped: Arc::new(AtomicU64::new(0)),
                full: AtomicBool::new(false),
            });
        Ok(())
    }

    /// Adds work run on the emitter's thread for each event, before the queued observers.
    pub fn observe_inline(&self, observer: InlineObserver) {
        self.inline.0.write().unwrap_or_else(|e| e.into_inner()).push(observer);
    }

    /// Runs the inline observers, then hands `event` to every queued observer; the queued
    /// ones never block.
    pub fn emit(&self, event: Event) {
        for inline in self.inline.0.read().unwrap_or_else(|e| e.into_inner()).iter() {
            inline(&event);
        }
        let observers = self.observers.read().unwrap_or_else(|e| e.into_inner());
        let Some((last, others)) = observers.split_last() else {
            return;
        };
        for observer in others {
            observer.offer(event.clone());
        }
        last.offer(event);
    }

    /// Each observer's dropped and queued events.
    pub fn stats(&self) -> Vec<ObserverStats> {
        let observers = self.observers.read().unwrap_or_else(|e| e.into_inner());
        observers
            .iter()
            .map(|o| ObserverStats {
                name: o.name,
                dropped: o.dropped.load(Ordering::Relaxed),
                queued: o.sender.len(),
            })
            .collect()
    }

    /// Closes every queue and waits (until `deadline`) for the observers to handle what
    /// they hold and finish. Events emitted afterwards go nowhere. True if all finished.
    pub fn close(&self, deadline: Instant) -> bool {
        self.observers.write().unwrap_or_else(|e| e.into_inner()).clear();
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        crate::threads::join_until(threads, deadline)
    }
}

impl ObserverQueue {
    fn offer(&self, event: Event) {
        // Emitters racing past the check can exceed the bound by at most their number.
        let sent = if self.sender.len() >= OBSERVER_QUEUE {
            Err(TrySendError::Full(event))
        } else {
            self.sender.try_send(event)
        };
        match sent {
            Ok(()) => {
                if self.full.swap(false, Ordering::Relaxed) {
                    info!("event observer caught up observer={}", self.name);
                }
            }
            Err(TrySendError::Full(event)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.full.swap(true, Ordering::Relaxed) {
                    warn!(
                        "event observer behind, dropping its events observer={} queue={OBSERVER_QUEUE} kind={}",
                        self.name,
                        event.kind()
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How long an observer's thread waits before checking on nothing in particular: it only
/// ends when its queue is closed and drained.
const OBSERVER_IDLE_WAIT: Duration = Duration::from_secs(3600);
/// Time an observer gets to finish in-flight work once its queue is closed.
pub const OBSERVER_CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long server shutdown waits for observers to handle the events they hold.
pub const EVENTS_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn run_observer(mut observer: Box<dyn Observer>, events: Receiver<Event>) {
    loop {
        match events.recv_timeout(OBSERVER_IDLE_WAIT) {
            Ok(event) => observer.on_event(&event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    observer.close(Instant::now() + OBSERVER_CLOSE_GRACE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::event::StreamName;
    use std::sync::Mutex;

    struct Collect(Arc<Mutex<Vec<&'static str>>>);

    impl Observer for Collect {
        fn name(&self) -> &'static str {
            "collect"
        }
        fn on_event(&mut self, event: &Event) {
            self.0.lock().unwrap().push(event.kind());
        }
    }

    /// Blocks on its first event until released: a stuck observer.
    struct Stuck(Receiver<()>);

    impl Observer for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn on_event(&mut self, _event: &Event) {
            let _ = self.0.recv();
        }
    }

    fn kicked() -> Event {
        Event::Kicked {
            conn_id: 1,
            reason: "test",
        }
    }

    #[test]
    fn every_observer_gets_every_event_in_order() {
        let bus = EventBus::new();
        let (a, b) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        bus.observe(Box::new(Collect(Arc::clone(&a)))).unwrap();
        bus.observe(Box::new(Collect(Arc::clone(&b)))).unwrap();
        bus.emit(kicked());
        bus.emit(Event::RecordingStarted {
            name: StreamName::new("live", "cam"),
            path: "x.flv.part".into(),
        });
        assert!(bus.close(Instant::now() + Duration::from_secs(30)));
        for seen in [a, b] {
            assert_eq!(*seen.lock().unwrap(), vec!["kicked", "recording_started"]);
        }
    }

    #[test]
    fn a_stuck_observer_loses_its_own_events_only_and_never_blocks_emit() {
        let bus = EventBus::new();
        let (release, stuck) = crossbeam_channel::bounded(0);
        bus.observe(Box::new(Stuck(stuck))).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        bus.observe(Box::new(Collect(Arc::clone(&seen)))).unwrap();
        let extra = 10;
        bus.emit(kicked());
        let deadline = Instant::now() + Duration::from_secs(30);
        while bus.stats()[0].queued > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..OBSERVER_QUEUE + extra {
            bus.emit(kicked());
        }
        let stats = bus.stats();
        assert_eq!(stats[0].name, "stuck");
        assert_eq!(stats[0].dropped, extra as u64, "the stuck one holds 1 + a full queue");
        drop(release);
        assert!(bus.close(Instant::now() + Duration::from_secs(30)));
        // The other observer lost only what its own queue could not hold.
        let collected = seen.lock().unwrap().len() as u64;
        assert_eq!(collected + stats[1].dropped, (OBSERVER_QUEUE + 1 + extra) as u64);
        assert!(collected >= OBSERVER_QUEUE as u64);
    }

    #[test]
    fn events_after_close_go_nowhere() {
        let bus = EventBus::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        bus.observe(Box::new(Collect(Arc::clone(&seen)))).unwrap();
        assert!(bus.close(Instant::now() + Duration::from_secs(30)));
        bus.emit(kicked());
        assert!(seen.lock().unwrap().is_empty());
    }
}
