//! HLS viewer sessions, pure bookkeeping (the caller passes the time): a session is opened
//! once the play decision allowed a viewer, found again by its id on every request (which
//! keeps it alive), and ends after a stretch without requests. The table is bounded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most HLS sessions at once (all streams); a new viewer past it gets 503.
pub const MAX_SESSIONS: usize = 1000;

/// One viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub app: String,
    pub stream: String,
    pub conn_id: u64,
    pub remote: SocketAddr,
    /// The first request's query (for the play_done hook; keys are the hook's business).
    pub query: String,
    pub started: Instant,
    pub last_seen: Instant,
    /// Media bytes sent.
    pub bytes: u64,
}

/// The table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    pub fn open(&mut self, id: String, session: Session, limit: usize) -> Result<(), Full> {
        if self.by_id.len() >= limit {
            return Err(Full);
        }
        self.by_id.insert(id, session);
        Ok(())
    }

    /// The session `id` of app/stream, marked seen at `now` with `bytes` more sent.
    pub fn touch(&mut self, id: &str, app: &str, stream: &str, now: Instant, bytes: u64) -> Option<&Session> {
        let session = self.by_id.get_mut(id).filter(|s| s.app == app && s.stream == stream)?;
        session.last_seen = now;
        session.bytes += bytes;
        Some(session)
    }

    /// Removes and returns the sessions idle for `idle` or more at `now`.
    pub fn expire(&mut self, now: Instant, idle: Duration) -> Vec<Session> {
        let gone: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, s)| now.saturating_duration_since(s.last_seen) >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        gone.iter().filter_map(|id| self.by_id.remove(id)).collect()
    }

    /// Removes every session (shutdown).
    pub fn drain(&mut self) -> Vec<Session> {
        self.by_id.drain().map(|(_, s)| s).collect()
    }

    /// Sessions of app/stream.
    pub fn count(&self, app: &str, stream: &str) -> usize {
        self.by_id
            .values()
            .filter(|s| s.app == app && s.stream == stream)
            .count()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(stream: &str, at: Instant) -> Session {
        Session {
            app: "live".into(),
            stream: stream.into(),
            conn_id: 1,
            remote: "127.0.0.1:9".parse().unwrap(),
            query: String::new(),
            started: at,
            last_seen: at,
            bytes: 0,
        }
    }

    #[test]
    fn sessions_are_found_kept_alive_expired_and_bounded() {
        let t0 = Instant::now();
        let mut table = Sessions::default();
        table.open("a".into(), session("s", t0), 2).unwrap();
        table.open("b".into(), session("t", t0), 2).unwrap();
        assert_eq!(table.open("c".into(), session("s", t0), 2), Err(Full));
        assert!(table.touch("a", "live", "t", t0, 0).is_none(), "another stream's id");
        assert!(table.touch("zz", "live", "s", t0, 0).is_none());
        let later = t0 + Duration::from_secs(20);
        assert_eq!(table.touch("a", "live", "s", later, 100).map(|s| s.bytes), Some(100));
        assert_eq!(table.count("live", "s"), 1);
        let gone = table.expire(t0 + Duration::from_secs(30), Duration::from_secs(30));
        assert_eq!(gone.iter().map(|s| s.stream.as_str()).collect::<Vec<_>>(), ["t"]);
        assert_eq!(table.len(), 1);
        assert_eq!(
            table
                .expire(later + Duration::from_secs(30), Duration::from_secs(30))
                .len(),
            1
        );
        assert!(table.is_empty());
    }
}
