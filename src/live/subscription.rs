//! A subscription to a live stream: one place in the stream's subscriber list. The stream's
//! side (a `PlayerHandle`) offers the shared frames under the subscription's drop policy;
//! the consumer's side reads them with the stream's notices, and learns whether it was
//! evicted (and why) apart from the stream ending. Dropping the `Membership` leaves the
//! stream and lets the registry forget a stream nobody uses. Players, pushes and (through
//! `Stream::headers`) recordings started mid-stream build on it.

use super::drop_policy::{DropPolicy, EvictReason};
use super::player::{player_channel, PlayerItem, PlayerWriterInput, SharedMedia, StreamNotice};
use super::registry::Registry;
use super::stream::Stream;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Who subscribes: a player's writer interleaves the connection's session replies
/// (`control`) with media; a push relay has none.
#[derive(Debug)]
pub enum Subscriber {
    Player { control: Receiver<Vec<u8>> },
    Push,
}

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum SubscriptionEvent {
    Media(Arc<SharedMedia>),
    /// A publisher (re)started the stream.
    Published,
    /// The publisher left; the stream may be published again.
    Unpublished,
    /// The stream removed this subscriber: it must subscribe again to go on.
    Evicted(EvictReason),
    /// The stream let go of this subscriber without evicting it: nothing more will come.
    Ended,
    /// Nothing arrived within the wait.
    Idle,
}

/// The subscription's place in the stream; leaving happens on drop.
#[derive(Debug)]
pub struct Membership {
    registry: Arc<Registry>,
    stream: Arc<Stream>,
    id: u64,
}

impl Membership {
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.registry.stop_play(&self.stream, self.id);
    }
}

/// A consumer's side of a stream: the queue it reads and its membership.
#[derive(Debug)]
pub struct Subscription {
    pub input: PlayerWriterInput,
    pub membership: Membership,
    /// The timestamp the consumer's clock starts at (the earliest cached frame), if any.
    pub base: Option<u32>,
}

impl Subscription {
    /// Joins `stream` as subscriber `id`; it starts from the stream's metadata, sequence
    /// headers and cached GOP.
    pub fn join(
        registry: &Arc<Registry>,
        stream: &Arc<Stream>,
        id: u64,
        policy: DropPolicy,
        subscriber: Subscriber,
    ) -> Subscription {
        let (push, control) = match subscriber {
            Subscriber::Player { control } => (false, control),
            // A push has no session replies to interleave: its control channel stays empty.
            Subscriber::Push => (true, crossbeam_channel::bounded(1).1),
        };
        let (mut handle, input) = player_channel(id, policy, control);
        handle.push = push;
        let base = stream.add_player(handle);
        Subscription {
            input,
            membership: Membership {
                registry: Arc::clone(registry),
                stream: Arc::clone(stream),
                id,
            },
            base,
        }
    }

    /// The next event, waiting at most `timeout`. Media taken off the queue is released
    /// from the subscription's byte budget.
    pub fn next_event(&self, timeout: Duration) -> SubscriptionEvent {
        match self.input.media.recv_timeout(timeout) {
            Ok(item) => self.event(item),
            Err(RecvTimeoutError::Timeout) => SubscriptionEvent::Idle,
            Err(RecvTimeoutError::Disconnected) => self.ended(),
        }
    }

    /// The next queued event without waiting (`None` when the queue is empty).
    pub fn try_next_event(&self) -> Option<SubscriptionEvent> {
        match self.input.media.try_recv() {
            Ok(item) => Some(self.event(item)),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => Some(self.ended()),
        }
    }

    fn event(&self, item: PlayerItem) -> SubscriptionEvent {
        match item {
            PlayerItem::Media(media) => {
                self.input
                    .queued_bytes
                    .fetch_sub(media.payload.len(), Ordering::Relaxed);
                SubscriptionEvent::Media(media)
            }
            PlayerItem::Notice(StreamNotice::Published) => SubscriptionEvent::Published,
            PlayerItem::Notice(StreamNotice::Unpublished) => SubscriptionEvent::Unpublished,
            PlayerItem::Wake => SubscriptionEvent::Idle,
        }
    }

    /// The stream dropped its side: an eviction says why.
    fn ended(&self) -> SubscriptionEvent {
        match self.input.evicted() {
            Some(reason) => SubscriptionEvent::Evicted(reason),
            None => SubscriptionEvent::Ended,
        }
    }

    /// The next event, or `None` as soon as `stop` is closed (or sent on); waits at most
    /// `timeout` (then `Idle`).
    pub fn next_event_or_stop(&self, stop: &Receiver<()>, timeout: Duration) -> Option<SubscriptionEvent> {
        crossbeam_channel::select! {
            recv(self.input.media) -> item => Some(match item {
                Ok(item) => self.event(item),
                Err(_) => self.ended(),
            }),
            recv(stop) -> _ => None,
            default(timeout) => Some(SubscriptionEvent::Idle),
        }
    }

    /// True when no event waits.
    pub fn is_empty(&self) -> bool {
        self.input.media.is_empty()
    }
}
