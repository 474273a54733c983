//! Players: the publisher-side handle that delivers shared frames to one player with a drop
//! policy (a slow player never slows anyone): straight to the socket with a non-blocking
//! send while nothing is queued (`player_direct`), else through the player's queue to its
//! writer thread (`player_writer`), which turns frames into chunks with its own headers.
//! With coalescing (`coalesce`), frames may wait in the handle for one vectored send.

use super::drop_policy::{DropPolicy, DropState, EvictReason, FrameClass, Verdict};
use super::player_direct::{Direct, DirectState};
pub use super::shared_media::{SharedMedia, CSID_NOTICE};
use crate::media::FrameKind;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most items waiting in one player's queue (the byte budget usually binds first).
pub const PLAYER_QUEUE_ITEMS: usize = 8 * 1024;
pub use super::drop_policy::{DEFAULT_PLAYER_MAX_LAG, DEFAULT_PLAYER_QUEUE_BYTES};
/// What the stream tells a player besides media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamNotice {
    /// The publisher left: StreamEOF and NetStream.Play.UnpublishNotify.
    Unpublished,
    /// A publisher (re)started: StreamBegin and NetStream.Play.PublishNotify.
    Published,
}

#[derive(Debug, Clone)]
pub enum PlayerItem {
    Media(Arc<SharedMedia>),
    Notice(StreamNotice),
    /// The publisher sent part of a frame: wakes the writer to send the rest.
    Wake,
}

/// What happened to a frame offered to a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Queued,
    Dropped,
    /// The player must leave the stream: remove it (its reading side is told why).
    Evicted(EvictReason),
}

/// Tuning of the per-player queue: the subscription's drop policy.
pub type PlayerLimits = DropPolicy;

/// The publisher side of one player (kept in the stream's player list).
#[derive(Debug)]
pub struct PlayerHandle {
    pub conn_id: u64,
    sender: Sender<PlayerItem>,
    queued_bytes: Arc<AtomicUsize>,
    direct: Arc<Direct>,
    drops: DropState,
    /// Set (once) when the player is evicted, for its reading side.
    eviction: Arc<Eviction>,
    /// A push relay reading the stream like a player (not counted as a player in the API).
    pub push: bool,
    /// Frames held for the next direct send (coalescing), in order.
    held: Vec<Arc<SharedMedia>>,
    /// Frames that left whole in a direct send of several.
    coalesced: u64,
}

impl PlayerHandle {
    /// Offers media; never blocks. `has_video` says whether keyframes are to be waited for;
    /// `hold` (the stream's coalescing) lets the frame wait, with those held before it, for
    /// one later send while the publisher sends to this player itself (else it leaves now).
    pub fn offer(&mut self, media: &Arc<SharedMedia>, has_video: bool, now: Instant, hold: bool) -> Offer {
        let class = FrameClass {
            len: media.payload.len(),
            essential: media.sequence_header || media.kind == FrameKind::Data,
            resume_point: !has_video || (media.kind == FrameKind::Video && media.keyframe),
        };
        match self.drops.admit(class, self.queued_bytes.load(Ordering::Relaxed), now) {
            Verdict::Deliver => {}
            Verdict::Drop => {
                // A run's last frame still sends the run this player holds.
                if !hold {
                    self.flush(now);
                }
                return Offer::Dropped;
            }
            Verdict::Evict(reason) => return self.evict(reason),
        }
        let hold_now = {
            let direct = self.direct.lock();
            self.held.push(Arc::clone(media));
            hold && direct.publisher_sends()
        };
        if hold_now {
            self.drops.delivered(class);
            return Offer::Queued;
        }
        let delivered = self.send_held();
        if delivered.is_ok() {
            self.drops.delivered(class);
        }
        self.outcome(delivered, now)
    }

    /// Sends what the player holds (the stream's coalescing window has passed).
    pub fn flush(&mut self, now: Instant) -> Offer {
        if self.held.is_empty() {
            return Offer::Queued;
        }
        let delivered = self.send_held();
        self.outcome(delivered, now)
    }

    fn send_held(&mut self) -> Result<(), TrySendError<()>> {
        let mut direct = self.direct.lock();
        deliver_held(
            &mut self.held,
            &self.sender,
            &self.queued_bytes,
            &mut direct,
            &mut self.coalesced,
        )
    }

    fn outcome(&mut self, delivered: Result<(), TrySendError<()>>, now: Instant) -> Offer {
        match delivered {
            Ok(()) => Offer::Queued,
            Err(error) => self.undelivered(error, now),
        }
    }

    fn undelivered(&mut self, error: TrySendError<()>, now: Instant) -> Offer {
        match error {
            TrySendError::Full(()) => {
                self.drops.queue_full(now);
                Offer::Dropped
            }
            TrySendError::Disconnected(()) => self.evict(EvictReason::Gone),
        }
    }

    fn evict(&self, reason: EvictReason) -> Offer {
        self.eviction.set(reason);
        Offer::Evicted(reason)
    }

    /// Frames dropped in the current episode of being behind.
    pub fn dropped_now(&self) -> u64 {
        self.drops.dropped_now
    }

    /// Frames that left whole in a direct send of several (coalescing), in all.
    pub fn coalesced_total(&self) -> u64 {
        self.coalesced
    }

    /// Frames dropped in all.
    pub fn dropped_total(&self) -> u64 {
        self.drops.dropped_total
    }

    /// True while the player drops frames because it is behind.
    pub fn is_behind(&self) -> bool {
        self.drops.is_behind()
    }

    /// After a republish the player waits for the new publisher's first keyframe.
    pub fn wait_for_keyframe(&mut self) {
        self.drops.wait_for_keyframe();
    }

    pub fn notify(&mut self, notice: StreamNotice) -> bool {
        let mut direct = self.direct.lock();
        // What the player holds goes first (a failure shows at the next offer).
        if !self.held.is_empty() {
            let _ = deliver_held(
                &mut self.held,
                &self.sender,
                &self.queued_bytes,
                &mut direct,
                &mut self.coalesced,
            );
        }
        direct.writer_owns = true;
        !matches!(
            self.sender.try_send(PlayerItem::Notice(notice)),
            Err(TrySendError::Disconnected(_))
        )
    }
}

/// The connection's side of a player: its writer thread's inputs.
#[derive(Debug)]
pub struct PlayerWriterInput {
    pub media: Receiver<PlayerItem>,
    /// Session replies (acks, pings, status) to send in order with the media.
    pub control: Receiver<Vec<u8>>,
    pub queued_bytes: Arc<AtomicUsize>,
    pub direct: Arc<Direct>,
    eviction: Arc<Eviction>,
}

impl PlayerWriterInput {
    /// Why the stream removed this player, once it has (its queue then ends): an eviction
    /// is told apart from the end of the stream.
    pub fn evicted(&self) -> Option<EvictReason> {
        self.eviction.get()
    }
}

/// An eviction's reason, written once by the stream's side and read by the consumer's.
#[derive(Debug, Default)]
struct Eviction(Mutex<Option<EvictReason>>);

impl Eviction {
    fn set(&self, reason: EvictReason) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(reason);
    }

    fn get(&self) -> Option<EvictReason> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates a handle (for the stream) and the writer's inputs (for the writer thread).
pub fn player_channel(
    conn_id: u64,
    limits: PlayerLimits,
    control: Receiver<Vec<u8>>,
) -> (PlayerHandle, PlayerWriterInput) {
    // Unbounded in the type, bounded by `offer` (items and bytes): a bounded channel would
    // allocate all PLAYER_QUEUE_ITEMS slots (about 200 KB) for every player up front.
    let (sender, media) = crossbeam_channel::unbounded();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let direct = Arc::new(Direct::default());
    let eviction = Arc::new(Eviction::default());
    let handle = PlayerHandle {
        conn_id,
        sender,
        queued_bytes: Arc::clone(&queued_bytes),
        direct: Arc::clone(&direct),
        drops: DropState::new(limits),
        eviction: Arc::clone(&eviction),
        push: false,
        held: Vec::new(),
        coalesced: 0,
    };
    (
        handle,
        PlayerWriterInput {
            media,
            control,
            queued_bytes,
            direct,
            eviction,
        },
    )
}

/// Sends the held frames with one vectored send if the publisher may, and queues for
/// the writer whatever did not go out (a frame sent in part leaves its rest to the writer).
fn deliver_held(
    held: &mut Vec<Arc<SharedMedia>>,
    sender: &Sender<PlayerItem>,
    queued_bytes: &AtomicUsize,
    direct: &mut DirectState,
    coalesced: &mut u64,
) -> Result<(), TrySendError<()>> {
    let mut frames = std::mem::take(held);
    let sent = direct.try_send(&frames);
    if sent.whole > 1 {
        *coalesced += sent.whole as u64;
    }
    let mut result = Ok(());
    let mut unsent = sent.whole;
    if let Some(rest) = sent.part {
        queued_bytes.fetch_add(rest, Ordering::Relaxed);
        result = sender.try_send(PlayerItem::Wake).map_err(unit_error);
        unsent += 1;
    }
    if unsent < frames.len() {
        // Queued items belong to the writer: it owns the socket until they are sent.
        direct.writer_owns = true;
    }
    for media in frames.get(unsent..).unwrap_or_default() {
        if result.is_err() {
            break;
        }
        let len = media.payload.len();
        queued_bytes.fetch_add(len, Ordering::Relaxed);
        result = if sender.len() >= PLAYER_QUEUE_ITEMS {
            Err(TrySendError::Full(()))
        } else {
            sender
                .try_send(PlayerItem::Media(Arc::clone(media)))
                .map_err(unit_error)
        };
        if result.is_err() {
            queued_bytes.fetch_sub(len, Ordering::Relaxed);
        }
    }
    frames.clear();
    *held = frames;
    result
}

fn unit_error<T>(error: TrySendError<T>) -> TrySendError<()> {
    match error {
        TrySendError::Full(_) => TrySendError::Full(()),
        TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
    }
}

#[cfg(test)]
#[path = "player_tests.rs"]
mod tests;
