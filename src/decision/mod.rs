//! The one decision point for publish and play requests. A [`Request`] goes through the
//! synchronous key stage (--allow-publish, key files: [`KeyCheck`]) and then, if allowed, an
//! optional later [`Decider`] that may answer at once or later ([`Verdict::Pending`]).
//! [`resolve`] waits for a pending answer up to [`DECISION_TIMEOUT`]; a decision that never
//! comes refuses the client like a denial. Pure logic: no socket, no session, no context
//! (the connection's use of it is `server::decision_glue`). The publish conflict check is
//! not here: it stays with the registry, after an Allow. The hooks module implements a
//! later [`Decider`].

use crate::ops::auth::Denied;
use crate::protocol::session::{ServerSession, SessionError};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod keys;

pub use keys::KeyCheck;

/// How long a connection waits for a pending decision before it refuses the client.
pub const DECISION_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a wait for a pending decision checks whether it should stop (server shutdown).
pub const DECISION_POLL: Duration = Duration::from_millis(100);

/// What the client asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Publish,
    Play,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Play => "play",
        }
    }
}

/// A publish or play request to decide.
#[derive(Clone)]
pub struct Request {
    pub action: Action,
    pub app: String,
    pub stream: String,
    /// The stream name's query (may hold a key: never logged).
    pub query: String,
    pub remote: SocketAddr,
    /// The asking connection, when there is one.
    pub conn_id: Option<u64>,
}

impl fmt::Debug for Request {
    /// Leaves the query out: it may hold a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("action", &self.action)
            .field("app", &self.app)
            .field("stream", &self.stream)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// Why a request was refused (for the log; the peer only sees the status code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The key stage: address not allowed, missing or wrong key...
    Auth(Denied),
    /// A later decider's own reason.
    Decider(String),
    /// A pending decider dropped its answer channel without answering.
    NoAnswer,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::Auth(denied) => write!(f, "{denied}"),
            Denial::Decider(why) => write!(f, "{why}"),
            Denial::NoAnswer => write!(f, "decider gave no answer"),
        }
    }
}

/// A decider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allow,
    Deny(Denial),
}

/// A decider's reply to a request: the answer now, or a channel that yields it later.
#[derive(Debug)]
pub enum Verdict {
    Ready(Answer),
    Pending(Receiver<Answer>),
}

/// A stage that decides requests the key stage allowed (the next issue's HTTP callback).
/// It must not block: an answer that takes time comes as `Verdict::Pending`.
pub trait Decider: Send + Sync {
    fn decide(&self, request: &Request) -> Verdict;
}

/// The decision point: the key stage, then the later decider if there is one.
pub struct DecisionPoint<'a> {
    keys: KeyCheck<'a>,
    later: Option<&'a dyn Decider>,
}

impl<'a> DecisionPoint<'a> {
    pub fn new(keys: KeyCheck<'a>, later: Option<&'a dyn Decider>) -> Self {
        DecisionPoint { keys, later }
    }

    /// The key stage answers at once; only a request it allows reaches the later decider.
    pub fn decide(&self, request: &Request) -> Verdict {
        match self.keys.check(request) {
            Err(denied) => Verdict::Ready(Answer::Deny(Denial::Auth(denied))),
            Ok(()) => match self.later {
                Some(decider) => decider.decide(request),
                None => Verdict::Ready(Answer::Allow),
            },
        }
    }
}

/// How a request ended up, once waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied(Denial),
    /// No answer within the timeout: the client is refused as if denied.
    TimedOut(Duration),
    /// `stop` said to give up (server shutdown) before the answer came.
    Stopped,
}

/// Turns a verdict into an outcome: a pending one is waited for up to `timeout`, checking
/// `stop` every [`DECISION_POLL`]. Blocks the calling thread, which reads nothing meanwhile.
pub fn resolve(verdict: Verdict, timeout: Duration, stop: &dyn Fn() -> bool) -> Outcome {
    let receiver = match verdict {
        Verdict::Ready(answer) => return outcome(answer),
        Verdict::Pending(receiver) => receiver,
    };
    let deadline = Instant::now() + timeout;
    loop {
        if stop() {
            return Outcome::Stopped;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            return Outcome::TimedOut(timeout);
        };
        match receiver.recv_timeout(left.min(DECISION_POLL)) {
            Ok(answer) => return outcome(answer),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Outcome::Denied(Denial::NoAnswer),
        }
    }
}

/// Refuses a request on the session as the peer sees any refusal (denied, timed out):
/// NetStream.Publish.BadName or NetStream.Play.Failed.
pub fn refuse(session: &mut ServerSession, action: Action, stream_id: u32) -> Result<(), SessionError> {
    match action {
        Action::Publish => session.reject_publish(stream_id, "NetStream.Publish.BadName", "Publish not authorized"),
        Action::Play => session.reject_play(stream_id, "NetStream.Play.Failed", "Play not authorized"),
    }
}

fn outcome(answer: Answer) -> Outcome {
    match answer {
        Answer::Allow => Outcome::Allowed,
        Answer::Deny(denial) => Outcome::Denied(denial),
    }
}

#[cfg(test)]
mod tests;
