//! The recorder handle: what a connection thread holds to feed one recording. Frames go to
//! the recording's writer thread (`output`) over a channel bounded in items and bytes. Nothing recorded is lost
//! to a burst: when the writer is behind by the byte budget (the disk is slower than a
//! publisher sending at full speed) the publisher waits for room, like nginx-rtmp blocks,
//! but at most [`RECORD_BACKPRESSURE_MAX`]; if that passes (a hung or far too slow disk),
//! frames are dropped (logged) until the next keyframe and the publisher is not held again
//! for [`RECORD_BACKPRESSURE_COOLDOWN`], so a bad disk never stalls the live relay for long. Dropping the handle ends the recording: the
//! writer drains, finalizes the open file and exits. A parked handle (publisher lost
//! without unpublish) can be given to the reconnecting publisher with `resume`.

use super::hook::{FinishedFile, HookLimits, HookObserver, HookRunner};
use super::options::RecordOptions;
use super::retention;
use super::status::{RecordCounters, RecordingStatus};
use crate::events::{Event, EventBus, Publisher, StreamName};
use crate::media::{Frame, FrameKind};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Receiver, Sender};
use log::warn;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use time::UtcOffset;

/// Most messages waiting in one recorder's channel (the byte budget usually binds first).
pub const RECORD_QUEUE_FRAMES: usize = 16 * 1024;

/// Longest a publisher waits for room in its recording's queue before frames are dropped.
pub const RECORD_BACKPRESSURE_MAX: Duration = Duration::from_secs(3);
/// After a wait for room timed out, the publisher is not held again for this long.
pub const RECORD_BACKPRESSURE_COOLDOWN: Duration = Duration::from_secs(30);
/// A waiting publisher re-checks the queue at least this often (belt and braces).
const ROOM_POLL: Duration = Duration::from_millis(50);

/// A publisher that had to wait for room resumes once the queue is down to this share of
/// the budget (in quarters), so it and the writer do not wake each other for every frame.
const RESUME_QUARTERS: usize = 3;

/// Bytes of frames queued for one writer, and the wake-up of a publisher waiting for room.
#[derive(Debug, Default)]
pub struct QueueRoom {
    bytes: AtomicUsize,
    /// A waiting publisher is woken when the queue is down to this many bytes.
    resume_at: usize,
    waiting: AtomicBool,
    lock: Mutex<()>,
    freed: Condvar,
}

impl QueueRoom {
    fn new(budget: usize) -> Self {
        QueueRoom {
            resume_at: budget / 4 * RESUME_QUARTERS,
            ..QueueRoom::default()
        }
    }

    fn queued(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    fn add(&self, n: usize) {
        self.bytes.fetch_add(n, Ordering::SeqCst);
    }

    /// The writer took `n` bytes off the queue: wakes a publisher waiting for room.
    pub fn release(&self, n: usize) {
        let left = self.bytes.fetch_sub(n, Ordering::SeqCst).saturating_sub(n);
        if left <= self.resume_at && self.waiting.load(Ordering::SeqCst) {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.freed.notify_all();
        }
    }

    /// Waits until `n` more bytes fit under `budget`, and once it has to wait, until the
    /// queue is down to `resume_at`; false if `deadline` passed first.
    fn wait_for_room(&self, n: usize, budget: usize, deadline: Instant) -> bool {
        if self.queued().saturating_add(n) <= budget {
            return true;
        }
        let fits = || {
            let queued = self.queued();
            queued <= self.resume_at && queued.saturating_add(n) <= budget
        };
        // Flag first, then check under the lock: a release after the check finds the flag
        // and notifies under the same lock, so the wake-up is never lost.
        self.waiting.store(true, Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let room = loop {
            if fits() {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            guard = match self.freed.wait_timeout(guard, (deadline - now).min(ROOM_POLL)) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        };
        drop(guard);
        self.waiting.store(false, Ordering::SeqCst);
        room
    }
}

/// What every recording shares: where files go and the recording options.
#[derive(Debug)]
pub struct RecordShared {
    pub dir: PathBuf,
    pub options: RecordOptions,
    pub local_offset: UtcOffset,
    /// Bytes of frames that may wait for one writer.
    pub budget: usize,
    /// Serializes retention passes.
    retention_lock: Arc<Mutex<()>>,
    /// Files open, finalized and failed (for /metrics).
    pub counters: RecordCounters,
    /// The `--on-record-done` pool, when a hook is configured; it observes
    /// `RecordingFinalized` events (see `hook::HookObserver`).
    pub hooks: Option<Arc<HookRunner>>,
    /// Told when files start, are finalized or fail.
    pub events: Arc<EventBus>,
    /// Set when uploads run: retention keeps what it refuses.
    pub delete_guard: std::sync::OnceLock<retention::DeleteGuard>,
}

impl RecordShared {
    pub fn new(
        dir: PathBuf,
        options: RecordOptions,
        local_offset: UtcOffset,
        budget: usize,
        events: Arc<EventBus>,
        program_for: Option<super::hook::ProgramFor>,
    ) -> Self {
        // With per-stream programs (`program_for`) the pool runs whichever a stream has.
        let hooks = program_for.as_ref().map(|_| {
            Arc::new(HookRunner::new(
                options.on_record_done.clone().unwrap_or_default(),
                options.on_record_done_timeout,
                HookLimits::default(),
            ))
        });
        if let (Some(hooks), Some(program_for)) = (&hooks, program_for) {
            let observer = HookObserver {
                runner: Arc::clone(hooks),
                program_for,
            };
            if let Err(e) = events.observe(Box::new(observer)) {
                log::error!("event observer not started observer=record_hook error=\"{e}\"");
            }
        }
        RecordShared {
            hooks,
            events,
            dir,
            options,
            local_offset,
            budget,
            retention_lock: Arc::new(Mutex::new(())),
            counters: RecordCounters::default(),
            delete_guard: std::sync::OnceLock::new(),
        }
    }

    /// Runs after every finalized file: tells the observers (the hook among them), then
    /// starts a retention pass (off-thread).
    pub fn after_finalize(&self, file: FinishedFile) {
        self.events.emit(Event::RecordingFinalized {
            name: StreamName::new(&file.app, &file.stream),
            path: file.path,
            duration_ms: file.duration_ms,
            bytes: file.bytes,
            publisher: file.publisher,
        });
        self.run_retention();
    }

    /// At shutdown, after the last file was finalized: hooks get `grace` to end (see
    /// `HookRunner::shutdown`). True when none is left.
    pub fn finish_hooks(&self, grace: std::time::Duration) -> bool {
        self.hooks.as_ref().is_none_or(|hooks| hooks.shutdown(grace))
    }

    /// Starts a retention pass on its own thread when retention is configured.
    pub fn run_retention(&self) {
        let max_total = self.options.retention_max;
        let max_age = self
            .options
            .retention_days
            .map(|d| std::time::Duration::from_secs(u64::from(d) * 86_400));
        if max_total.is_none() && max_age.is_none() {
            return;
        }
        let lock = Arc::clone(&self.retention_lock);
        let dir = self.dir.clone();
        let guard = self.delete_guard.get().cloned();
        let spawned = std::thread::Builder::new().name("retention".to_owned()).spawn(move || {
            let _pass = lock.lock().unwrap_or_else(|e| e.into_inner());
            retention::enforce_guarded(&dir, max_total, max_age, guard.as_ref());
        });
        if let Err(e) = spawned {
            warn!("retention pass not started error=\"{e}\"");
        }
    }
}

/// Messages to a writer thread.
#[derive(Debug)]
pub enum RecordMsg {
    Frame(Frame),
    /// A publisher reconnected within the gap (for the log and the record_done hooks).
    Resume {
        publisher: Publisher,
    },
}

/// What a recording is of.
#[derive(Debug, Clone)]
pub struct RecordingRequest {
    pub app: String,
    pub stream: String,
    pub publisher: Publisher,
    /// The file being written and its bytes (for the API); the writer keeps it current.
    pub status: Arc<RecordingStatus>,
    /// This recording's `--record-*` settings (its stream's policy); the shared options
    /// keep the server-wide ones (free space, retention).
    pub options: Arc<RecordOptions>,
}

/// Waits until fewer than [`RECORD_QUEUE_FRAMES`] messages are queued; false if `deadline`
/// passed first. (The item count only binds for streams of tiny frames; the byte budget
/// and its condition variable handle the rest.)
fn wait_for_slot(sender: &Sender<RecordMsg>, deadline: Instant) -> bool {
    loop {
        if sender.len() < RECORD_QUEUE_FRAMES {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(ROOM_POLL));
    }
}

/// The writer thread's body (`output::run`, handed in by the manager, so this handle does
/// not depend on the writer).
pub type WriterFn = fn(RecordingRequest, Arc<RecordShared>, Receiver<RecordMsg>, Arc<QueueRoom>);

/// The connection thread's side of a recording.
#[derive(Debug)]
pub struct Recorder {
    sender: Sender<RecordMsg>,
    room: Arc<QueueRoom>,
    budget: usize,
    /// No waiting for room before this (a wait timed out recently).
    no_wait_until: Option<Instant>,
    dropping: bool,
    dropped: u64,
    has_video: bool,
    label: String,
}

impl Recorder {
    /// Starts the writer thread; files are opened there, so a slow or broken disk never
    /// stalls the caller.
    pub fn start(
        request: RecordingRequest,
        shared: Arc<RecordShared>,
        tracker: &ThreadTracker,
        writer: WriterFn,
    ) -> io::Result<Recorder> {
        // Unbounded in the type, bounded by `send` (RECORD_QUEUE_FRAMES items, the byte
        // budget): a bounded channel would allocate and touch all 16 Ki slots (about 1 MiB)
        // for every recording up front.
        let (sender, receiver) = crossbeam_channel::unbounded();
        let room = Arc::new(QueueRoom::new(shared.budget));
        let label = format!(
            "app={} stream={} conn_id={}",
            request.app, request.stream, request.publisher.conn_id
        );
        let budget = shared.budget;
        let queued = Arc::clone(&room);
        let name = format!("rec-{}", request.publisher.conn_id);
        tracker.spawn(name, move || writer(request, shared, receiver, queued))?;
        Ok(Recorder {
            sender,
            room,
            budget,
            no_wait_until: None,
            dropping: false,
            dropped: 0,
            has_video: false,
            label,
        })
    }

    /// Hands the recording to a reconnected publisher; false if the writer has stopped.
    pub fn resume(&mut self, publisher: Publisher) -> bool {
        self.dropping = false;
        self.sender.try_send(RecordMsg::Resume { publisher }).is_ok()
    }

    /// Queues a frame. Returns false once the writer has stopped: the caller should drop
    /// the recorder; ingest goes on.
    pub fn send(&mut self, frame: &Frame) -> bool {
        self.has_video |= frame.kind == FrameKind::Video;
        let queued = self.room.queued();
        if self.dropping {
            let can_resume = queued <= self.budget / 2 && self.is_resume_point(frame);
            if !can_resume && !frame.sequence_header {
                self.dropped += 1;
                return true;
            }
            if can_resume {
                warn!("recording resumed {} dropped_frames={}", self.label, self.dropped);
                self.dropping = false;
            }
        } else if queued.saturating_add(frame.len()) > self.budget
            && !frame.sequence_header
            && !self.wait(|room, budget, deadline| room.wait_for_room(frame.len(), budget, deadline))
        {
            warn!(
                "recording falls behind the disk, dropping frames until a keyframe {} queued_bytes={queued} waited_ms={}",
                self.label,
                RECORD_BACKPRESSURE_MAX.as_millis()
            );
            self.dropping = true;
            self.dropped += 1;
            return true;
        }
        self.room.add(frame.len());
        let has_slot = self.sender.len() < RECORD_QUEUE_FRAMES || {
            let sender = self.sender.clone();
            self.wait(|_, _, deadline| wait_for_slot(&sender, deadline))
        };
        if !has_slot {
            self.room.release(frame.len());
            self.dropping = true;
            self.dropped += 1;
            return true;
        }
        // Only a writer that has ended refuses (the channel itself never blocks).
        self.sender.send(RecordMsg::Frame(frame.clone())).is_ok()
    }

    /// Runs a bounded wait for the writer unless one timed out recently; false on timeout.
    fn wait(&mut self, wait: impl FnOnce(&QueueRoom, usize, Instant) -> bool) -> bool {
        let now = Instant::now();
        if self.no_wait_until.is_some_and(|until| now < until) {
            return false;
        }
        let done = wait(&self.room, self.budget, now + RECORD_BACKPRESSURE_MAX);
        if !done {
            self.no_wait_until = Some(Instant::now() + RECORD_BACKPRESSURE_COOLDOWN);
        }
        done
    }

    fn is_resume_point(&self, frame: &Frame) -> bool {
        if self.has_video {
            frame.kind == FrameKind::Video && frame.keyframe
        } else {
            frame.kind == FrameKind::Audio
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_publisher_resumes_as_soon_as_the_writer_frees_room() {
        let room = Arc::new(QueueRoom::new(100));
        room.add(100);
        let writer = Arc::clone(&room);
        let (started_tx, started) = crossbeam_channel::bounded::<()>(0);
        let release = std::thread::spawn(move || {
            let _ = started.recv();
            writer.release(20); // 80 left: 15 more would fit, but 80 is above the resume mark
            writer.release(20);
        });
        started_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        assert!(
            room.wait_for_room(15, 100, deadline),
            "room appeared before the deadline"
        );
        assert!(Instant::now() < deadline);
        release.join().unwrap();
        assert_eq!(room.queued(), 60);
    }

    #[test]
    fn a_wait_for_room_ends_at_its_deadline() {
        let room = QueueRoom::new(100);
        room.add(100);
        let start = Instant::now();
        assert!(!room.wait_for_room(1, 100, start + Duration::from_millis(120)));
        assert!(start.elapsed() >= Duration::from_millis(120));
        assert!(room.wait_for_room(0, 100, start), "a fit needs no waiting");
    }

    #[test]
    fn the_item_limit_holds_a_sender_until_the_writer_takes_one() {
        let (sender, receiver) = crossbeam_channel::unbounded();
        for conn_id in 0..RECORD_QUEUE_FRAMES as u64 {
            let publisher = Publisher {
                conn_id,
                remote: "127.0.0.1:5000".parse().unwrap(),
                query: crate::events::Query::default(),
            };
            sender.send(RecordMsg::Resume { publisher }).unwrap();
        }
        let start = Instant::now();
        assert!(
            !wait_for_slot(&sender, start + Duration::from_millis(120)),
            "full: no slot"
        );
        assert!(start.elapsed() >= Duration::from_millis(120));
        let taker = std::thread::spawn(move || receiver.recv().map(|_| receiver));
        assert!(wait_for_slot(&sender, Instant::now() + Duration::from_secs(30)));
        assert_eq!(sender.len(), RECORD_QUEUE_FRAMES - 1);
        drop(taker.join().unwrap());
    }
}
