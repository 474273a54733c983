//! When the systemd watchdog may be pinged: only while the server is not wedged.
//!
//! A wedged server is one whose accept loop no longer gets back to accept(): stuck in a
//! lock or a thread spawn while admitting a connection. A loop blocked in accept() with
//! no clients is healthy. So the listener marks when it enters and leaves accept()
//! (`AcceptHeartbeat`), and the watchdog thread (`Liveness`) pings when the loop is in
//! accept() now or has gone round since the previous check. Before pinging it also takes
//! the locks every connection needs (sockets, registry): a deadlock there blocks the
//! watchdog thread too, so the pings stop and systemd restarts the service.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared by the accept loop (writer) and the watchdog thread (reader).
#[derive(Debug, Default)]
pub struct AcceptHeartbeat {
    in_accept: AtomicBool,
    rounds: AtomicU64,
}

impl AcceptHeartbeat {
    /// The accept loop is about to block in accept().
    pub fn entering_accept(&self) {
        self.rounds.fetch_add(1, Ordering::SeqCst);
        self.in_accept.store(true, Ordering::SeqCst);
    }

    /// accept() returned; the loop handles the result.
    pub fn left_accept(&self) {
        self.in_accept.store(false, Ordering::SeqCst);
    }

    fn state(&self) -> (bool, u64) {
        (
            self.in_accept.load(Ordering::SeqCst),
            self.rounds.load(Ordering::SeqCst),
        )
    }
}

/// The watchdog thread's view between two checks.
#[derive(Debug, Default)]
pub struct Liveness {
    last_rounds: Option<u64>,
}

impl Liveness {
    /// Healthy when the loop waits in accept() or went round since the last check (so it
    /// spent less than one check interval outside accept()); shutting down counts as
    /// healthy (shutdown has its own grace period).
    pub fn check(&mut self, heartbeat: &AcceptHeartbeat, shutting_down: bool) -> bool {
        let (in_accept, rounds) = heartbeat.state();
        let moved = self.last_rounds != Some(rounds);
        self.last_rounds = Some(rounds);
        shutting_down || in_accept || moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_in_accept_is_healthy_for_ever() {
        let heartbeat = AcceptHeartbeat::default();
        let mut liveness = Liveness::default();
        heartbeat.entering_accept();
        for _ in 0..5 {
            assert!(liveness.check(&heartbeat, false));
        }
    }

    #[test]
    fn a_loop_stuck_outside_accept_is_unhealthy_from_the_second_check() {
        let heartbeat = AcceptHeartbeat::default();
        let mut liveness = Liveness::default();
        heartbeat.entering_accept();
        heartbeat.left_accept();
        assert!(liveness.check(&heartbeat, false), "may just be admitting a client");
        assert!(!liveness.check(&heartbeat, false), "still there a whole interval later");
        assert!(!liveness.check(&heartbeat, false));
        assert!(liveness.check(&heartbeat, true), "shutting down");
        // Back round the loop (and busy again): healthy once, since it moved.
        heartbeat.entering_accept();
        heartbeat.left_accept();
        assert!(liveness.check(&heartbeat, false));
        assert!(!liveness.check(&heartbeat, false));
    }

    #[test]
    fn a_busy_loop_that_keeps_going_round_is_healthy() {
        let heartbeat = AcceptHeartbeat::default();
        let mut liveness = Liveness::default();
        for _ in 0..5 {
            heartbeat.entering_accept();
            heartbeat.left_accept();
            assert!(liveness.check(&heartbeat, false));
        }
    }
}
