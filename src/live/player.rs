//! Players: the publisher-side handle that delivers shared frames to one player with a drop
//! policy (a slow player never slows anyone): straight to the socket with a non-blocking
//! send while nothing is queued (`player_direct`), else through the player's queue to its
//! writer thread (`player_writer`), which turns frames into chunks with its own headers.

use super::drop_policy::{DropPolicy, DropState, EvictReason, FrameClass, Verdict};
use super::player_direct::{Direct, Sent};
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
}

impl PlayerHandle {
    /// Offers media; never blocks. `has_video` says whether keyframes are to be waited for.
    pub fn offer(&mut self, media: &Arc<SharedMedia>, has_video: bool, now: Instant) -> Offer {
        let len = media.payload.len();
        let class = FrameClass {
            len,
            essential: media.sequence_header || media.kind == FrameKind::Data,
            resume_point: !has_video || (media.kind == FrameKind::Video && media.keyframe),
        };
        match self.drops.admit(class, self.queued_bytes.load(Ordering::Relaxed), now) {
            Verdict::Deliver => {}
            Verdict::Drop => return Offer::Dropped,
            Verdict::Evict(reason) => return self.evict(reason),
        }
        let mut direct = self.direct.lock();
        let queued = match direct.try_send(media) {
            Sent::Whole => Ok(()),
            Sent::Part(rest) => {
                self.queued_bytes.fetch_add(rest, Ordering::Relaxed);
                self.sender.try_send(PlayerItem::Wake).map_err(|e| match e {
                    TrySendError::Full(_) => TrySendError::Full(()),
                    TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
                })
            }
            Sent::No => {
                // Queued items belong to the writer: it owns the socket until they are sent.
                direct.writer_owns = true;
                self.queued_bytes.fetch_add(len, Ordering::Relaxed);
                let sent = if self.sender.len() >= PLAYER_QUEUE_ITEMS {
                    Err(TrySendError::Full(PlayerItem::Wake))
                } else {
                    self.sender.try_send(PlayerItem::Media(Arc::clone(media)))
                };
                sent.map_err(|e| {
                    self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                    match e {
                        TrySendError::Full(_) => TrySendError::Full(()),
                        TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
                    }
                })
            }
        };
        drop(direct);
        match queued {
            Ok(()) => {
                self.drops.delivered(class);
                Offer::Queued
            }
            Err(TrySendError::Full(())) => {
                self.drops.queue_full(now);
                Offer::Dropped
            }
            Err(TrySendError::Disconnected(())) => self.evict(EvictReason::Gone),
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

    pub fn notify(&self, notice: StreamNotice) -> bool {
        let mut direct = self.direct.lock();
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

#[cfg(test)]
#[path = "player_tests.rs"]
mod tests;
