//! One push's thread: subscribes to the stream (bounded queue, keyframe-aware drop),
//! connects upstream as a client (handshake, connect, releaseStream, FCPublish,
//! createStream, publish), sends what the stream gives it (metadata and sequence headers
//! first, then frames from a keyframe) and, when the upstream fails, unsubscribes, waits
//! (backoff) and starts again. When the stream evicts it (its upstream is too slow for even
//! the essential data to fit its budget), it subscribes again on the same upstream
//! connection and resumes at a keyframe it has not sent. The publisher never waits for it.

use super::backoff::retry_delay;
use super::status::PushStatus;
use super::timeline::PushTimeline;
use crate::client::url::RtmpUrl;
use crate::client::{ClientError, RtmpClient};
use crate::events::{Event, EventBus, StreamName};
use crate::live::drop_policy::{DropPolicy, EvictReason};
use crate::live::registry::Registry;
use crate::live::stream::Stream;
use crate::live::subscription::{Subscriber, Subscription, SubscriptionEvent};
use crossbeam_channel::{Receiver, RecvTimeoutError};
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
    pub registry: Arc<Registry>,
    pub stream: Arc<Stream>,
    /// The queue budget of the push's subscription (lag never evicts a push).
    pub policy: DropPolicy,
    /// Verifies rtmps:// upstreams.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub events: Arc<EventBus>,
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
    /// The stream evicted the push: subscribe again, keep the upstream.
    Evicted(EvictReason),
    Failed(ClientError),
}

/// Subscribes a push to its stream; its queue never evicts it for lag.
pub(super) fn subscribe(
    registry: &Arc<Registry>,
    stream: &Arc<Stream>,
    conn_id: u64,
    policy: DropPolicy,
) -> Subscription {
    let policy = DropPolicy {
        max_lag: PUSH_MAX_LAG,
        ..policy
    };
    Subscription::join(registry, stream, conn_id, policy, Subscriber::Push)
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

    /// Runs the push until it is stopped. `subscription` is the one made when the stream
    /// was published, so the first connection misses nothing.
    pub(super) fn run(self, subscription: Subscription) {
        let mut subscription = Some(subscription);
        let mut upstream: Option<RtmpClient> = None;
        let mut timeline = PushTimeline::new();
        let mut failures: u32 = 0;
        info!("push started {}", self.describe());
        while !self.stopped() {
            let current = match subscription.take() {
                Some(current) => current,
                None => subscribe(&self.registry, &self.stream, self.conn_id, self.policy),
            };
            let client = match upstream.take() {
                Some(client) => Ok(client),
                None => self.connect().inspect(|_| {
                    failures = 0;
                    self.set_connected(true);
                    info!("push connected {} conn_id={}", self.describe(), self.conn_id);
                    timeline.reconnected();
                }),
            };
            let (ended, client) = match client {
                Ok(mut client) => {
                    let ended = self.stream_to(&mut client, &current, &mut timeline);
                    (ended, Some(client))
                }
                Err(e) => (Ended::Failed(e), None),
            };
            // Leaves the stream: while the upstream is away the stream does not feed this
            // push at all, and an evicted push joins afresh.
            drop(current);
            match ended {
                Ended::Stopped => {
                    if let Some(mut client) = client {
                        if self.clean_end.load(Ordering::SeqCst) {
                            let _ = client.unpublish_no_wait();
                        }
                    }
                    break;
                }
                Ended::Evicted(reason) => {
                    warn!(
                        "push subscribes again {} reason={} conn_id={}",
                        self.describe(),
                        reason.as_str(),
                        self.conn_id
                    );
                    // Resumes at a keyframe not sent yet, on the same upstream connection.
                    timeline.reconnected();
                    upstream = client;
                }
                Ended::Failed(error) => {
                    self.set_connected(false);
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
            }
        }
        self.set_connected(false);
        let bytes = self.status.snapshot().bytes;
        info!("push stopped {} bytes={bytes}", self.describe());
    }

    /// Updates the status and tells the observers when the upstream state changes.
    fn set_connected(&self, connected: bool) {
        if self.status.snapshot().connected != connected {
            self.status.set_connected(connected);
            self.events.emit(Event::PushStateChanged {
                name: StreamName::new(&self.status.app, &self.status.stream),
                url: self.status.url.clone(),
                connected,
            });
        }
    }

    fn connect(&self) -> Result<RtmpClient, ClientError> {
        let mut client = RtmpClient::connect_url(&self.url, self.tls.as_ref(), PUSH_TIMEOUT)?;
        client.publish(&self.url.stream)?;
        Ok(client)
    }

    /// Sends the subscription's frames until the stream ends, evicts the push, or the
    /// upstream fails.
    fn stream_to(&self, client: &mut RtmpClient, subscription: &Subscription, timeline: &mut PushTimeline) -> Ended {
        let mut next_poll = Instant::now() + PUSH_POLL_INTERVAL;
        loop {
            let event = match subscription.next_event_or_stop(&self.stop, PUSH_POLL_INTERVAL) {
                Some(event) => event,
                None => {
                    // Stopped: the publisher has sent its last frame; send what is queued.
                    while let Some(event) = subscription.try_next_event() {
                        if let Err(e) = self.send(client, timeline, event) {
                            return Ended::Failed(e);
                        }
                    }
                    return match client.flush() {
                        Ok(()) => Ended::Stopped,
                        Err(e) => Ended::Failed(e),
                    };
                }
            };
            let end = match event {
                SubscriptionEvent::Evicted(reason) => Some(Ended::Evicted(reason)),
                SubscriptionEvent::Ended => Some(Ended::Stopped),
                _ => None,
            };
            if let Some(end) = end {
                return match client.flush() {
                    Ok(()) => end,
                    Err(e) => Ended::Failed(e),
                };
            }
            if let Err(e) = self.send(client, timeline, event) {
                return Ended::Failed(e);
            }
            if subscription.is_empty() {
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
        timeline: &mut PushTimeline,
        event: SubscriptionEvent,
    ) -> Result<(), ClientError> {
        // Publish/unpublish notices are for players; the push's life follows the stream.
        let SubscriptionEvent::Media(media) = event else {
            return Ok(());
        };
        let Some(timestamp) = timeline.map(media.kind, media.timestamp, media.keyframe, media.sequence_header) else {
            return Ok(());
        };
        client.send_frame(media.kind, timestamp, &media.payload)?;
        self.status.add_bytes(media.payload.len() as u64);
        Ok(())
    }
}
