//! Notification hooks (connect, publish_done, play_done, record_done) as an event observer:
//! each event becomes one job per target on a bounded queue served by a few workers; a full
//! queue drops the job (counted, logged once per episode). Webhooks are tried again with
//! backoff up to `--hook-retries` times; programs run once. Media never waits for any of it.

use super::stats::Failure;
use super::{call, HookEvent, HookKind, Settings, Target, TargetsFor};
use crate::events::{Event, Observer};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{info, warn};
use std::time::Instant;

/// Notification jobs waiting for a worker.
pub const NOTIFY_QUEUE: usize = 256;
/// Notification jobs running at once.
pub const NOTIFY_WORKERS: usize = 4;

struct Job {
    target: Target,
    event: HookEvent,
}

pub struct NotifyObserver {
    /// The stream's targets (its policy's hooks).
    targets_for: TargetsFor,
    settings: Settings,
    queue: Option<Sender<Job>>,
    workers: super::pool::WorkerPool<Job>,
    full: bool,
}

impl NotifyObserver {
    pub fn new(targets_for: TargetsFor, settings: Settings) -> NotifyObserver {
        let (sender, receiver) = crossbeam_channel::bounded(NOTIFY_QUEUE);
        let workers = super::pool::WorkerPool::new("hook-notify", NOTIFY_WORKERS, receiver, settings.clone(), work);
        NotifyObserver {
            targets_for,
            settings,
            queue: Some(sender),
            workers,
            full: false,
        }
    }

    fn submit(&mut self, event: HookEvent) {
        let Some(queue) = &self.queue else { return };
        let options = (self.targets_for)(&event.app, &event.stream);
        let targets = options.targets(event.kind);
        if !targets.is_empty() {
            self.workers.ensure_started();
        }
        for target in targets {
            let job = Job {
                target: target.clone(),
                event: event.clone(),
            };
            match queue.try_send(job) {
                Ok(()) => self.full = false,
                Err(TrySendError::Full(job)) | Err(TrySendError::Disconnected(job)) => {
                    self.settings.stats.count(job.event.kind, "dropped");
                    if !std::mem::replace(&mut self.full, true) {
                        warn!(
                            "hook queue full, dropping notifications {} target={} queue={NOTIFY_QUEUE}",
                            job.event.label(),
                            job.target
                        );
                    }
                }
            }
        }
    }
}

/// The hook event for a domain event, if it is one hooks are told about.
pub fn hook_event(event: &Event) -> Option<HookEvent> {
    Some(match event {
        Event::Connected {
            app,
            conn_id,
            remote,
            query,
        } => {
            let mut e = HookEvent::new(HookKind::Connect, app, "", &query.0);
            e.client_addr = Some(*remote);
            e.conn_id = Some(*conn_id);
            e
        }
        Event::Unpublished { name, end } | Event::PlayStopped { name, end } => {
            let kind = match event {
                Event::Unpublished { .. } => HookKind::PublishDone,
                _ => HookKind::PlayDone,
            };
            let mut e = HookEvent::new(kind, &name.app, &name.stream, &end.query.0);
            e.client_addr = Some(end.remote);
            e.conn_id = Some(end.conn_id);
            e.duration_ms = Some(end.duration_ms);
            e.bytes = Some(end.bytes);
            e
        }
        Event::RecordingFinalized {
            name,
            path,
            duration_ms,
            bytes,
            publisher,
        } => {
            let mut e = HookEvent::new(HookKind::RecordDone, &name.app, &name.stream, &publisher.query.0);
            e.client_addr = Some(publisher.remote);
            e.conn_id = Some(publisher.conn_id);
            e.path = Some(path.clone());
            e.duration_ms = Some(u64::from(*duration_ms));
            e.bytes = Some(*bytes);
            e
        }
        Event::UploadDone { name, path, url, bytes } => {
            let mut e = HookEvent::new(HookKind::UploadDone, &name.app, &name.stream, "");
            e.path = Some(path.clone());
            e.url = Some(url.clone());
            e.bytes = Some(*bytes);
            e
        }
        _ => return None,
    })
}

impl Observer for NotifyObserver {
    fn name(&self) -> &'static str {
        "hooks"
    }

    fn on_event(&mut self, event: &Event) {
        if let Some(hook) = hook_event(event) {
            self.submit(hook);
        }
    }

    fn close(&mut self, deadline: Instant) {
        self.queue.take();
        let grace = deadline.saturating_duration_since(Instant::now());
        if !self.workers.wait_idle(grace) {
            warn!("hook notifications still running at shutdown, left behind");
        }
    }
}

fn work(jobs: &Receiver<Job>, settings: &Settings) {
    while let Ok(job) = jobs.recv() {
        notify(&job, settings);
    }
}

/// One notification: a webhook gets up to `retries` more tries with backoff.
fn notify(job: &Job, settings: &Settings) {
    let (event, target) = (&job.event, &job.target);
    let tries = match target {
        Target::Webhook(_) => settings.retries.saturating_add(1),
        Target::Program(_) => 1,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call(target, event, settings) {
            Ok(()) => {
                settings.stats.count(event.kind, "ok");
                info!("hook done {} target={target} attempt={attempt}", event.label());
                return;
            }
            Err(e) if attempt < tries => {
                let wait = super::webhook::backoff(attempt);
                warn!(
                    "hook failed, retrying {} target={target} attempt={attempt} retry_in_ms={} error=\"{e}\"",
                    event.label(),
                    wait.as_millis()
                );
                std::thread::sleep(wait);
            }
            Err(e) => {
                settings.stats.count(event.kind, "failed");
                warn!(
                    "hook failed {} target={target} attempts={attempt} error=\"{e}\"",
                    event.label()
                );
                settings.stats.fail(Failure::of(event, target, &e));
                return;
            }
        }
    }
}
