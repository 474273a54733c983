//! The publish decision for an SRT caller, run on its own thread while the handshake waits:
//! the stream id, the stream's policy (`apps_strict`), the same decision point as RTMP
//! (address list, publish keys, `on_publish` hooks), then the passphrase the caller must
//! use. The answer is the access-control response the SRT core sends.

use crate::decision::{resolve, Action, DecisionPoint, KeyCheck, Outcome, Request, DECISION_TIMEOUT};
use crate::ops::metrics::Metrics;
use crate::policy::StreamPolicy;
use crate::server::context::ServerContext;
use crate::srt::guard::CallerCrypto;
use crate::srt::passphrase::read_passphrase;
use crate::srt::{parse_stream_id, SrtTarget};
use log::{error, warn};
use srt_protocol::packet::{CoreRejectReason, RejectReason, ServerRejectReason};
use srt_protocol::settings::KeySettings;
use std::net::SocketAddr;
use std::sync::Arc;

/// An allowed publish: what it publishes, under which policy, with which key.
#[derive(Debug)]
pub struct Allowed {
    pub target: SrtTarget,
    pub policy: Arc<StreamPolicy>,
    pub key_settings: Option<KeySettings>,
}

/// Decides caller `conn_id`'s publish; a refusal is logged here (never the query or the
/// passphrase) and carries the reason the caller is told.
pub fn decide(
    ctx: &ServerContext,
    conn_id: u64,
    remote: SocketAddr,
    stream_id: Option<&str>,
    crypto: CallerCrypto,
) -> Result<Allowed, RejectReason> {
    let refused = |error: &str, reason: RejectReason| {
        warn!("publish refused conn_id={conn_id} remote={remote} transport=srt error=\"{error}\"");
        reason
    };
    let target = parse_stream_id(stream_id).map_err(|e| {
        let reason = match e {
            crate::srt::StreamIdError::UnsupportedMode(_) => ServerRejectReason::BadMode,
            _ => ServerRejectReason::BadRequest,
        };
        refused(&e.to_string(), RejectReason::Server(reason))
    })?;
    let (app, stream) = (&target.app, &target.stream);
    let Some(policy) = ctx.policies.current().resolve(app, stream) else {
        warn!(
            "publish refused conn_id={conn_id} remote={remote} app={app} stream={stream} transport=srt error=\"no [[app]] table matches (apps_strict)\""
        );
        return Err(RejectReason::Server(ServerRejectReason::Notfound));
    };
    let request = Request {
        action: Action::Publish,
        app: app.clone(),
        stream: stream.clone(),
        query: target.query.clone(),
        remote,
        conn_id: Some(conn_id),
    };
    let keys = KeyCheck::new(&policy.allow_publish, &policy.auth);
    let later = ctx.hooks.decider.as_deref();
    let verdict = DecisionPoint::new(keys, later).decide(&request);
    let timeout = match later {
        Some(_) => ctx.config.hooks.timeout,
        None => DECISION_TIMEOUT,
    };
    match resolve(verdict, timeout, &|| ctx.is_shutting_down()) {
        Outcome::Allowed => {}
        Outcome::Stopped => return Err(RejectReason::Server(ServerRejectReason::Down)),
        Outcome::Denied(denial) => {
            warn!("publish denied conn_id={conn_id} remote={remote} app={app} stream={stream} transport=srt error=\"{denial}\"");
            Metrics::add(&ctx.metrics.auth_failures, 1);
            return Err(RejectReason::Server(ServerRejectReason::Unauthorized));
        }
        Outcome::TimedOut(after) => {
            warn!(
                "publish decision timed out conn_id={conn_id} remote={remote} app={app} stream={stream} transport=srt timeout_s={}",
                after.as_secs()
            );
            Metrics::add(&ctx.metrics.auth_failures, 1);
            return Err(RejectReason::Server(ServerRejectReason::Unauthorized));
        }
    }
    let key_settings = match (&policy.srt_passphrase_file, crypto) {
        (None, CallerCrypto::Encrypted(_)) => {
            return Err(refused(
                "caller encrypts but no --srt-passphrase-file applies",
                RejectReason::Core(CoreRejectReason::Unsecure),
            ))
        }
        (None, _) => None,
        (Some(_), CallerCrypto::Plain | CallerCrypto::NotStated) => {
            Metrics::add(&ctx.metrics.auth_failures, 1);
            return Err(refused(
                "passphrase required, caller does not encrypt",
                RejectReason::Core(CoreRejectReason::Unsecure),
            ));
        }
        (Some(path), CallerCrypto::Encrypted(key_size)) => match read_passphrase(path) {
            Ok(passphrase) => match passphrase.expose().to_owned().try_into() {
                Ok(passphrase) => Some(KeySettings { key_size, passphrase }),
                Err(_) => return Err(RejectReason::Server(ServerRejectReason::InternalServerError)),
            },
            Err(e) => {
                error!("srt passphrase unusable conn_id={conn_id} error=\"{e}\"");
                return Err(RejectReason::Server(ServerRejectReason::InternalServerError));
            }
        },
    };
    Ok(Allowed {
        target,
        policy,
        key_settings,
    })
}
