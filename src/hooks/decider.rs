//! `on_publish` / `on_play` as the decision point's later `Decider`: `decide` only queues the
//! request for a bounded pool of workers and answers `Pending`; a worker calls each target in
//! turn (all must allow: 2xx or exit 0), each bounded by `--hook-timeout`. A full queue, any
//! other status, a connection error or a timeout refuses.

use super::stats::Failure;
use super::{call, HookEvent, HookKind, Settings, Target, TargetsFor};
use crate::decision::{Action, Answer, Decider, Denial, Request, Verdict};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Receiver, Sender};
use std::time::Instant;

/// Decisions waiting for a worker; beyond this a request is refused at once.
pub const DECIDE_QUEUE: usize = 128;
/// Decisions running at once.
pub const DECIDE_WORKERS: usize = 8;

struct Job {
    targets: Vec<Target>,
    event: HookEvent,
    queued: Instant,
    answer: Sender<Answer>,
}

pub struct HookDecider {
    /// The stream's targets (its policy's `on_publish` / `on_play`).
    targets_for: TargetsFor,
    queue: Sender<Job>,
    stats: std::sync::Arc<super::stats::HookStats>,
    _workers: ThreadTracker,
}

impl HookDecider {
    pub fn new(targets_for: TargetsFor, settings: Settings) -> HookDecider {
        let (queue, jobs) = crossbeam_channel::bounded(DECIDE_QUEUE);
        let workers = super::spawn_workers("hook-decide", DECIDE_WORKERS, &jobs, &settings, work);
        HookDecider {
            targets_for,
            queue,
            stats: settings.stats,
            _workers: workers,
        }
    }
}

impl Decider for HookDecider {
    fn decide(&self, request: &Request) -> Verdict {
        let kind = match request.action {
            Action::Publish => HookKind::Publish,
            Action::Play => HookKind::Play,
        };
        let options = (self.targets_for)(&request.app, &request.stream);
        let targets = options.targets(kind);
        if targets.is_empty() {
            return Verdict::Ready(Answer::Allow);
        }
        let mut event = HookEvent::new(kind, &request.app, &request.stream, &request.query);
        event.client_addr = Some(request.remote);
        event.conn_id = request.conn_id;
        let (answer, receiver) = crossbeam_channel::bounded(1);
        let job = Job {
            targets: targets.to_vec(),
            event,
            queued: Instant::now(),
            answer,
        };
        match self.queue.try_send(job) {
            Ok(()) => Verdict::Pending(receiver),
            Err(_) => {
                self.stats.count(kind, "dropped");
                Verdict::Ready(Answer::Deny(Denial::Decider(format!(
                    "on_{} hook queue full",
                    kind.as_str()
                ))))
            }
        }
    }
}

fn work(jobs: &Receiver<Job>, settings: &Settings) {
    while let Ok(job) = jobs.recv() {
        // A request that waited in the queue past the timeout was refused already.
        if job.queued.elapsed() >= settings.timeout {
            settings.stats.count(job.event.kind, "timeout");
            continue;
        }
        let _ = job.answer.send(decide(&job.targets, &job.event, settings));
    }
}

fn decide(targets: &[Target], event: &HookEvent, settings: &Settings) -> Answer {
    for target in targets {
        if let Err(e) = call(target, event, settings) {
            let outcome = if e == super::HookError::Timeout {
                "timeout"
            } else {
                "denied"
            };
            settings.stats.count(event.kind, outcome);
            settings.stats.fail(Failure::of(event, target, &e));
            return Answer::Deny(Denial::Decider(format!(
                "on_{} hook {target}: {e}",
                event.kind.as_str()
            )));
        }
    }
    settings.stats.count(event.kind, "allowed");
    Answer::Allow
}
