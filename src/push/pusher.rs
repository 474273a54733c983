//! One push's thread: subscribes to the stream like a player (bounded queue, keyframe-aware
//! drop), connects upstream as a client (handshake, connect, releaseStream, FCPublish,
//! createStream, publish), sends what the stream gives it (metadata and sequence headers
//! first, then frames from a keyframe) and, when the upstream fails, unsubscribes, waits
//! (backoff) and starts again. The publisher never waits for it.

use super::backoff::retry_delay;
use super::status::PushStatus;
use super::timeline::PushTimeline;
use crate::client::url::RtmpUrl;
use crate::client::{ClientError, RtmpClient};
use crate::server::context::ServerContext;
use crate::server::player::{player_channel, PlayerItem, PlayerLimits, PlayerWriterInput};
use crate::server::stream::Stream;
use crossbeam_channel::{select, Receiver, RecvTimeoutError};
use log::{info, warn};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connect, read and write timeout of an upstream connection.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a connected push handles what the upstream sent (pings, errors).
pub const PUSH_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A push is never disconnected for lag: a slow upstream drops frames until a keyframe fits
/// its queue, and a dead one fails its write timeout and reconnects.
pub const PUSH_MAX_LAG: Duration = Duration::MAX;

/// Everything a push thread needs.
pub(super) struct Pusher {
    pub ctx: Arc<ServerContext>,
    pub stream: Arc<Stream>,
    pub conn_id: u64,
    pub url: RtmpUrl,
    pub status: Arc<PushStatus>,
    /// Disconnected (never sent on) when the push must stop.
    pub stop: Receiver<()>,
    /// Read once stopped: unpublish upstream (the publisher did) or only close.
    pub clean_end: Arc<AtomicBool>,
}

/// Why streaming to a connected upstream ended.
enum Ended {
    /// The stream ended (or the server stops): everything queued was sent.
    Stopped,
    Failed(ClientError),
}

/// Subscribes a push to its stream as a player; returns the queue it reads.
pub(super) fn subscribe(stream: &Stream, conn_id: u64, queue_bytes: usize) -> PlayerWriterInput {
    let limits = PlayerLimits {
        queue_bytes,
        max_lag: PUSH_MAX_LAG,
    };
    // A push has no session replies to interleave: its control channel stays empty.
    let (_control, control_rx) = crossbeam_channel::bounded(1);
    let (mut handle, input) = player_channel(conn_id, limits, control_rx);
    handle.push = true;
    stream.add_player(handle);
    input
}

impl Pusher {
    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(crossbeam_channel::TryRecvError::Disconnected))
    }

    fn describe(&self) -> String {
        format!(
            "app={} stream={} url={}",
            self.status.app, self.status.stream, self.status.url
        )
    }

    /// Runs the push until it is stopped. `input` is the subscription made when the stream
    /// was published, so the first connection misses nothing.
    pub(super) fn run(self, input: PlayerWriterInput) {
        let mut subscription = Some(input);
        let mut timeline = PushTimeline::new();
        let mut failures: u32 = 0;
        let queue_bytes = self.ctx.config.play.player.queue_bytes;
        info!("push started {}", self.describe());
        while !self.stopped() {
            let input = match subscription.take() {
                Some(input) => input,
                None => subscribe(&self.stream, self.conn_id, queue_bytes),
            };
            // Stopped meanwhile: the stop removed the old handle, not this one.
            if self.stopped() {
                self.ctx.registry.stop_play(&self.stream, self.conn_id);
                break;
            }
            let ended = match self.connect() {
                Ok(mut client) => {
                    failures = 0;
                    self.status.set_connected(true);
                    info!("push connected {} conn_id={}", self.describe(), self.conn_id);
                    timeline.reconnected();
                    let ended = self.stream_to(&mut client, &input, &mut timeline);
                    self.status.set_connected(false);
                    if let Ended::Stopped = ended {
                        if self.clean_end.load(Ordering::SeqCst) {
                            let _ = client.unpublish_no_wait();
                        }
                    }
                    ended
                }
                Err(e) => Ended::Failed(e),
            };
            let Ended::Failed(error) = ended else {
                break;
            };
            // While the upstream is away the stream does not feed this push at all.
            self.ctx.registry.stop_play(&self.stream, self.conn_id);
            drop(input);
            failures = failures.saturating_add(1);
            let delay = retry_delay(failures);
            let retries = self.status.failed(error.to_string());
            warn!(
                "push failed {} retries={retries} retry_in_ms={} error=\"{error}\"",
                self.describe(),
                delay.as_millis()
            );
            if let Ok(()) | Err(RecvTimeoutError::Disconnected) = self.stop.recv_timeout(delay) {
                break;
            }
        }
        self.ctx.registry.stop_play(&self.stream, self.conn_id);
        let bytes = self.status.snapshot().bytes;
        info!("push stopped {} bytes={bytes}", self.describe());
    }

    fn connect(&self) -> Result<RtmpClient, ClientError> {
        let mut client = RtmpClient::connect_url(&self.url, self.ctx.pushes.tls_config(), PUSH_TIMEOUT)?;
        client.publish(&self.url.stream)?;
        Ok(client)
    }

    /// Sends the queue's frames until the stream ends or the upstream fails.
    fn stream_to(&self, client: &mut RtmpClient, input: &PlayerWriterInput, timeline: &mut PushTimeline) -> Ended {
        let mut next_poll = Instant::now() + PUSH_POLL_INTERVAL;
        loop {
            let item = select! {
                recv(input.media) -> item => item.ok(),
                recv(self.stop) -> _ => None,
                default(PUSH_POLL_INTERVAL) => {
                    if let Err(e) = self.poll(client, &mut next_poll) {
                        return Ended::Failed(e);
                    }
                    continue;
                }
            };
            let Some(item) = item else {
                // Stopped: the publisher has sent its last frame; send what is queued.
                while let Ok(item) = input.media.try_recv() {
                    if let Err(e) = self.send(client, input, timeline, item) {
                        return Ended::Failed(e);
                    }
                }
                return match client.flush() {
                    Ok(()) => Ended::Stopped,
                    Err(e) => Ended::Failed(e),
                };
            };
            if let Err(e) = self.send(client, input, timeline, item) {
                return Ended::Failed(e);
            }
            if input.media.is_empty() {
                if let Err(e) = client.flush() {
                    return Ended::Failed(e);
                }
            }
            if let Err(e) = self.poll(client, &mut next_poll) {
                return Ended::Failed(e);
            }
        }
    }

    fn poll(&self, client: &mut RtmpClient, next_poll: &mut Instant) -> Result<(), ClientError> {
        let now = Instant::now();
        if now < *next_poll {
            return Ok(());
        }
        *next_poll = now + PUSH_POLL_INTERVAL;
        client.poll_incoming(PUSH_TIMEOUT)
    }

    fn send(
        &self,
        client: &mut RtmpClient,
        input: &PlayerWriterInput,
        timeline: &mut PushTimeline,
        item: PlayerItem,
    ) -> Result<(), ClientError> {
        let PlayerItem::Media(media) = item else {
            // Publish/unpublish notices are for players; the push's life follows the stream.
            return Ok(());
        };
        let len = media.payload.len();
        input.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        let Some(timestamp) = timeline.map(media.kind, media.timestamp, media.keyframe, media.sequence_header) else {
            return Ok(());
        };
        client.send_frame(media.kind, timestamp, &media.payload)?;
        self.status.add_bytes(len as u64);
        Ok(())
    }
}
