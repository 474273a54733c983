//! `on_publish` / `on_play` as the decision point's later `Decider`: `decide` only queues the
//! request for a bounded pool of workers and answers `Pending`; a worker calls each target in
//! turn (all must allow: 2xx or exit 0), each bounded by `--hook-timeout`. A full queue, any
//! other status, a connection error or a timeout refuses. `close` (shutdown) stops the pool:
//! the queue closes, workers finish their call and end, waited for a bounded time.

use super::stats::Failure;
use super::{call, HookEvent, HookKind, Settings, Target, TargetsFor};
use crate::decision::{Action, Answer, Decider, Denial, Request, Verdict};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// None once closed (shutdown): later requests are refused.
    queue: Mutex<Option<Sender<Job>>>,
    stats: std::sync::Arc<super::stats::HookStats>,
    workers: super::pool::WorkerPool<Job>,
}

impl HookDecider {
    pub fn new(targets_for: TargetsFor, settings: Settings) -> HookDecider {
        let (queue, jobs) = crossbeam_channel::bounded(DECIDE_QUEUE);
        let stats = std::sync::Arc::clone(&settings.stats);
        let workers = super::pool::WorkerPool::new("hook-decide", DECIDE_WORKERS, jobs, settings, work);
        HookDecider {
            targets_for,
            queue: Mutex::new(Some(queue)),
            stats,
            workers,
        }
    }

    /// Takes no more requests and waits up to `grace` for the workers to end (one may be
    /// in a call bounded by `--hook-timeout`); true when all ended, else logged and left.
    pub fn close(&self, grace: Duration) -> bool {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        let ended = self.workers.wait_idle(grace);
        if !ended {
            log::warn!(
                "hook decisions still running at shutdown, left behind workers={}",
                self.workers.running()
            );
        }
        ended
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
        self.workers.ensure_started();
        let sent = match self.queue.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(queue) => queue.try_send(job).map_err(|_| "queue full"),
            None => Err("stopped"),
        };
        match sent {
            Ok(()) => Verdict::Pending(receiver),
            Err(why) => {
                self.stats.count(kind, "dropped");
                Verdict::Ready(Answer::Deny(Denial::Decider(format!(
                    "on_{} hook {why}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Action;
    use crate::hooks::HookOptions;
    use std::sync::Arc;

    #[test]
    fn close_stops_the_workers_and_later_requests_are_refused() {
        let options = HookOptions {
            on_publish: vec![Target::Program("true".into())],
            timeout: Duration::from_secs(5),
            ..HookOptions::default()
        };
        let settings = Settings::new(&options, std::sync::Arc::new(super::super::stats::HookStats::new()));
        let targets = Arc::new(options.clone());
        let decider = HookDecider::new(Arc::new(move |_: &str, _: &str| Arc::clone(&targets)), settings);
        let request = Request {
            action: Action::Publish,
            app: "live".into(),
            stream: "cam".into(),
            query: String::new(),
            remote: "127.0.0.1:5000".parse().unwrap(),
            conn_id: Some(1),
        };
        match decider.decide(&request) {
            Verdict::Pending(answer) => assert_eq!(answer.recv_timeout(Duration::from_secs(30)), Ok(Answer::Allow)),
            Verdict::Ready(answer) => panic!("answered at once: {answer:?}"),
        }
        assert!(decider.close(Duration::from_secs(30)), "the workers ended");
        assert_eq!(decider.workers.running(), 0);
        match decider.decide(&request) {
            Verdict::Ready(Answer::Deny(Denial::Decider(why))) => assert!(why.contains("stopped"), "{why}"),
            other => panic!("not refused: {other:?}"),
        }
    }
}
