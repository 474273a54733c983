//! Viewers over HTTP (HTTP-FLV): governed like RTMP players. A viewer's request resolves the
//! stream's policy (`apps_strict`), goes through the same decision point (play keys from
//! `?key=`, `on_play` hooks), joins the stream as a subscription with the players' drop
//! policy, and counts as a player (play_started/play_stopped events, so `on_play_done`
//! hooks and metrics see it). `flv_body` writes the FLV stream: header, then the stream's
//! metadata, sequence headers, cached GOP and live frames, until the publisher leaves, the
//! viewer falls too far behind (evicted) or the server shuts down.

use super::context::ServerContext;
use crate::decision::{resolve, Action, DecisionPoint, KeyCheck, Outcome, Request, DECISION_TIMEOUT};
use crate::events::{Event, Query, SessionEnd, StreamName};
use crate::live::registry::StreamKey;
use crate::live::subscription::{Subscriber, Subscription, SubscriptionEvent};
use crate::live::PlayerClock;
use crate::ops::metrics::Metrics;
use crate::policy::StreamPolicy;
use log::{info, warn};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a viewer's writer waits for a frame before it checks for shutdown.
const VIEWER_POLL: Duration = Duration::from_millis(500);

/// Why a viewer is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewRefusal {
    /// No `[[app]]` table matches and `apps_strict` is on: 404.
    NoSuchApp,
    /// Keys, address lists or a hook said no (or did not answer in time): 403.
    Denied(String),
    /// Nothing is published there now: 404.
    NotPublished,
    /// The server is stopping: 503.
    ShuttingDown,
}

/// An admitted viewer, subscribed to its stream.
pub struct Viewer {
    ctx: Arc<ServerContext>,
    key: StreamKey,
    conn_id: u64,
    remote: SocketAddr,
    query: String,
    subscription: Subscription,
}

/// Asks the play decision for a viewer over HTTP (`what` names it in log lines: http-flv,
/// hls): the stream's policy (`apps_strict`), address lists, play keys from `query`, then
/// `on_play` hooks. Returns the viewer's connection id and the stream's policy.
pub fn decide_view(
    ctx: &ServerContext,
    key: &StreamKey,
    query: &str,
    remote: SocketAddr,
    what: &str,
) -> Result<(u64, Arc<StreamPolicy>), ViewRefusal> {
    let conn_id = ctx.next_conn_id();
    let Some(policy) = ctx.policies.current().resolve(&key.app, &key.stream) else {
        warn!(
            "{what} play refused conn_id={conn_id} remote={remote} app={} stream={} error=\"no [[app]] table matches (apps_strict)\"",
            key.app, key.stream
        );
        return Err(ViewRefusal::NoSuchApp);
    };
    let request = Request {
        action: Action::Play,
        app: key.app.clone(),
        stream: key.stream.clone(),
        query: query.to_owned(),
        remote,
        conn_id: Some(conn_id),
    };
    let keys = KeyCheck::new(&policy.allow_publish, &policy.auth);
    let later = ctx.hooks.decider.as_deref();
    let verdict = DecisionPoint::new(keys, later).decide(&request);
    let timeout = later.map_or(DECISION_TIMEOUT, |_| ctx.config.hooks.timeout);
    let refused = |why: String| {
        Metrics::add(&ctx.metrics.auth_failures, 1);
        warn!(
            "{what} play denied conn_id={conn_id} remote={remote} app={} stream={} error=\"{why}\"",
            key.app, key.stream
        );
        Err(ViewRefusal::Denied(why))
    };
    match resolve(verdict, timeout, &|| ctx.is_shutting_down()) {
        Outcome::Allowed => Ok((conn_id, policy)),
        Outcome::Denied(denial) => refused(denial.to_string()),
        Outcome::TimedOut(after) => refused(format!("decision timed out after {}s", after.as_secs())),
        Outcome::Stopped => Err(ViewRefusal::ShuttingDown),
    }
}

/// Admits a viewer of app/stream from `remote` with `query` (which may carry `key=`).
pub fn admit(ctx: &Arc<ServerContext>, key: StreamKey, query: &str, remote: SocketAddr) -> Result<Viewer, ViewRefusal> {
    let (conn_id, _policy) = decide_view(ctx, &key, query, remote, "http-flv")?;
    // Unlike an RTMP player, an HTTP viewer does not wait for a publisher.
    let Some(stream) = ctx.registry.get(&key).filter(|s| s.publisher().is_some()) else {
        return Err(ViewRefusal::NotPublished);
    };
    let control = crossbeam_channel::bounded(1).1;
    let subscription = Subscription::join(
        &ctx.registry,
        &stream,
        conn_id,
        ctx.config.play.player,
        Subscriber::Player { control },
    );
    Metrics::add(&ctx.metrics.plays_total, 1);
    info!(
        "http-flv play conn_id={conn_id} remote={remote} app={} stream={}",
        key.app, key.stream
    );
    ctx.events.emit(Event::PlayStarted {
        name: StreamName::new(&key.app, &key.stream),
        conn_id,
        remote,
        query: Query(query.to_owned()),
    });
    Ok(Viewer {
        ctx: Arc::clone(ctx),
        key,
        conn_id,
        remote,
        query: query.to_owned(),
        subscription,
    })
}

impl Viewer {
    /// Writes the stream as FLV to `out` until it ends; logs and reports the end.
    pub fn flv_body(self, out: &mut dyn Write) -> io::Result<()> {
        let started = Instant::now();
        let mut sent = 0u64;
        let result = self.write_flv(out, &mut sent);
        let reason = match &result {
            Ok(reason) => (*reason).to_owned(),
            Err(e) => format!("write failed: {e}"),
        };
        info!(
            "http-flv play ended conn_id={} app={} stream={} reason=\"{reason}\" bytes={sent}",
            self.conn_id, self.key.app, self.key.stream
        );
        self.ctx.events.emit(Event::PlayStopped {
            name: StreamName::new(&self.key.app, &self.key.stream),
            end: SessionEnd {
                conn_id: self.conn_id,
                reason,
                remote: self.remote,
                query: Query(self.query.clone()),
                duration_ms: started.elapsed().as_millis() as u64,
                bytes: sent,
            },
        });
        result.map(|_| ())
    }

    /// The FLV header, then one tag per frame; returns why it stopped.
    fn write_flv(&self, out: &mut dyn Write, sent: &mut u64) -> io::Result<&'static str> {
        out.write_all(&crate::flv::writer::file_header(true, true))?;
        let mut clock = PlayerClock::starting_at(self.subscription.base);
        let mut tag = Vec::with_capacity(64 * 1024);
        loop {
            match self.subscription.next_event(VIEWER_POLL) {
                SubscriptionEvent::Media(media) => {
                    tag.clear();
                    let timestamp = clock.out(&media);
                    let encoded =
                        crate::flv::writer::encode_tag(media.kind.tag_type(), timestamp, &media.payload, &mut tag);
                    if encoded.is_err() {
                        continue;
                    }
                    out.write_all(&tag)?;
                    *sent += tag.len() as u64;
                }
                SubscriptionEvent::Idle if self.ctx.is_shutting_down() => return Ok("shutdown"),
                SubscriptionEvent::Idle | SubscriptionEvent::Published => {}
                SubscriptionEvent::Unpublished | SubscriptionEvent::Ended => return Ok("unpublished"),
                SubscriptionEvent::Evicted(reason) => {
                    warn!(
                        "http-flv viewer too slow, disconnected conn_id={} remote={} app={} stream={} reason={reason:?}",
                        self.conn_id, self.remote, self.key.app, self.key.stream
                    );
                    return Ok("evicted");
                }
            }
        }
    }
}
