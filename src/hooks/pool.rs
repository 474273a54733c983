//! A hook worker pool that starts its threads at its first job: a server whose policies name
//! no hook (or only later, after a reload) runs no idle hook thread.

use super::Settings;
use crate::threads::ThreadTracker;
use crossbeam_channel::Receiver;
use std::sync::Once;
use std::time::Duration;

pub struct WorkerPool<J> {
    name: &'static str,
    count: usize,
    jobs: Receiver<J>,
    settings: Settings,
    work: fn(&Receiver<J>, &Settings),
    started: Once,
    workers: ThreadTracker,
}

impl<J: Send + 'static> WorkerPool<J> {
    /// `count` workers named `NAME-N` will each run `work` over `jobs` with a copy of `settings`.
    pub fn new(
        name: &'static str,
        count: usize,
        jobs: Receiver<J>,
        settings: Settings,
        work: fn(&Receiver<J>, &Settings),
    ) -> WorkerPool<J> {
        WorkerPool {
            name,
            count,
            jobs,
            settings,
            work,
            started: Once::new(),
            workers: ThreadTracker::new(),
        }
    }

    /// Starts the workers unless they run already; a thread that cannot start is logged.
    pub fn ensure_started(&self) {
        self.started.call_once(|| {
            for n in 0..self.count {
                let (jobs, settings, work) = (self.jobs.clone(), self.settings.clone(), self.work);
                if let Err(e) = self
                    .workers
                    .spawn(format!("{}-{n}", self.name), move || work(&jobs, &settings))
                {
                    log::warn!("hook worker not started error=\"{e}\"");
                }
            }
        });
    }

    /// Waits up to `grace` for the workers to end (after their queue closed).
    pub fn wait_idle(&self, grace: Duration) -> bool {
        self.workers.wait_idle(grace)
    }

    pub fn running(&self) -> usize {
        self.workers.running()
    }
}
