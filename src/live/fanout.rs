//! One fan-out pass over a stream's players: each player's offer of a frame (or its flush of
//! what it holds), with the players that dropped, fell behind, caught up or were evicted
//! gathered for the publisher's log and the stream's list.

use super::drop_policy::EvictReason;
use super::player::{Offer, PlayerHandle};
use std::sync::{Arc, Mutex, MutexGuard};

/// A player (or push) the stream evicted while frames were offered, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedPlayer {
    pub conn_id: u64,
    pub dropped_frames: u64,
    pub reason: EvictReason,
    /// A push relay: it has no connection to close and subscribes again by itself.
    pub push: bool,
}

/// Players whose drop state changed during an offer, for the log.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// Players (push relays aside) that dropped this frame because they are behind.
    pub dropped: u64,
    /// Frames that left in a send of several held frames (`play_coalesce`).
    pub coalesced: u64,
    pub removed: Vec<RemovedPlayer>,
    pub fell_behind: Vec<u64>,
    pub caught_up: Vec<(u64, u64)>,
}

/// One player of the stream: its handle behind its own lock (taken by the publisher's thread
/// per offer, and briefly by the API), and what the list is searched and counted by.
#[derive(Debug)]
pub(super) struct PlayerSlot {
    pub conn_id: u64,
    pub push: bool,
    pub handle: Mutex<PlayerHandle>,
}

impl PlayerSlot {
    pub fn lock(&self) -> MutexGuard<'_, PlayerHandle> {
        self.handle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `deliver` on each player under its own lock and notes what changed in `report`.
pub(super) fn fan_out(
    players: &[Arc<PlayerSlot>],
    report: &mut DeliveryReport,
    mut deliver: impl FnMut(&mut PlayerHandle) -> Offer,
) {
    for slot in players {
        let mut player = slot.lock();
        let was_behind = player.is_behind();
        let dropped_before = player.dropped_now();
        let total_before = player.dropped_total();
        let coalesced_before = player.coalesced_total();
        let offer = deliver(&mut player);
        report.coalesced += player.coalesced_total() - coalesced_before;
        if !slot.push {
            report.dropped += player.dropped_total() - total_before;
        }
        match offer {
            Offer::Evicted(reason) => report.removed.push(RemovedPlayer {
                conn_id: player.conn_id,
                dropped_frames: player.dropped_total(),
                reason,
                push: slot.push,
            }),
            _ if !was_behind && player.is_behind() => report.fell_behind.push(player.conn_id),
            _ if was_behind && !player.is_behind() => report.caught_up.push((player.conn_id, dropped_before)),
            _ => {}
        }
    }
}
