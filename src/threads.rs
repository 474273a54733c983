//! Thread bookkeeping: spawns named threads with small stacks and counts the ones still
//! running, so shutdown can wait for connections and recorders to finish.

use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Stack size of connection and recorder threads: small, so many connections are cheap.
pub const WORKER_STACK_SIZE: usize = 512 * 1024;

/// Joins each of `threads` that finishes before `deadline` (checked every 10 ms); true if
/// all did. The others are left running, detached.
pub fn join_until(threads: Vec<JoinHandle<()>>, deadline: Instant) -> bool {
    let mut all = true;
    for thread in threads {
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            all = false;
        }
    }
    all
}

#[derive(Debug, Clone, Default)]
pub struct ThreadTracker {
    running: Arc<(Mutex<usize>, Condvar)>,
}

/// Decrements the running count when the thread ends, even by panic.
struct RunningGuard(Arc<(Mutex<usize>, Condvar)>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let (count, changed) = &*self.0;
        let mut count = count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        changed.notify_all();
    }
}

impl ThreadTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns a tracked worker thread.
    pub fn spawn<F, T>(&self, name: String, work: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        {
            let mut count = self.running.0.lock().unwrap_or_else(|e| e.into_inner());
            *count += 1;
        }
        let guard = RunningGuard(Arc::clone(&self.running));
        // On spawn failure the closure (and its guard) is dropped, which undoes the count.
        std::thread::Builder::new()
            .name(name)
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || {
                let _guard = guard;
                work()
            })
    }

    pub fn running(&self) -> usize {
        *self.running.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no tracked thread runs or the timeout passes; true if all finished.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (count, changed) = &*self.running;
        let mut count = count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            count = match changed.wait_timeout(count, deadline - now) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_idle_returns_once_threads_finish() {
        let tracker = ThreadTracker::new();
        let (tx, rx) = crossbeam_channel::bounded::<()>(0);
        tracker
            .spawn("t".into(), move || {
                let _ = rx.recv();
            })
            .unwrap();
        assert_eq!(tracker.running(), 1);
        assert!(!tracker.wait_idle(Duration::from_millis(10)));
        drop(tx);
        assert!(tracker.wait_idle(Duration::from_secs(10)));
        assert_eq!(tracker.running(), 0);
    }
}
