//! One bench publisher: connects, publishes the prelude and then the looped cycle (paced by
//! timestamps or as fast as possible) until the run's duration, stamps AVC frames with the
//! send clock, and unpublishes.

use super::media::{stamp_into, BenchMedia};
use super::Clock;
use crate::client::{ClientResult, RtmpClient};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where and how one publisher publishes.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    pub server: SocketAddr,
    pub app: String,
    pub stream: String,
    pub realtime: bool,
    pub duration: Duration,
    pub timeout: Duration,
    /// Stamp AVC frames with the send clock (off: frames go out byte-identical to the media).
    pub stamp: bool,
}

/// What one publisher sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub frames: u64,
    /// Coded video frames from the first keyframe on (what a player that kept up receives).
    pub video_frames: u64,
    pub bytes: u64,
}

/// Publishes until the plan's duration is over; the error ends the publish early.
pub fn publish(plan: &PublishPlan, media: &BenchMedia, clock: &Clock) -> ClientResult<Published> {
    let mut client = RtmpClient::connect(plan.server, &plan.app, plan.timeout)?;
    client.publish(&plan.stream)?;
    let mut sent = Published::default();
    for frame in &media.prelude {
        client.send_frame(frame.kind, frame.timestamp, &frame.body)?;
        sent.frames += 1;
        sent.bytes += frame.body.len() as u64;
    }
    client.flush()?;
    let start = Instant::now();
    let duration_ms = u64::try_from(plan.duration.as_millis()).unwrap_or(u64::MAX);
    let mut seen_keyframe = false;
    let mut stamped = Vec::new();
    'run: for round in 0u64.. {
        for frame in &media.cycle {
            let offset_ms = round * u64::from(media.cycle_ms) + u64::from(frame.timestamp);
            if plan.realtime {
                if offset_ms >= duration_ms {
                    break 'run;
                }
                let due = start + Duration::from_millis(offset_ms);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            } else if start.elapsed() >= plan.duration {
                break 'run;
            }
            let timestamp = media.timestamp(round, frame);
            let body = if plan.stamp && frame.stampable() {
                stamp_into(&frame.body, clock.nanos(), &mut stamped);
                stamped.as_slice()
            } else {
                frame.body.as_slice()
            };
            client.send_frame(frame.kind, timestamp, body)?;
            client.flush()?;
            sent.frames += 1;
            sent.bytes += body.len() as u64;
            if frame.is_coded_video() {
                seen_keyframe |= frame.keyframe;
                if seen_keyframe {
                    sent.video_frames += 1;
                }
            }
        }
        if media.cycle.is_empty() {
            break;
        }
    }
    client.unpublish()?;
    Ok(sent)
}
