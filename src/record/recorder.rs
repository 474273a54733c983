//! The recorder handle: what a connection thread holds to feed one recording. Frames go to
//! the recording's writer thread (`output`) over a bounded channel; the connection never
//! blocks on disk: when the writer falls behind by more than the byte budget, frames are
//! dropped (logged) until the next keyframe. Dropping the handle ends the recording: the
//! writer drains, finalizes the open file and exits. A parked handle (publisher lost
//! without unpublish) can be given to the reconnecting publisher with `resume`.

use super::hook::{self, FinishedFile};
use super::options::RecordOptions;
use super::output;
use super::retention;
use super::status::{RecordCounters, RecordingStatus};
use crate::media::{Frame, FrameKind};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Sender, TrySendError};
use log::warn;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use time::UtcOffset;

/// Most messages waiting in one recorder's channel (the byte budget usually binds first).
pub const RECORD_QUEUE_FRAMES: usize = 16 * 1024;

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
}

impl RecordShared {
    pub fn new(dir: PathBuf, options: RecordOptions, local_offset: UtcOffset, budget: usize) -> Self {
        RecordShared {
            dir,
            options,
            local_offset,
            budget,
            retention_lock: Arc::new(Mutex::new(())),
            counters: RecordCounters::default(),
        }
    }

    /// Runs after every finalized file: the hook, then a retention pass (both off-thread).
    pub fn after_finalize(&self, file: &FinishedFile) {
        if let Some(program) = &self.options.on_record_done {
            hook::run(program, file);
        }
        self.run_retention();
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
        let spawned = std::thread::Builder::new().name("retention".to_owned()).spawn(move || {
            let _pass = lock.lock().unwrap_or_else(|e| e.into_inner());
            retention::enforce(&dir, max_total, max_age);
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
    /// A publisher reconnected within the gap (its connection id, for the log).
    Resume {
        conn_id: u64,
    },
}

/// What a recording is of.
#[derive(Debug, Clone)]
pub struct RecordingRequest {
    pub app: String,
    pub stream: String,
    pub conn_id: u64,
    /// The file being written and its bytes (for the API); the writer keeps it current.
    pub status: Arc<RecordingStatus>,
}

/// The connection thread's side of a recording.
#[derive(Debug)]
pub struct Recorder {
    sender: Sender<RecordMsg>,
    queued_bytes: Arc<AtomicUsize>,
    budget: usize,
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
    ) -> io::Result<Recorder> {
        let (sender, receiver) = crossbeam_channel::bounded(RECORD_QUEUE_FRAMES);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let label = format!(
            "app={} stream={} conn_id={}",
            request.app, request.stream, request.conn_id
        );
        let budget = shared.budget;
        let queued = Arc::clone(&queued_bytes);
        let name = format!("rec-{}", request.conn_id);
        tracker.spawn(name, move || output::run(request, shared, receiver, queued))?;
        Ok(Recorder {
            sender,
            queued_bytes,
            budget,
            dropping: false,
            dropped: 0,
            has_video: false,
            label,
        })
    }

    /// Hands the recording to a reconnected publisher; false if the writer has stopped.
    pub fn resume(&mut self, conn_id: u64) -> bool {
        self.dropping = false;
        self.sender.try_send(RecordMsg::Resume { conn_id }).is_ok()
    }

    /// Queues a frame. Returns false once the writer has stopped: the caller should drop
    /// the recorder; ingest goes on.
    pub fn send(&mut self, frame: &Frame) -> bool {
        self.has_video |= frame.kind == FrameKind::Video;
        let queued = self.queued_bytes.load(Ordering::Relaxed);
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
        } else if queued.saturating_add(frame.len()) > self.budget && !frame.sequence_header {
            warn!(
                "recording falls behind the disk, dropping frames until a keyframe {} queued_bytes={queued}",
                self.label
            );
            self.dropping = true;
            self.dropped += 1;
            return true;
        }
        self.queued_bytes.fetch_add(frame.len(), Ordering::Relaxed);
        match self.sender.try_send(RecordMsg::Frame(frame.clone())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                self.dropping = true;
                self.dropped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn is_resume_point(&self, frame: &Frame) -> bool {
        if self.has_video {
            frame.kind == FrameKind::Video && frame.keyframe
        } else {
            frame.kind == FrameKind::Audio
        }
    }
}
