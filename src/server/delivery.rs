//! What a publisher's thread does with a fan-out's report (RTMP and SRT alike): counts the
//! frames players dropped, logs players that fell behind or caught up, and closes players
//! the stream evicted (a push relay subscribes again by itself). Also the coalescing timer:
//! players' held frames are sent when their window passes.

use super::context::ServerContext;
use crate::live::stream::{DeliveryReport, Stream, StreamKey};
use crate::ops::metrics::Metrics;
use log::{info, warn};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub fn handle_delivery(ctx: &ServerContext, key: &StreamKey, report: &DeliveryReport) {
    Metrics::add(&ctx.metrics.player_dropped_frames, report.dropped);
    Metrics::add(&ctx.metrics.player_coalesced_frames, report.coalesced);
    for conn_id in &report.fell_behind {
        warn!(
            "player falling behind, dropping frames until a keyframe conn_id={conn_id} app={} stream={}",
            key.app, key.stream
        );
    }
    for (conn_id, dropped) in &report.caught_up {
        info!(
            "player caught up conn_id={conn_id} app={} stream={} dropped_frames={dropped}",
            key.app, key.stream
        );
    }
    for removed in &report.removed {
        if removed.push {
            // A push has no connection to close: it sees the eviction and subscribes again.
            warn!(
                "push evicted, it subscribes again conn_id={} app={} stream={} reason={}",
                removed.conn_id,
                key.app,
                key.stream,
                removed.reason.as_str()
            );
            continue;
        }
        warn!(
            "player disconnected, too far behind conn_id={} app={} stream={} dropped_frames={} reason={}",
            removed.conn_id,
            key.app,
            key.stream,
            removed.dropped_frames,
            removed.reason.as_str()
        );
        Metrics::add(&ctx.metrics.kicks, 1);
        ctx.kick(removed.conn_id, "player_too_slow");
    }
}

/// Sends the frames `stream`'s players hold if their coalescing window has passed.
pub fn flush_due(ctx: &ServerContext, stream: &Stream, generation: u64, now: Instant) {
    if stream.held_deadline().is_some_and(|deadline| deadline <= now) {
        let report = stream.flush_held(generation, now);
        handle_delivery(ctx, &stream.key, &report);
    }
}

/// Waits until `socket` has input (or an error or hang-up, which the read then meets) or
/// `deadline` passes; false when the deadline came first. Precise to microseconds, unlike a
/// socket read timeout.
pub fn readable_before(socket: &TcpStream, deadline: Instant) -> bool {
    let wait = deadline.saturating_duration_since(Instant::now());
    let timeout = Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    let mut fds = [PollFd::new(socket, PollFlags::IN)];
    !matches!(poll(&mut fds, Some(&timeout)), Ok(0))
}

/// How long a publisher's read may wait: `limit`, or less when held frames fall due sooner
/// (never zero, which would mean no timeout).
pub fn read_wait(limit: Duration, deadline: Option<Instant>, now: Instant) -> Duration {
    match deadline {
        Some(deadline) => limit
            .min(deadline.saturating_duration_since(now))
            .max(Duration::from_micros(100)),
        None => limit,
    }
}
