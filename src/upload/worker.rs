//! The upload thread: at start it aborts the multipart uploads the queue does not resume,
//! then sends the queue oldest first, one file at a time, waiting out the backoff after a
//! failure (logged once per attempt, with its kind).

use super::journal::{self, Job};
use super::options::{self, UploadOptions};
use super::status::{now_secs, UploadResult};
use super::{plan, transfer, Inner};
use crate::events::Event;
use log::{error, info, warn};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the thread sleeps with nothing to do before looking again.
const IDLE_WAIT: Duration = Duration::from_secs(5);

/// At start: aborts the multipart uploads under each target's prefix that no queued job
/// resumes, so none is left dangling.
pub(super) fn abort_stale(inner: &Inner, all: &[Arc<UploadOptions>]) {
    let resumed: Vec<String> = {
        let state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .jobs
            .values()
            .filter_map(|j| j.multipart.as_ref().map(|m| m.upload_id.clone()))
            .collect()
    };
    for options in all {
        let listed = transfer::client(options).and_then(|c| Ok((c.list_uploads(&options.target.prefix)?, c)));
        match listed {
            Ok((uploads, client)) => {
                for (key, id) in uploads.into_iter().filter(|(_, id)| !resumed.contains(id)) {
                    match client.abort(&key, &id) {
                        Ok(()) => info!("upload: aborted an unfinished multipart upload key={key}"),
                        Err(e) => warn!("upload: unfinished multipart upload not aborted key={key} error=\"{e}\""),
                    }
                }
            }
            Err(e) => warn!(
                "upload: unfinished multipart uploads not checked target={} error=\"{e}\"",
                options.describe()
            ),
        }
    }
}

/// The upload thread: the oldest job whose stream uploads, until stopped.
pub(super) fn run(inner: &Inner) {
    let mut backoff = plan::Backoff::default();
    while !inner.stop.load(Ordering::SeqCst) {
        let next = {
            let state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            state
                .jobs
                .values()
                .filter(|j| !super::in_progress(j))
                .find_map(|j| (inner.settings_for)(&j.app, &j.stream).map(|o| (j.clone(), o)))
        };
        let Some((mut job, options)) = next else {
            wait(inner, IDLE_WAIT, true);
            continue;
        };
        let started = Instant::now();
        let progress = |done: &Job| {
            let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(queued) = state.jobs.get_mut(&done.id) {
                queued.multipart = done.multipart.clone();
            }
        };
        let result = transfer::transfer(&inner.record_dir, &inner.queue_dir, &mut job, &options, &progress);
        let object = format!(
            "s3://{}/{}",
            options.target.bucket,
            options::object_key(&options.target.prefix, &job.path)
        );
        let file = job.path.to_string_lossy().into_owned();
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(stored) => {
                backoff.reset();
                state.last_error = None;
                state.jobs.remove(&job.id);
                drop(state);
                if let Err(e) = journal::remove(&inner.queue_dir, job.id) {
                    warn!("upload: queue entry not removed file={file} error=\"{e}\"");
                }
                info!(
                    "upload done file={file} object={object} bytes={} etag={} ms={}",
                    stored.bytes,
                    stored.etag,
                    started.elapsed().as_millis()
                );
                inner.stats.record(UploadResult {
                    path: file,
                    object: object.clone(),
                    bytes: stored.bytes,
                    error: None,
                    at: now_secs(),
                });
                inner.events.emit(Event::UploadDone {
                    name: crate::events::StreamName::new(&job.app, &job.stream),
                    path: inner.record_dir.join(&job.path),
                    url: object,
                    bytes: stored.bytes,
                });
                if options.delete {
                    let local = inner.record_dir.join(&job.path);
                    match std::fs::remove_file(&local) {
                        Ok(()) => info!("upload: local file deleted after upload file={}", local.display()),
                        Err(e) => warn!("upload: local file not deleted file={} error=\"{e}\"", local.display()),
                    }
                }
            }
            Err(transfer::TransferError::Missing) => {
                state.jobs.remove(&job.id);
                drop(state);
                let _ = journal::remove(&inner.queue_dir, job.id);
                error!("upload: file gone before upload, dropped from the queue file={file}");
                inner
                    .stats
                    .record(failure(&file, &object, job.bytes, "missing", "the local file is gone"));
            }
            Err(e) => {
                // Keep the multipart progress made in this attempt.
                if let Some(queued) = state.jobs.get_mut(&job.id) {
                    *queued = job.clone();
                }
                let delay = backoff.fail();
                let message = e.to_string();
                state.last_error = Some(format!("{}: {message}", e.kind()));
                drop(state);
                error!(
                    "upload failed, retrying file={file} target={} kind={} retry_in_s={} error=\"{message}\"",
                    options.describe(),
                    e.kind(),
                    delay.as_secs()
                );
                inner
                    .stats
                    .record(failure(&file, &object, job.bytes, e.kind(), &message));
                wait(inner, delay, false);
            }
        }
    }
}

fn failure(file: &str, object: &str, bytes: u64, kind: &'static str, message: &str) -> UploadResult {
    UploadResult {
        path: file.to_owned(),
        object: object.to_owned(),
        bytes,
        error: Some((kind, message.to_owned())),
        at: now_secs(),
    }
}

/// Waits up to `delay`, or until `retry_now` or `stop` (or a newly queued file when
/// `idle`: a backoff wait is not cut short by new files).
fn wait(inner: &Inner, delay: Duration, idle: bool) {
    let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + delay;
    loop {
        if state.retry_now || (idle && state.new_work) || inner.stop.load(Ordering::SeqCst) {
            state.retry_now = false;
            state.new_work = false;
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        state = match inner.wake.wait_timeout(state, deadline - now) {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        };
    }
}
