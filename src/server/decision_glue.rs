//! The connection's side of the decision point: it builds the request, asks, waits for a
//! pending answer (reading nothing from its socket meanwhile) and refuses the client, with
//! a log line, when the answer is not Allow.

use crate::decision::{refuse, resolve, Action, DecisionPoint, KeyCheck, Outcome, Request, DECISION_TIMEOUT};
use crate::live::registry::StreamKey;
use crate::ops::metrics::Metrics;
use crate::policy::StreamPolicy;
use crate::server::connection::{CloseReason, Connection};
use log::warn;
use std::sync::Arc;

impl Connection {
    /// The policy of `key` (see `policy`), or, with `apps_strict` and no `[[app]]` table
    /// matching it, the refusal (logged, Publish.BadName / Play.StreamNotFound) and why the
    /// connection closes.
    pub(in crate::server) fn policy_for(
        &mut self,
        action: Action,
        stream_id: u32,
        key: &StreamKey,
    ) -> Result<Arc<StreamPolicy>, CloseReason> {
        if let Some(policy) = self.ctx.policies.current().resolve(&key.app, &key.stream) {
            return Ok(policy);
        }
        let (conn_id, remote, verb) = (self.conn_id, self.remote, action.as_str());
        warn!(
            "{verb} refused conn_id={conn_id} remote={remote} app={} stream={} error=\"no [[app]] table matches (apps_strict)\"",
            key.app, key.stream
        );
        let _ = match action {
            Action::Publish => {
                self.session
                    .reject_publish(stream_id, "NetStream.Publish.BadName", "No such application")
            }
            Action::Play => self
                .session
                .reject_play(stream_id, "NetStream.Play.StreamNotFound", "No such application"),
        };
        Err(CloseReason::Rejected("no matching [[app]] table"))
    }

    /// Decides this connection's publish or play of `key` under `policy`; blocks while the
    /// answer is pending.
    pub(in crate::server) fn decide(
        &self,
        action: Action,
        key: &StreamKey,
        query: &str,
        policy: &StreamPolicy,
    ) -> Outcome {
        let request = Request {
            action,
            app: key.app.clone(),
            stream: key.stream.clone(),
            query: query.to_owned(),
            remote: self.remote,
            conn_id: Some(self.conn_id),
        };
        let keys = KeyCheck::new(&policy.allow_publish, &policy.auth);
        let later = self.ctx.hooks.decider.as_deref();
        let verdict = DecisionPoint::new(keys, later).decide(&request);
        // With hooks deciding, --hook-timeout bounds the wait (a request still queued then
        // is refused too); else the decision point's own timeout.
        let timeout = match later {
            Some(_) => self.ctx.config.hooks.timeout,
            None => DECISION_TIMEOUT,
        };
        let ctx = &self.ctx;
        resolve(verdict, timeout, &|| ctx.is_shutting_down())
    }

    /// For any outcome but Allowed: logs it, refuses the request on the session and returns
    /// why the connection closes. The query (which may hold a key) is never logged.
    pub(in crate::server) fn refuse_unless_allowed(
        &mut self,
        action: Action,
        stream_id: u32,
        key: &StreamKey,
        outcome: Outcome,
    ) -> Option<CloseReason> {
        let (conn_id, remote, verb) = (self.conn_id, self.remote, action.as_str());
        let (app, stream) = (&key.app, &key.stream);
        let reason = match outcome {
            Outcome::Allowed => return None,
            Outcome::Stopped => return Some(CloseReason::Shutdown),
            Outcome::Denied(denial) => {
                warn!("{verb} denied conn_id={conn_id} remote={remote} app={app} stream={stream} error=\"{denial}\"");
                CloseReason::Rejected(match action {
                    Action::Publish => "publish not authorized",
                    Action::Play => "play not authorized",
                })
            }
            Outcome::TimedOut(after) => {
                warn!(
                    "{verb} decision timed out conn_id={conn_id} remote={remote} app={app} stream={stream} timeout_s={}",
                    after.as_secs()
                );
                CloseReason::Timeout("decision")
            }
        };
        Metrics::add(&self.ctx.metrics.auth_failures, 1);
        let _ = refuse(&mut self.session, action, stream_id);
        Some(reason)
    }
}
