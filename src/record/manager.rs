//! The recording manager, held by the server context: decides which publishes record
//! (its caller passes the stream policy's answer and settings), starts recorders, and keeps
//! recordings alive across reconnects. A publisher lost without a clean unpublish parks its
//! recorder for `--record-reconnect-gap`; publishing the same app/stream again within the
//! gap continues the same file. A reaper thread finalizes parked recordings whose gap
//! passed; `shutdown` finalizes all of them. The map lock never guards I/O (dropping a
//! recorder only closes a channel; its writer thread finalizes).

use super::options::RecordOptions;
use super::recorder::{RecordShared, Recorder, RecordingRequest};
use super::status::RecordingStatus;
use crate::events::{EventBus, Publisher};
use crate::threads::ThreadTracker;
use crossbeam_channel::{RecvTimeoutError, Sender};
use log::{info, warn};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use time::UtcOffset;

/// How often the reaper looks for parked recordings whose gap passed (at most).
pub const REAPER_TICK: Duration = Duration::from_millis(200);

type StreamName = (String, String);

#[derive(Debug)]
struct Parked {
    recorder: Recorder,
    until: Instant,
}

type ParkedMap = Arc<Mutex<HashMap<StreamName, Parked>>>;

#[derive(Debug)]
pub struct RecordManager {
    shared: Arc<RecordShared>,
    tracker: ThreadTracker,
    parked: ParkedMap,
    reaper: Mutex<Option<Sender<()>>>,
    shutting_down: AtomicBool,
    /// The latest recording of each stream, while its writer runs (for the API).
    statuses: Mutex<HashMap<StreamName, Weak<RecordingStatus>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RecordManager {
    pub fn new(
        dir: PathBuf,
        options: RecordOptions,
        local_offset: UtcOffset,
        budget: usize,
        tracker: ThreadTracker,
        events: Arc<EventBus>,
        program_for: Option<super::hook::ProgramFor>,
    ) -> Self {
        RecordManager {
            shared: Arc::new(RecordShared::new(
                dir,
                options,
                local_offset,
                budget,
                events,
                program_for,
            )),
            tracker,
            parked: Arc::new(Mutex::new(HashMap::new())),
            reaper: Mutex::new(None),
            shutting_down: AtomicBool::new(false),
            statuses: Mutex::new(HashMap::new()),
        }
    }

    pub fn shared(&self) -> &Arc<RecordShared> {
        &self.shared
    }

    /// The recorder for a new publish of app/stream: a parked one continues, else a new one
    /// starts when the stream should record; None when it should not (or cannot) record.
    /// `record`: whether the stream's policy records it; `options`: its `--record-*` settings.
    pub fn start(
        &self,
        app: &str,
        stream: &str,
        publisher: Publisher,
        record: bool,
        options: &Arc<RecordOptions>,
    ) -> Option<Recorder> {
        let conn_id = publisher.conn_id;
        if !record {
            info!("recording off for stream conn_id={conn_id} app={app} stream={stream}");
            return None;
        }
        self.open(app, stream, publisher, options)
    }

    /// A recorder regardless of patterns (recording started through the API).
    pub fn open(
        &self,
        app: &str,
        stream: &str,
        publisher: Publisher,
        options: &Arc<RecordOptions>,
    ) -> Option<Recorder> {
        let conn_id = publisher.conn_id;
        let parked = lock(&self.parked).remove(&(app.to_owned(), stream.to_owned()));
        if let Some(mut parked) = parked {
            if parked.recorder.resume(publisher.clone()) {
                info!("recording resumed after reconnect conn_id={conn_id} app={app} stream={stream}");
                return Some(parked.recorder);
            }
        }
        let status = Arc::new(RecordingStatus::default());
        {
            let mut statuses = lock(&self.statuses);
            statuses.retain(|_, s| s.strong_count() > 0);
            statuses.insert((app.to_owned(), stream.to_owned()), Arc::downgrade(&status));
        }
        let request = RecordingRequest {
            app: app.to_owned(),
            stream: stream.to_owned(),
            publisher,
            status,
            options: Arc::clone(options),
        };
        match Recorder::start(request, Arc::clone(&self.shared), &self.tracker, super::output::run) {
            Ok(recorder) => Some(recorder),
            Err(e) => {
                warn!("recording not started conn_id={conn_id} app={app} stream={stream} error=\"{e}\"");
                None
            }
        }
    }

    /// The file app/stream records to now and its flushed bytes (None when not recording).
    pub fn current_file(&self, app: &str, stream: &str) -> Option<(PathBuf, u64)> {
        let status = lock(&self.statuses)
            .get(&(app.to_owned(), stream.to_owned()))
            .and_then(Weak::upgrade)?;
        status.current()
    }

    /// A publication ended. A clean unpublish finalizes at once; a lost connection parks
    /// the recorder for the reconnect gap (if any).
    /// `gap`: the stream's `--record-reconnect-gap`.
    pub fn finish(&self, recorder: Recorder, app: &str, stream: &str, clean: bool, gap: Duration) {
        if clean || gap.is_zero() || self.shutting_down.load(Ordering::SeqCst) {
            drop(recorder);
            return;
        }
        info!(
            "recording parked for reconnect app={app} stream={stream} gap_ms={}",
            gap.as_millis()
        );
        let parked = Parked {
            recorder,
            until: Instant::now() + gap,
        };
        let previous = lock(&self.parked).insert((app.to_owned(), stream.to_owned()), parked);
        drop(previous);
        self.ensure_reaper();
    }

    /// Finalizes every parked recording; later `finish` calls finalize at once.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let parked: Vec<Parked> = lock(&self.parked).drain().map(|(_, p)| p).collect();
        drop(parked);
        lock(&self.reaper).take();
    }

    fn ensure_reaper(&self) {
        let mut reaper = lock(&self.reaper);
        if reaper.is_some() {
            return;
        }
        let (wake, sleep) = crossbeam_channel::bounded::<()>(1);
        let parked = Arc::clone(&self.parked);
        let spawned = std::thread::Builder::new()
            .name("rec-reaper".to_owned())
            .spawn(move || loop {
                match sleep.recv_timeout(REAPER_TICK) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let now = Instant::now();
                let expired: Vec<(StreamName, Parked)> = {
                    let mut map = lock(&parked);
                    let keys: Vec<StreamName> = map
                        .iter()
                        .filter(|(_, p)| p.until <= now)
                        .map(|(k, _)| k.clone())
                        .collect();
                    keys.into_iter()
                        .filter_map(|k| map.remove(&k).map(|p| (k, p)))
                        .collect()
                };
                for ((app, stream), parked) in expired {
                    info!("reconnect gap passed, finalizing recording app={app} stream={stream}");
                    drop(parked);
                }
            });
        match spawned {
            Ok(_) => *reaper = Some(wake),
            Err(e) => warn!("reconnect reaper not started error=\"{e}\""),
        }
    }
}
