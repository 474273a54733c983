//! The thin glue around one source's `Machine`: a thread that spawns the command, polls it
//! for exit, signals it, and publishes its status. The thread that spawned a child lives
//! until that child is reaped, which the parent-death signal (`launch`) relies on.

use super::launch::Launcher;
use super::machine::{Action, Machine, State};
use super::output::log_output;
use super::status::{Exit, SourceStatus};
use crate::config::sources::SourceTable;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{info, warn};
use rustix::process::{kill_process_group, Pid, Signal};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A running child is checked for exit this often (std has no wait with a timeout).
pub const POLL: Duration = Duration::from_millis(100);
/// Longest wait for a command while nothing runs (a safety net; deadlines come first).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// What the supervisor tells a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The on-demand stream's player count.
    Players(usize),
    /// Stop for good (shutdown, reload).
    Stop,
}

/// One source's supervision on the current thread until it is stopped for good. `players`
/// is the on-demand stream's player count now; `previous` (the runner of the definition this
/// one replaces) is waited for first, so two never run at once.
pub fn run(
    table: SourceTable,
    launcher: Arc<Launcher>,
    commands: Receiver<Command>,
    status: Arc<Mutex<SourceStatus>>,
    players: usize,
    previous: Option<JoinHandle<()>>,
) {
    if let Some(previous) = previous {
        let _ = previous.join();
    }
    let mut runner = Runner {
        machine: Machine::new(table.on_demand.as_ref().map(|_| table.on_demand_idle)),
        table,
        launcher,
        child: None,
        status,
    };
    let now = Instant::now();
    let first = runner.machine.players(players, now);
    runner.act(first);
    let start = runner.machine.start(now);
    runner.act(start);
    let mut orphaned = false;
    loop {
        runner.check_exit();
        let tick = runner.machine.tick(Instant::now());
        runner.act(tick);
        runner.publish();
        if runner.machine.state() == State::Stopped && runner.child.is_none() {
            break;
        }
        let wait = match (&runner.child, runner.machine.next_deadline()) {
            (Some(_), _) => POLL,
            (None, Some(deadline)) => deadline.saturating_duration_since(Instant::now()).min(IDLE_WAIT),
            (None, None) => IDLE_WAIT,
        };
        if orphaned {
            // Nobody can send any more: the stop is under way, only time and the exit matter.
            std::thread::sleep(wait);
            continue;
        }
        let action = match commands.recv_timeout(wait) {
            Ok(Command::Players(count)) => runner.machine.players(count, Instant::now()),
            Ok(Command::Stop) => runner.machine.stop(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => {
                orphaned = true;
                runner.machine.stop(Instant::now())
            }
            Err(RecvTimeoutError::Timeout) => None,
        };
        runner.act(action);
    }
    info!("source stopped source={}", runner.table.name);
}

struct Runner {
    table: SourceTable,
    machine: Machine,
    launcher: Arc<Launcher>,
    child: Option<Child>,
    status: Arc<Mutex<SourceStatus>>,
}

impl Runner {
    /// Does what the machine asked (a failed spawn is reported back as an exit).
    fn act(&mut self, action: Option<Action>) {
        let mut next = action;
        while let Some(action) = next.take() {
            match action {
                Action::Spawn => next = self.spawn(),
                Action::Terminate => self.signal(Signal::TERM),
                Action::Kill => {
                    self.signal(Signal::KILL);
                    if let Some(child) = self.child.as_mut() {
                        let _ = child.kill();
                    }
                }
            }
            self.publish();
        }
    }

    fn spawn(&mut self) -> Option<Action> {
        let name = &self.table.name;
        match self.launcher.spawn(&self.table.command) {
            Ok(mut child) => {
                let pid = child.id();
                info!(
                    "source started source={name} pid={pid} program={} restarts={}",
                    self.table.command.first().map_or("", String::as_str),
                    self.machine.restarts()
                );
                if let Some(out) = child.stdout.take() {
                    log_output(out, name);
                }
                if let Some(err) = child.stderr.take() {
                    log_output(err, name);
                }
                self.child = Some(child);
                let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
                status.pid = Some(pid);
                status.started_unix = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
                None
            }
            Err(e) => {
                warn!("source not started source={name} error=\"{e}\"");
                self.status.lock().unwrap_or_else(|e| e.into_inner()).last_exit = Some(Exit::SpawnFailed(e));
                self.machine.exited(Instant::now())
            }
        }
    }

    /// Signals the child's process group (what it started too).
    fn signal(&mut self, signal: Signal) {
        let Some(child) = &self.child else {
            return;
        };
        let name = if signal == Signal::KILL { "SIGKILL" } else { "SIGTERM" };
        info!(
            "source stopping source={} pid={} signal={name}",
            self.table.name,
            child.id()
        );
        let group = Pid::from_child(child);
        if kill_process_group(group, signal).is_err() && signal == Signal::KILL {
            if let Some(child) = self.child.as_mut() {
                let _ = child.kill();
            }
        }
    }

    fn check_exit(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let exit = match child.try_wait() {
            Ok(None) => return,
            Ok(Some(status)) => Exit::of(status),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Exit::SpawnFailed(format!("wait failed: {e}"))
            }
        };
        let pid = child.id();
        self.child = None;
        {
            let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            status.pid = None;
            status.started_unix = None;
            status.last_exit = Some(exit.clone());
        }
        let action = self.machine.exited(Instant::now());
        let (name, state) = (&self.table.name, self.machine.state());
        match (state, self.machine.next_deadline()) {
            (State::Backoff, Some(until)) => warn!(
                "source exited source={name} pid={pid} exit=\"{exit}\" restart_in_ms={}",
                until.saturating_duration_since(Instant::now()).as_millis()
            ),
            _ => info!(
                "source exited source={name} pid={pid} exit=\"{exit}\" state={}",
                state.name()
            ),
        }
        self.act(action);
    }

    fn publish(&self) {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.state = self.machine.state();
        status.restarts = self.machine.restarts();
    }
}
