//! One source's supervision as a pure state machine, fed events and times (start, players,
//! exits, ticks, stop) and answering with what to do to the process (spawn, SIGTERM,
//! SIGKILL). Backoff: 1 s doubling to 30 s between restarts, back to 1 s once a run lasted
//! `STABLE_RUN`. On demand: spawned when the first player arrives, stopped `idle` after the
//! last one left. A stop is SIGTERM, then SIGKILL after `KILL_AFTER`.

use std::time::{Duration, Instant};

/// The first restart delay.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run at least this long resets the delay to `FIRST_BACKOFF`.
pub const STABLE_RUN: Duration = Duration::from_secs(30);
/// SIGKILL follows SIGTERM after this long.
pub const KILL_AFTER: Duration = Duration::from_secs(5);

/// What the process should have done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start the command (if that fails, report `exited`).
    Spawn,
    /// Send SIGTERM.
    Terminate,
    /// Send SIGKILL.
    Kill,
}

/// The state a source is in, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// On demand with no players: not running.
    Idle,
    Running,
    /// Exited; waiting to restart.
    Backoff,
    /// Told to stop (SIGTERM sent), not exited yet.
    Stopping,
    /// Stopped for good (shutdown, removed by a reload).
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Running { since: Instant },
    Backoff { until: Instant },
    Stopping { since: Instant, killed: bool },
    Stopped,
}

/// One source's supervision.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Some(idle time) for an on-demand source.
    on_demand: Option<Duration>,
    phase: Phase,
    players: usize,
    /// When the player count last dropped to 0 (on demand).
    unwatched_since: Option<Instant>,
    /// The next restart delay.
    backoff: Duration,
    restarts: u64,
    /// Stop for good: no more spawns.
    retiring: bool,
}

impl Machine {
    /// A source that has not started; `on_demand` is its idle time if it runs on demand.
    pub fn new(on_demand: Option<Duration>) -> Machine {
        Machine {
            on_demand,
            phase: Phase::Idle,
            players: 0,
            unwatched_since: None,
            backoff: FIRST_BACKOFF,
            restarts: 0,
            retiring: false,
        }
    }

    pub fn state(&self) -> State {
        match self.phase {
            Phase::Idle => State::Idle,
            Phase::Running { .. } => State::Running,
            Phase::Backoff { .. } => State::Backoff,
            Phase::Stopping { .. } => State::Stopping,
            Phase::Stopped => State::Stopped,
        }
    }

    /// Times the process was started again after it exited on its own.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Supervision begins: an always-on source spawns, an on-demand one waits for players.
    pub fn start(&mut self, now: Instant) -> Option<Action> {
        if self.retiring || self.phase != Phase::Idle {
            return None;
        }
        if self.wanted() {
            return Some(self.spawn(now));
        }
        None
    }

    /// The stream's player count changed (on demand).
    pub fn players(&mut self, count: usize, now: Instant) -> Option<Action> {
        let before = self.players;
        self.players = count;
        if self.on_demand.is_none() || self.retiring {
            return None;
        }
        if count == 0 {
            if before > 0 || self.unwatched_since.is_none() {
                self.unwatched_since = Some(now);
            }
            return None;
        }
        self.unwatched_since = None;
        match self.phase {
            Phase::Idle => Some(self.spawn(now)),
            _ => None,
        }
    }

    /// The process exited (or could not be spawned).
    pub fn exited(&mut self, now: Instant) -> Option<Action> {
        match self.phase {
            Phase::Running { since } => {
                if self.retiring {
                    self.phase = Phase::Stopped;
                } else if !self.wanted() {
                    self.phase = Phase::Idle;
                } else {
                    if now.saturating_duration_since(since) >= STABLE_RUN {
                        self.backoff = FIRST_BACKOFF;
                    }
                    self.phase = Phase::Backoff {
                        until: now + self.backoff,
                    };
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
                None
            }
            Phase::Stopping { .. } => {
                if self.retiring {
                    self.phase = Phase::Stopped;
                    None
                } else if self.wanted() {
                    // A player came back while it was stopping: start afresh.
                    Some(self.spawn(now))
                } else {
                    self.phase = Phase::Idle;
                    None
                }
            }
            Phase::Idle | Phase::Backoff { .. } | Phase::Stopped => None,
        }
    }

    /// Time passed: restarts after a backoff, idle stops, SIGKILL after SIGTERM.
    pub fn tick(&mut self, now: Instant) -> Option<Action> {
        match self.phase {
            Phase::Backoff { until } if now >= until => {
                if self.wanted() {
                    self.restarts += 1;
                    Some(self.spawn(now))
                } else {
                    self.phase = Phase::Idle;
                    None
                }
            }
            Phase::Backoff { .. } if !self.wanted() => {
                self.phase = Phase::Idle;
                None
            }
            Phase::Running { .. } => {
                let idle = self.on_demand?;
                let since = self.unwatched_since.filter(|_| self.players == 0)?;
                if now.saturating_duration_since(since) >= idle {
                    self.phase = Phase::Stopping {
                        since: now,
                        killed: false,
                    };
                    return Some(Action::Terminate);
                }
                None
            }
            Phase::Stopping { since, killed: false } if now.saturating_duration_since(since) >= KILL_AFTER => {
                self.phase = Phase::Stopping { since, killed: true };
                Some(Action::Kill)
            }
            _ => None,
        }
    }

    /// Stop for good (shutdown, removed or changed by a reload).
    pub fn stop(&mut self, now: Instant) -> Option<Action> {
        self.retiring = true;
        match self.phase {
            Phase::Running { .. } => {
                self.phase = Phase::Stopping {
                    since: now,
                    killed: false,
                };
                Some(Action::Terminate)
            }
            Phase::Idle | Phase::Backoff { .. } => {
                self.phase = Phase::Stopped;
                None
            }
            Phase::Stopping { .. } | Phase::Stopped => None,
        }
    }

    /// The next time `tick` may have something to do (None: only events matter).
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Backoff { until } => Some(until),
            Phase::Running { .. } => {
                let idle = self.on_demand?;
                self.unwatched_since
                    .filter(|_| self.players == 0)
                    .map(|since| since + idle)
            }
            Phase::Stopping { since, killed: false } => Some(since + KILL_AFTER),
            _ => None,
        }
    }

    /// Whether the process should run now (players or not).
    fn wanted(&self) -> bool {
        !self.retiring && (self.on_demand.is_none() || self.players > 0)
    }

    fn spawn(&mut self, now: Instant) -> Action {
        self.phase = Phase::Running { since: now };
        Action::Spawn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn an_always_on_source_restarts_with_doubling_backoff_up_to_30s() {
        let t0 = Instant::now();
        let mut m = Machine::new(None);
        assert_eq!(m.start(t0), Some(Action::Spawn));
        assert_eq!(m.state(), State::Running);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            now += Duration::from_millis(100);
            assert_eq!(m.exited(now), None);
            assert_eq!(m.state(), State::Backoff);
            let until = m.next_deadline().unwrap();
            delays.push((until - now).as_secs());
            assert_eq!(m.tick(until - Duration::from_millis(1)), None, "not before the delay");
            now = until;
            assert_eq!(m.tick(now), Some(Action::Spawn));
            assert_eq!(m.state(), State::Running);
        }
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(m.restarts(), 8);
    }

    #[test]
    fn a_stable_run_resets_the_backoff() {
        let t0 = Instant::now();
        let mut m = Machine::new(None);
        m.start(t0);
        m.exited(t0);
        m.tick(t0 + secs(1));
        m.exited(t0 + secs(1));
        assert_eq!(m.next_deadline(), Some(t0 + secs(3)), "2 s the second time");
        m.tick(t0 + secs(3));
        let later = t0 + secs(3) + STABLE_RUN;
        m.exited(later);
        assert_eq!(m.next_deadline(), Some(later + FIRST_BACKOFF));
    }

    #[test]
    fn stop_terminates_then_kills_and_ends_stopped() {
        let t0 = Instant::now();
        let mut m = Machine::new(None);
        m.start(t0);
        assert_eq!(m.stop(t0), Some(Action::Terminate));
        assert_eq!(m.state(), State::Stopping);
        assert_eq!(m.tick(t0 + secs(4)), None);
        assert_eq!(m.next_deadline(), Some(t0 + KILL_AFTER));
        assert_eq!(m.tick(t0 + KILL_AFTER), Some(Action::Kill));
        assert_eq!(m.tick(t0 + secs(9)), None, "one SIGKILL");
        assert_eq!(m.exited(t0 + secs(9)), None);
        assert_eq!(m.state(), State::Stopped);
        assert_eq!(m.start(t0 + secs(10)), None, "stopped for good");
        assert_eq!(m.restarts(), 0);
    }

    #[test]
    fn stop_during_backoff_or_before_start_spawns_nothing() {
        let t0 = Instant::now();
        let mut m = Machine::new(None);
        m.start(t0);
        m.exited(t0);
        assert_eq!(m.stop(t0), None);
        assert_eq!(m.state(), State::Stopped);
        assert_eq!(m.tick(t0 + secs(60)), None);
        let mut fresh = Machine::new(None);
        assert_eq!(fresh.stop(t0), None);
        assert_eq!(fresh.start(t0), None);
        assert_eq!(fresh.state(), State::Stopped);
    }

    #[test]
    fn on_demand_starts_with_the_first_player_and_stops_after_the_idle_time() {
        let t0 = Instant::now();
        let idle = secs(10);
        let mut m = Machine::new(Some(idle));
        assert_eq!(m.start(t0), None);
        assert_eq!(m.state(), State::Idle);
        assert_eq!(m.tick(t0 + secs(100)), None);
        assert_eq!(m.players(1, t0 + secs(1)), Some(Action::Spawn));
        assert_eq!(m.players(2, t0 + secs(2)), None, "already running");
        assert_eq!(m.players(1, t0 + secs(3)), None);
        assert_eq!(m.players(0, t0 + secs(4)), None);
        assert_eq!(m.next_deadline(), Some(t0 + secs(14)));
        assert_eq!(m.tick(t0 + secs(13)), None);
        // A player in between resets the idle clock.
        m.players(1, t0 + secs(13));
        assert_eq!(m.tick(t0 + secs(20)), None);
        m.players(0, t0 + secs(21));
        assert_eq!(m.tick(t0 + secs(31)), Some(Action::Terminate));
        assert_eq!(m.state(), State::Stopping);
        assert_eq!(m.exited(t0 + secs(32)), None);
        assert_eq!(m.state(), State::Idle);
        assert_eq!(m.restarts(), 0, "an idle stop is no restart");
        assert_eq!(m.players(1, t0 + secs(40)), Some(Action::Spawn));
    }

    #[test]
    fn on_demand_restarts_while_watched_and_idles_when_not() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(secs(10)));
        m.players(1, t0);
        assert_eq!(m.exited(t0 + secs(1)), None);
        assert_eq!(m.state(), State::Backoff);
        assert_eq!(m.tick(t0 + secs(2)), Some(Action::Spawn));
        assert_eq!(m.restarts(), 1);
        m.players(0, t0 + secs(3));
        assert_eq!(m.exited(t0 + secs(4)), None);
        assert_eq!(m.state(), State::Idle, "no players: no restart");
        m.players(1, t0 + secs(5));
        m.exited(t0 + secs(5));
        assert_eq!(m.state(), State::Backoff);
        m.players(0, t0 + secs(5));
        assert_eq!(m.tick(t0 + secs(5)), None);
        assert_eq!(m.state(), State::Idle, "the last player left during the backoff");
    }

    #[test]
    fn a_player_arriving_while_stopping_starts_it_again_after_the_exit() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(secs(1)));
        m.players(1, t0);
        m.players(0, t0);
        assert_eq!(m.tick(t0 + secs(1)), Some(Action::Terminate));
        assert_eq!(m.players(1, t0 + secs(2)), None, "the old one still has to exit");
        assert_eq!(m.exited(t0 + secs(2)), Some(Action::Spawn));
        assert_eq!(m.state(), State::Running);
    }

    #[test]
    fn players_do_not_matter_to_an_always_on_source() {
        let t0 = Instant::now();
        let mut m = Machine::new(None);
        m.start(t0);
        assert_eq!(m.players(3, t0), None);
        assert_eq!(m.players(0, t0), None);
        assert_eq!(m.tick(t0 + secs(3600)), None);
        assert_eq!(m.state(), State::Running);
    }
}
