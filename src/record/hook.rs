//! `--on-record-done PROGRAM`: after each finalized file, runs PROGRAM (no shell) with the
//! file's path as its only argument and RTMP_RECORD_PATH, RTMP_APP, RTMP_STREAM,
//! RTMP_DURATION_MS, RTMP_BYTES (and the hooks' RTMP_EVENT, RTMP_QUERY, RTMP_CLIENT_ADDR,
//! RTMP_CONN_ID of the publisher) in its environment (`hook_program` runs one). The writer only
//! queues the file: at most [`MAX_RUNNING_HOOKS`] hooks run at once on worker threads, up to
//! [`HOOK_QUEUE_LEN`] more wait their turn, and a file due while the queue is full gets no
//! hook (logged and counted, the writer never waits). A hook running past
//! `--on-record-done-timeout` is killed (logged). At shutdown hooks get
//! [`HOOK_SHUTDOWN_GRACE`]; what still runs then is logged and left running.

pub use super::hook_program::FinishedFile;
use super::hook_program::{self, HookOutcome};
use crate::events::{Event, Observer};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{info, warn};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Default `--on-record-done-timeout`: a hook still running after this is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Most hooks running at once; more wait in the queue.
pub const MAX_RUNNING_HOOKS: usize = 4;
/// Most finished files waiting for a hook slot. When full, a newly finished file gets no
/// hook: a warning names it and `rtmp_record_hooks_dropped_total` counts it.
pub const HOOK_QUEUE_LEN: usize = 64;
/// At shutdown, running and queued hooks get this long; then what still runs is logged
/// (and left running) and what has not started is logged as not run.
pub const HOOK_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How many hooks may run and wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookLimits {
    pub max_running: usize,
    pub queue_len: usize,
}

impl Default for HookLimits {
    fn default() -> Self {
        HookLimits {
            max_running: MAX_RUNNING_HOOKS,
            queue_len: HOOK_QUEUE_LEN,
        }
    }
}

/// The hooks at one moment (for /metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookCounts {
    pub running: u64,
    pub queued: u64,
    /// Files that got no hook because the queue was full.
    pub dropped: u64,
    /// Hooks killed at their timeout.
    pub timed_out: u64,
}

/// A hook in flight, for the shutdown log.
#[derive(Debug)]
struct Running {
    file: PathBuf,
    pid: u32,
    started: Instant,
}

#[derive(Debug, Default)]
struct HookState {
    running: Mutex<HashMap<u64, Running>>,
    next_id: AtomicU64,
    dropped: AtomicU64,
    timed_out: AtomicU64,
    /// Set when the shutdown grace passed: queued hooks are no longer started.
    abandoned: AtomicBool,
}

impl HookState {
    fn running(&self) -> MutexGuard<'_, HashMap<u64, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `--on-record-done` program of a stream (its policy's), if it has one.
pub type ProgramFor = Arc<dyn Fn(&str, &str) -> Option<PathBuf> + Send + Sync>;

/// The hook as an event observer: each finalized recording of a stream that has a program
/// is submitted to the pool.
pub struct HookObserver {
    pub runner: Arc<HookRunner>,
    pub program_for: ProgramFor,
}

impl Observer for HookObserver {
    fn name(&self) -> &'static str {
        "record_hook"
    }

    fn on_event(&mut self, event: &Event) {
        if let Event::RecordingFinalized {
            name,
            path,
            duration_ms,
            bytes,
            publisher,
        } = event
        {
            let Some(program) = (self.program_for)(&name.app, &name.stream) else {
                return;
            };
            self.runner.submit(FinishedFile {
                path: path.clone(),
                app: name.app.clone(),
                stream: name.stream.clone(),
                duration_ms: *duration_ms,
                bytes: *bytes,
                program: Some(program),
                publisher: publisher.clone(),
            });
        }
    }
}

/// Runs the hook for finished files on a bounded pool of worker threads.
#[derive(Debug)]
pub struct HookRunner {
    program: PathBuf,
    queue: Mutex<Option<Sender<FinishedFile>>>,
    pending: Receiver<FinishedFile>,
    state: Arc<HookState>,
    workers: ThreadTracker,
}

impl HookRunner {
    /// Starts the worker threads for `program` (already resolved, see `hook_program`).
    pub fn new(program: PathBuf, timeout: Duration, limits: HookLimits) -> HookRunner {
        let (sender, pending) = crossbeam_channel::bounded(limits.queue_len);
        let runner = HookRunner {
            program,
            queue: Mutex::new(Some(sender)),
            pending,
            state: Arc::new(HookState::default()),
            workers: ThreadTracker::new(),
        };
        for n in 0..limits.max_running.max(1) {
            let pending = runner.pending.clone();
            let state = Arc::clone(&runner.state);
            let program = runner.program.clone();
            let spawned = runner.workers.spawn(format!("record-hook-{n}"), move || {
                work(&program, timeout, &pending, &state)
            });
            if let Err(e) = spawned {
                warn!("record hook worker not started error=\"{e}\"");
            }
        }
        runner
    }

    /// Queues the hook for `file`; never waits. A full queue (or a runner shutting down)
    /// means no hook for this file, logged and counted.
    pub fn submit(&self, file: FinishedFile) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = queue.as_ref() else {
            warn!("record hook not run, shutting down file={}", file.path.display());
            return;
        };
        match sender.try_send(file) {
            Ok(()) => {}
            Err(TrySendError::Full(file)) => {
                self.state.dropped.fetch_add(1, Ordering::Relaxed);
                warn!(
                    "record hook not run, queue full program={} file={} queued={}",
                    self.program.display(),
                    file.path.display(),
                    self.pending.len()
                );
            }
            Err(TrySendError::Disconnected(file)) => {
                warn!("record hook not run, no worker file={}", file.path.display());
            }
        }
    }

    pub fn counts(&self) -> HookCounts {
        HookCounts {
            running: self.state.running().len() as u64,
            queued: self.pending.len() as u64,
            dropped: self.state.dropped.load(Ordering::Relaxed),
            timed_out: self.state.timed_out.load(Ordering::Relaxed),
        }
    }

    /// Takes no more files and gives running and queued hooks up to `grace`. Returns true
    /// when all ended; otherwise logs each hook still running (left running) and each file
    /// whose hook never started.
    pub fn shutdown(&self, grace: Duration) -> bool {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if self.workers.wait_idle(grace) {
            return true;
        }
        self.state.abandoned.store(true, Ordering::SeqCst);
        while let Ok(file) = self.pending.try_recv() {
            warn!("record hook not run at shutdown file={}", file.path.display());
        }
        for hook in self.state.running().values() {
            warn!(
                "record hook still running at shutdown, left running program={} file={} pid={} running_s={:.1}",
                self.program.display(),
                hook.file.display(),
                hook.pid,
                hook.started.elapsed().as_secs_f64()
            );
        }
        false
    }
}

/// A worker: runs queued hooks one at a time until the queue closes.
fn work(program: &Path, timeout: Duration, pending: &Receiver<FinishedFile>, state: &HookState) {
    while let Ok(file) = pending.recv() {
        if state.abandoned.load(Ordering::SeqCst) {
            warn!("record hook not run at shutdown file={}", file.path.display());
            continue;
        }
        run_one(file.program.as_deref().unwrap_or(program), timeout, &file, state);
    }
}

fn run_one(program: &Path, timeout: Duration, file: &FinishedFile, state: &HookState) {
    let label = format!("program={} file={}", program.display(), file.path.display());
    let child = match hook_program::start(program, file) {
        Ok(child) => child,
        Err(e) => {
            warn!("record hook not started {label} error=\"{e}\"");
            return;
        }
    };
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let running = Running {
        file: file.path.clone(),
        pid: child.id(),
        started: Instant::now(),
    };
    state.running().insert(id, running);
    let secrets = hook_program::secrets_of(&file.publisher.query.0);
    let outcome = hook_program::supervise(child, &file.path, timeout, &secrets);
    state.running().remove(&id);
    match outcome {
        HookOutcome::Exited(status) if status.success() => info!("record hook done {label} status=0"),
        HookOutcome::Exited(status) => warn!("record hook failed {label} status=\"{status}\""),
        HookOutcome::TimedOut => {
            state.timed_out.fetch_add(1, Ordering::Relaxed);
            warn!(
                "record hook timed out, killed {label} timeout_s={}",
                timeout.as_secs_f64()
            );
        }
        HookOutcome::WaitFailed(e) => warn!("record hook failed {label} error=\"{e}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn finished(dir: &Path, n: u32) -> FinishedFile {
        FinishedFile {
            path: dir.join(format!("f{n}.flv")),
            app: "live".into(),
            stream: "s".into(),
            duration_ms: 1,
            bytes: 1,
            program: None,
            publisher: crate::events::Publisher {
                conn_id: 1,
                remote: "127.0.0.1:5000".parse().unwrap(),
                query: crate::events::Query::default(),
            },
        }
    }

    fn wait(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !condition() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn hooks_run_a_bounded_number_at_once_and_a_full_queue_drops_without_waiting() {
        let dir = std::env::temp_dir().join(format!("rtmp-hook-pool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let release = dir.join("release");
        let body = format!(
            "n=0\nwhile [ ! -e '{}' ] && [ $n -lt 3000 ]; do sleep 0.02; n=$((n+1)); done",
            release.display()
        );
        let program = script(&dir, "wait.sh", &body);
        let limits = HookLimits {
            max_running: 2,
            queue_len: 1,
        };
        let runner = HookRunner::new(program, Duration::from_secs(60), limits);
        for n in 0..2 {
            runner.submit(finished(&dir, n));
            wait("a worker takes it", || runner.counts().running == n as u64 + 1);
        }
        runner.submit(finished(&dir, 2));
        let started = Instant::now();
        runner.submit(finished(&dir, 3));
        runner.submit(finished(&dir, 4));
        assert!(started.elapsed() < Duration::from_secs(5), "submit never waits");
        let counts = runner.counts();
        assert_eq!((counts.running, counts.queued, counts.dropped), (2, 1, 2), "{counts:?}");
        std::fs::write(&release, b"").unwrap();
        wait("all done", || {
            runner.counts()
                == HookCounts {
                    dropped: 2,
                    ..HookCounts::default()
                }
        });
        assert!(runner.shutdown(Duration::from_secs(10)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed_with_what_it_started_and_shutdown_is_bounded() {
        let dir = std::env::temp_dir().join(format!("rtmp-hook-timeout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("sleep.pid");
        let body = format!("sleep 120 &\necho $! > '{}'\nwait", pid_file.display());
        let program = script(&dir, "hang.sh", &body);
        let runner = HookRunner::new(program.clone(), Duration::from_millis(300), HookLimits::default());
        runner.submit(finished(&dir, 0));
        wait("timed out", || runner.counts().timed_out == 1);
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let proc = PathBuf::from(format!("/proc/{}/stat", pid.trim()));
        // Gone, or a zombie waiting for a reaper: either way killed.
        wait("the background child is killed too", || {
            std::fs::read_to_string(&proc).map_or(true, |stat| stat.contains(") Z "))
        });
        assert_eq!(runner.counts().running, 0);

        let forever = HookRunner::new(program, Duration::from_secs(600), HookLimits::default());
        forever.submit(finished(&dir, 1));
        wait("running", || forever.counts().running == 1);
        let pid = forever.state.running().values().map(|r| r.pid).next().unwrap();
        let started = Instant::now();
        assert!(
            !forever.shutdown(Duration::from_millis(200)),
            "a hook was still running"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        forever.submit(finished(&dir, 2));
        assert_eq!(forever.counts().queued, 0, "no file is taken after shutdown");
        let group = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process_group(group, rustix::process::Signal::KILL).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
