//! Supervised sources (`[[source]]` tables): commands such as FFmpeg pulling an RTSP camera
//! and publishing it here. Each source has a runner thread (`runner`) driving a pure state
//! machine (`machine`); `Sources` starts them, tells on-demand ones their stream's player
//! count (it observes the event bus: PlayStarted/PlayStopped), reloads a new list (only
//! changed definitions restart), stops them all on shutdown and reports their status
//! (`status`).

pub mod launch;
pub mod machine;
pub mod output;
pub mod runner;
pub mod status;

use crate::config::sources::SourceTable;
use crate::events::{Event, Observer};
use crossbeam_channel::Sender;
use launch::Launcher;
use runner::Command;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use machine::State;
pub use status::{render_metrics, Exit, SourceStatus};

/// How long shutdown waits for the sources to exit (SIGKILL comes after 5 s).
pub const SOURCES_SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Stack of a runner thread.
const RUNNER_STACK_SIZE: usize = 128 * 1024;

/// What a reload does, by source name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Same definition: left running.
    pub keep: Vec<String>,
    /// Changed definition: stopped, then started again.
    pub restart: Vec<String>,
    /// Gone from the list: stopped.
    pub stop: Vec<String>,
    /// New in the list: started.
    pub start: Vec<String>,
}

impl ReloadPlan {
    /// What going from `old` to `new` takes.
    pub fn between(old: &[SourceTable], new: &[SourceTable]) -> ReloadPlan {
        let mut plan = ReloadPlan::default();
        for table in new {
            match old.iter().find(|o| o.name == table.name) {
                Some(same) if same == table => plan.keep.push(table.name.clone()),
                Some(_) => plan.restart.push(table.name.clone()),
                None => plan.start.push(table.name.clone()),
            }
        }
        for table in old {
            if !new.iter().any(|n| n.name == table.name) {
                plan.stop.push(table.name.clone());
            }
        }
        plan
    }
}

struct RunnerHandle {
    table: SourceTable,
    commands: Sender<Command>,
    status: Arc<Mutex<SourceStatus>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Inner {
    /// The current definitions (before `start`, the ones it will start).
    tables: Vec<SourceTable>,
    runners: Vec<RunnerHandle>,
    /// Runners told to stop (removed by a reload) that may still be ending.
    retiring: Vec<JoinHandle<()>>,
    /// Players by `app/stream`.
    players: HashMap<String, usize>,
    started: bool,
    stopping: bool,
}

struct Shared {
    inner: Mutex<Inner>,
    launcher: OnceLock<Arc<Launcher>>,
}

/// The supervisor of every source.
pub struct Sources {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("sources", &self.snapshot().len())
            .finish()
    }
}

impl Sources {
    /// The supervisor of `tables`; nothing runs before `start`.
    pub fn new(tables: Vec<SourceTable>) -> Sources {
        Sources::with_launcher(tables, None)
    }

    /// As `new`, children started by `launcher` (default: probed at `start`).
    pub fn with_launcher(tables: Vec<SourceTable>, launcher: Option<Launcher>) -> Sources {
        let shared = Shared {
            inner: Mutex::new(Inner {
                tables,
                ..Inner::default()
            }),
            launcher: OnceLock::new(),
        };
        if let Some(launcher) = launcher {
            let _ = shared.launcher.set(Arc::new(launcher));
        }
        Sources {
            shared: Arc::new(shared),
        }
    }

    /// The event observer that tells on-demand sources about their players.
    pub fn observer(&self) -> Box<dyn Observer> {
        Box::new(PlayersObserver(Arc::clone(&self.shared)))
    }

    /// Starts supervising every source (once; not after `begin_stop`).
    pub fn start(&self) {
        let mut inner = self.shared.lock();
        if inner.started || inner.stopping {
            return;
        }
        inner.started = true;
        let tables = inner.tables.clone();
        if !tables.is_empty() {
            log::info!("sources starting count={}", tables.len());
        }
        for table in tables {
            let runner = self.shared.spawn_runner(&inner, table, None);
            inner.runners.extend(runner);
        }
    }

    /// Applies a new list: unchanged sources keep running, changed ones are stopped and
    /// started again (the new one after the old one exited), removed ones are stopped, new
    /// ones started. Ignored once stopping.
    pub fn reload(&self, tables: Vec<SourceTable>) -> ReloadPlan {
        let mut inner = self.shared.lock();
        if inner.stopping {
            return ReloadPlan::default();
        }
        let plan = ReloadPlan::between(&inner.tables, &tables);
        inner.tables = tables.clone();
        if !inner.started {
            return plan;
        }
        let mut old: Vec<RunnerHandle> = std::mem::take(&mut inner.runners);
        for table in tables {
            let previous = old
                .iter()
                .position(|r| r.table.name == table.name)
                .map(|i| old.swap_remove(i));
            match previous {
                Some(same) if same.table == table => inner.runners.push(same),
                Some(mut changed) => {
                    let _ = changed.commands.send(Command::Stop);
                    let runner = self.shared.spawn_runner(&inner, table, changed.thread.take());
                    inner.runners.extend(runner);
                }
                None => {
                    let runner = self.shared.spawn_runner(&inner, table, None);
                    inner.runners.extend(runner);
                }
            }
        }
        for mut removed in old {
            let _ = removed.commands.send(Command::Stop);
            inner.retiring.extend(removed.thread.take());
        }
        inner.retiring.retain(|t| !t.is_finished());
        if plan.restart.len() + plan.stop.len() + plan.start.len() > 0 {
            log::info!(
                "sources reloaded kept={} restarted={} stopped={} started={}",
                plan.keep.len(),
                plan.restart.len(),
                plan.stop.len(),
                plan.start.len()
            );
        }
        plan
    }

    /// Tells every source to stop (SIGTERM, SIGKILL after 5 s) and starts none from now on.
    pub fn begin_stop(&self) {
        let mut inner = self.shared.lock();
        inner.stopping = true;
        for runner in &inner.runners {
            let _ = runner.commands.send(Command::Stop);
        }
    }

    /// Stops every source and waits until `deadline` for them to exit; true if all did.
    pub fn shutdown(&self, deadline: Instant) -> bool {
        self.begin_stop();
        let threads: Vec<JoinHandle<()>> = {
            let mut inner = self.shared.lock();
            let mut threads: Vec<JoinHandle<()>> = inner.runners.iter_mut().filter_map(|r| r.thread.take()).collect();
            threads.append(&mut inner.retiring);
            threads
        };
        crate::threads::join_until(threads, deadline)
    }

    /// Every source's status, in list order (before `start`: each as not running).
    pub fn snapshot(&self) -> Vec<SourceStatus> {
        let inner = self.shared.lock();
        if !inner.started {
            return inner.tables.iter().map(SourceStatus::new).collect();
        }
        inner
            .runners
            .iter()
            .map(|r| r.status.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn launcher(&self) -> Arc<Launcher> {
        Arc::clone(self.launcher.get_or_init(|| Arc::new(Launcher::probe())))
    }

    /// Starts a runner thread for `table` (after `previous` ends, if given).
    fn spawn_runner(
        &self,
        inner: &Inner,
        table: SourceTable,
        previous: Option<JoinHandle<()>>,
    ) -> Option<RunnerHandle> {
        let (commands, receiver) = crossbeam_channel::unbounded();
        let status = Arc::new(Mutex::new(SourceStatus::new(&table)));
        let players = table
            .on_demand
            .as_ref()
            .and_then(|stream| inner.players.get(stream).copied())
            .unwrap_or(0);
        let launcher = self.launcher();
        let (thread_table, thread_status) = (table.clone(), Arc::clone(&status));
        let spawned = std::thread::Builder::new()
            .name(format!("source-{}", table.name))
            .stack_size(RUNNER_STACK_SIZE)
            .spawn(move || runner::run(thread_table, launcher, receiver, thread_status, players, previous));
        match spawned {
            Ok(thread) => Some(RunnerHandle {
                table,
                commands,
                status,
                thread: Some(thread),
            }),
            Err(e) => {
                log::error!("source not supervised source={} error=\"{e}\"", table.name);
                None
            }
        }
    }
}

/// Counts players per stream and tells the on-demand sources of that stream.
struct PlayersObserver(Arc<Shared>);

impl Observer for PlayersObserver {
    fn name(&self) -> &'static str {
        "sources"
    }

    fn on_event(&mut self, event: &Event) {
        let (name, joined) = match event {
            Event::PlayStarted { name, .. } => (name, true),
            Event::PlayStopped { name, .. } => (name, false),
            _ => return,
        };
        let key = format!("{}/{}", name.app, name.stream);
        let mut inner = self.0.lock();
        let count = {
            let count = inner.players.entry(key.clone()).or_insert(0);
            *count = if joined { *count + 1 } else { count.saturating_sub(1) };
            *count
        };
        if count == 0 {
            inner.players.remove(&key);
        }
        for runner in inner
            .runners
            .iter()
            .filter(|r| r.table.on_demand.as_deref() == Some(&key))
        {
            let _ = runner.commands.send(Command::Players(count));
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
