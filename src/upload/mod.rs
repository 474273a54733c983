//! Upload of finished recordings to S3-compatible object storage (`--upload`). Every
//! finalized recording is queued durably beside the recordings (`journal`), an upload
//! thread sends the queue oldest first (`transfer`: single PUT or parallel multipart, each
//! part's MD5 checked, the object verified), retrying with backoff for as long as it takes.
//! What applies to a file (bucket, endpoint, credentials...) comes from a resolver given at
//! start (`SettingsFor`), so this module knows nothing of the policies.

pub mod journal;
pub mod options;
pub mod plan;
pub mod s3;
pub mod status;
pub mod transfer;
mod worker;

use crate::events::{Event, EventBus, Observer};
use journal::Job;
use log::{error, info, warn};
use options::UploadOptions;
use status::{now_secs, UploadStats};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The upload settings of app/stream now (None: its recordings are not uploaded).
pub type SettingsFor = Arc<dyn Fn(&str, &str) -> Option<Arc<UploadOptions>> + Send + Sync>;
/// Every distinct upload setting in force (for the start-up clean-up of multipart uploads).
pub type AllSettings = Arc<dyn Fn() -> Vec<Arc<UploadOptions>> + Send + Sync>;

#[derive(Debug, Default)]
struct State {
    jobs: BTreeMap<u64, Job>,
    last_id: u64,
    /// Set by `retry_now`: the backoff wait ends early.
    retry_now: bool,
    /// Set when a file is queued: an idle wait ends early.
    new_work: bool,
    last_error: Option<String>,
}

struct Inner {
    record_dir: PathBuf,
    queue_dir: PathBuf,
    state: Mutex<State>,
    wake: Condvar,
    settings_for: SettingsFor,
    /// Told of each upload done (`upload_done` hooks, the API's events).
    events: Arc<EventBus>,
    stats: UploadStats,
    stop: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("record_dir", &self.record_dir)
            .finish()
    }
}

/// The upload queue and its thread.
#[derive(Debug, Clone)]
pub struct Uploader {
    inner: Arc<Inner>,
}

impl Uploader {
    /// Loads the queue kept in `record_dir`, observes finalized recordings on `events` and
    /// starts the upload thread (which first aborts multipart uploads the queue does not
    /// resume, under each target's prefix).
    pub fn start(record_dir: &Path, events: &Arc<EventBus>, settings_for: SettingsFor, all: AllSettings) -> Uploader {
        let queue_dir = journal::queue_dir(record_dir);
        let (jobs, errors) = journal::load(&queue_dir);
        for (file, e) in errors {
            error!(
                "upload queue entry unreadable, left in place file={} error=\"{e}\"",
                file.display()
            );
        }
        let last_id = jobs.last().map(|j| j.id).unwrap_or(0);
        // Recordings queued when they started whose part is gone and was not repaired
        // (deleted, or repair failed and logged) have nothing to upload.
        let (stale, jobs): (Vec<Job>, Vec<Job>) = jobs
            .into_iter()
            .partition(|j| in_progress(j) && !record_dir.join(&j.path).exists());
        for job in stale {
            warn!(
                "upload: unfinished recording gone, dropped from the queue file={}",
                job.path.display()
            );
            let _ = journal::remove(&queue_dir, job.id);
        }
        if !jobs.is_empty() {
            info!("upload queue loaded files={} dir={}", jobs.len(), queue_dir.display());
        }
        let inner = Arc::new(Inner {
            record_dir: record_dir.to_path_buf(),
            queue_dir,
            state: Mutex::new(State {
                jobs: jobs.into_iter().map(|j| (j.id, j)).collect(),
                last_id,
                ..State::default()
            }),
            wake: Condvar::new(),
            settings_for,
            events: Arc::clone(events),
            stats: UploadStats::default(),
            stop: AtomicBool::new(false),
        });
        let starts = Arc::clone(&inner);
        events.observe_inline(Arc::new(move |event: &Event| {
            if let Event::RecordingStarted { name, path } = event {
                if (starts.settings_for)(&name.app, &name.stream).is_some() {
                    enqueue(&starts, path, &name.app, &name.stream);
                }
            }
        }));
        if let Err(e) = events.observe(Box::new(UploadObserver(Arc::clone(&inner)))) {
            error!("event observer not started observer=upload error=\"{e}\"");
        }
        let worker = Arc::clone(&inner);
        let spawned = std::thread::Builder::new().name("upload".to_owned()).spawn(move || {
            worker::abort_stale(&worker, &all());
            worker::run(&worker);
        });
        if let Err(e) = spawned {
            error!("upload thread not started error=\"{e}\"");
        }
        Uploader { inner }
    }

    /// Queues a finished file (a path under the record dir) now.
    pub fn enqueue(&self, path: &Path, app: &str, stream: &str) {
        enqueue(&self.inner, path, app, stream);
    }

    /// Ends any backoff wait: the next attempt starts now (call after a reload that may have
    /// fixed credentials or settings).
    pub fn retry_now(&self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.retry_now = true;
        self.inner.wake.notify_all();
    }

    /// Whether retention may delete `path`: yes unless it waits for upload; a waiting one
    /// only with `delete_unsent_when_full` (then it leaves the queue, logged as a loss).
    pub fn may_delete(&self, path: &Path) -> bool {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let relative = relative_to(&self.inner.record_dir, path);
        // Also the job of a recording just finalized whose event the queue has not seen yet.
        let part = PathBuf::from(format!("{}{PART_SUFFIX}", relative.display()));
        let Some(job) = state
            .jobs
            .values()
            .find(|j| j.path == relative || j.path == part)
            .cloned()
        else {
            return true;
        };
        let allowed = (self.inner.settings_for)(&job.app, &job.stream).is_some_and(|o| o.delete_unsent_when_full);
        if allowed {
            warn!(
                "upload: deleting a file never uploaded to make room file={} bytes={}",
                path.display(),
                job.bytes
            );
            state.jobs.remove(&job.id);
            let _ = journal::remove(&self.inner.queue_dir, job.id);
            self.inner.stats.lost_files.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// The queued files, oldest first.
    pub fn queue(&self) -> Vec<Job> {
        let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.jobs.values().filter(|j| !in_progress(j)).cloned().collect()
    }

    pub fn stats(&self) -> &UploadStats {
        &self.inner.stats
    }

    /// `GET /api/uploads`.
    pub fn to_json(&self) -> serde_json::Value {
        let last_error = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_error
            .clone();
        status::to_json(&self.queue(), &self.inner.stats, last_error.as_deref())
    }

    /// The upload metrics in Prometheus text.
    pub fn render_metrics(&self, out: &mut String) {
        let queue = self.queue();
        let oldest = queue.iter().map(|j| j.queued_at).min();
        let age = oldest.map(|t| now_secs().saturating_sub(t)).unwrap_or(0);
        status::render_metrics(out, &queue, age, &self.inner.stats);
    }

    /// Stops the thread after its current attempt.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake.notify_all();
    }
}

/// Whether retention may delete files at start-up, before the uploader runs: not those in
/// the queue kept in `record_dir`, unless `delete_unsent` (each such loss logged).
pub fn may_delete_at_start(record_dir: &Path, delete_unsent: bool) -> impl Fn(&Path) -> bool {
    let queue_dir = journal::queue_dir(record_dir);
    let record_dir = record_dir.to_path_buf();
    move |path: &Path| {
        let relative = relative_to(&record_dir, path);
        let (jobs, _) = journal::load(&queue_dir);
        let Some(job) = jobs.into_iter().find(|j| j.path == relative) else {
            return true;
        };
        if delete_unsent {
            warn!(
                "upload: deleting a file never uploaded to make room file={}",
                path.display()
            );
            let _ = journal::remove(&queue_dir, job.id);
        }
        delete_unsent
    }
}

/// Queues the files start-up repair finalized (each `(part, done)`), before the uploader
/// runs: the job of a recording queued when it started now names its final file; a part
/// without one gets a new job (its stream unknown: the top level's settings apply).
pub fn enqueue_offline(record_dir: &Path, recovered: &[(PathBuf, PathBuf)]) {
    let queue_dir = journal::queue_dir(record_dir);
    let jobs = journal::load(&queue_dir).0;
    let mut last = jobs.last().map(|j| j.id).unwrap_or(0);
    for (part, done) in recovered {
        let part = relative_to(record_dir, part);
        let job = match jobs.iter().find(|j| j.path == part) {
            Some(job) => Job {
                path: relative_to(record_dir, done),
                bytes: std::fs::metadata(done).map(|m| m.len()).unwrap_or(0),
                ..job.clone()
            },
            None => {
                last = journal::next_id(last);
                new_job(last, record_dir, done, "", "")
            }
        };
        if let Err(e) = journal::save(&queue_dir, &job) {
            error!("upload: file not queued file={} error=\"{e}\"", done.display());
        }
    }
}

/// Whether a job is for a recording still being written (queued when it started, so that a
/// crash before its end cannot leave its file out of the queue).
fn in_progress(job: &Job) -> bool {
    job.path.to_str().is_some_and(|p| p.ends_with(PART_SUFFIX))
}

const PART_SUFFIX: &str = ".part";

fn relative_to(record_dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(record_dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn new_job(id: u64, record_dir: &Path, path: &Path, app: &str, stream: &str) -> Job {
    Job {
        id,
        path: relative_to(record_dir, path),
        app: app.to_owned(),
        stream: stream.to_owned(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        queued_at: now_secs(),
        multipart: None,
    }
}

fn enqueue(inner: &Inner, path: &Path, app: &str, stream: &str) {
    let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    state.last_id = journal::next_id(state.last_id);
    let job = new_job(state.last_id, &inner.record_dir, path, app, stream);
    if let Err(e) = journal::save(&inner.queue_dir, &job) {
        error!("upload: file not queued file={} error=\"{e}\"", path.display());
        return;
    }
    if in_progress(&job) {
        log::debug!("upload: recording queued at its start file={}", path.display());
    } else {
        info!("upload queued file={} bytes={}", path.display(), job.bytes);
    }
    state.jobs.insert(job.id, job);
    state.new_work = true;
    inner.wake.notify_all();
}

/// The extension of a job's file once finalized (`x.flv.part`: `flv`).
fn final_extension(path: &Path) -> Option<std::ffi::OsString> {
    let name = path.to_string_lossy();
    Path::new(name.trim_end_matches(PART_SUFFIX))
        .extension()
        .map(|e| e.to_os_string())
}

/// A recording ended as `path`: the job queued when it started now names it (the same
/// part, else the oldest unfinished one of the stream with its extension); else a new job.
fn finalized(inner: &Inner, path: &Path, app: &str, stream: &str) {
    let relative = relative_to(&inner.record_dir, path);
    let extension = final_extension(&relative);
    let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    let part = PathBuf::from(format!("{}{PART_SUFFIX}", relative.display()));
    let same_stream = |j: &&Job| in_progress(j) && j.app == app && j.stream == stream;
    let found = state.jobs.values().find(|j| j.path == part).map(|j| j.id).or_else(|| {
        state
            .jobs
            .values()
            .filter(same_stream)
            .find(|j| final_extension(&j.path) == extension)
            .map(|j| j.id)
    });
    let Some(mut job) = found.and_then(|id| state.jobs.get(&id).cloned()) else {
        drop(state);
        if (inner.settings_for)(app, stream).is_some() {
            enqueue(inner, path, app, stream);
        }
        return;
    };
    job.path = relative;
    job.bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    job.queued_at = now_secs();
    if let Err(e) = journal::save(&inner.queue_dir, &job) {
        error!("upload: file not queued file={} error=\"{e}\"", path.display());
        return;
    }
    info!("upload queued file={} bytes={}", path.display(), job.bytes);
    state.jobs.insert(job.id, job);
    state.new_work = true;
    inner.wake.notify_all();
}

/// Names the file of a recording queued when it started (inline, see `start`) once it is
/// finalized, and drops it when it failed.
struct UploadObserver(Arc<Inner>);

impl Observer for UploadObserver {
    fn name(&self) -> &'static str {
        "upload"
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::RecordingFinalized { name, path, .. } => finalized(&self.0, path, &name.app, &name.stream),
            Event::RecordingFailed { path: Some(part), .. } => {
                let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
                let relative = relative_to(&self.0.record_dir, part);
                if let Some(id) = state.jobs.values().find(|j| j.path == relative).map(|j| j.id) {
                    state.jobs.remove(&id);
                    let _ = journal::remove(&self.0.queue_dir, id);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
