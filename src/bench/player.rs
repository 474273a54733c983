//! One bench player: plays a stream, counts what arrives, measures the latency of stamped
//! video frames, and stops at the publisher's unpublish (NetStream.Play.UnpublishNotify).

use super::media::read_stamp;
use super::Clock;
use crate::client::{ClientError, PlayEvent, RtmpClient};
use crate::media::codec::inspect_video;
use crate::protocol::message::type_id;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const UNPUBLISH_NOTIFY: &str = "NetStream.Play.UnpublishNotify";

/// Where one player plays, and the latest time it may keep reading.
#[derive(Debug, Clone)]
pub struct PlayPlan {
    pub server: SocketAddr,
    pub app: String,
    pub stream: String,
    pub timeout: Duration,
    pub deadline: Instant,
}

/// What one player received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Played {
    pub frames: u64,
    /// Coded video frames from the first keyframe on.
    pub video_frames: u64,
    pub bytes: u64,
    /// Receive minus send time of each stamped video frame, in nanoseconds.
    pub latencies: Vec<u64>,
    /// The same split: keyframes, and every other stamped frame.
    pub keyframe_latencies: Vec<u64>,
    pub inter_latencies: Vec<u64>,
    /// The publisher's unpublish arrived (the player saw the stream to its end).
    pub saw_unpublish: bool,
    /// Jumps in the video timestamps (frames dropped for a slow viewer; HTTP viewers).
    pub gaps: u64,
    /// Why reading stopped early, if it did.
    pub error: Option<String>,
}

/// Connects and sends play; returns once NetStream.Play.Start arrived.
pub fn join(plan: &PlayPlan) -> Result<RtmpClient, ClientError> {
    let mut client = RtmpClient::connect(plan.server, &plan.app, plan.timeout)?;
    client.play(&plan.stream)?;
    Ok(client)
}

/// Reads until the unpublish, an error, or the deadline.
pub fn watch(mut client: RtmpClient, plan: &PlayPlan, clock: &Clock) -> Played {
    let mut played = Played::default();
    let mut seen_keyframe = false;
    while Instant::now() < plan.deadline {
        match client.read_play_event() {
            Ok(PlayEvent::Media(message)) => {
                let received = clock.nanos();
                played.frames += 1;
                played.bytes += message.payload.len() as u64;
                if message.type_id != type_id::VIDEO {
                    continue;
                }
                let info = inspect_video(&message.payload);
                if !info.sequence_header {
                    seen_keyframe |= info.keyframe;
                    if seen_keyframe {
                        played.video_frames += 1;
                    }
                }
                if let Some(sent) = read_stamp(&message.payload) {
                    let latency = received.saturating_sub(sent);
                    played.latencies.push(latency);
                    if info.keyframe {
                        played.keyframe_latencies.push(latency);
                    } else {
                        played.inter_latencies.push(latency);
                    }
                }
            }
            Ok(PlayEvent::Status(code)) => {
                if code == UNPUBLISH_NOTIFY {
                    played.saw_unpublish = true;
                    return played;
                }
            }
            Err(e) => {
                played.error = Some(e.to_string());
                return played;
            }
        }
    }
    played.error = Some("deadline passed before the unpublish".to_owned());
    played
}
