//! The drop policy of one subscription, as pure state: given a frame's class, the bytes
//! already waiting for the consumer and the time, it says deliver, drop, or evict. A slow
//! consumer drops frames until a keyframe fits its budget (half the queue free); essential
//! data (sequence headers, metadata) is never dropped but may overdraw the budget only so far;
//! a consumer behind for longer than it may lag is evicted. No sockets, queues or clocks.

use std::time::{Duration, Instant};

/// Sequence headers and script data are never dropped, so they may overdraw the byte budget,
/// up to this many times it; a consumer that cannot take even those is evicted (a publisher
/// flooding data messages must not grow a stalled consumer's queue without bound).
pub const ESSENTIAL_OVERDRAFT: usize = 2;

/// Default bytes of media that may wait for one player before it drops to the next keyframe.
pub const DEFAULT_PLAYER_QUEUE_BYTES: usize = 8 * 1024 * 1024;
/// Default time a player may stay behind (dropping frames) before it is evicted.
pub const DEFAULT_PLAYER_MAX_LAG: Duration = Duration::from_secs(10);

/// How much may wait for one consumer, and for how long it may stay behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropPolicy {
    /// Bytes of media that may wait before the consumer drops to the next keyframe.
    pub queue_bytes: usize,
    /// How long the consumer may drop frames before it is evicted.
    pub max_lag: Duration,
}

impl Default for DropPolicy {
    fn default() -> Self {
        DropPolicy {
            queue_bytes: DEFAULT_PLAYER_QUEUE_BYTES,
            max_lag: DEFAULT_PLAYER_MAX_LAG,
        }
    }
}

/// What a frame is to the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameClass {
    pub len: usize,
    /// Never dropped: sequence headers and script data.
    pub essential: bool,
    /// Where a consumer may (re)start: a video keyframe, or any frame of a stream without video.
    pub resume_point: bool,
}

/// Why a consumer was removed from its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictReason {
    /// It stayed behind (dropping frames) for longer than `max_lag`.
    TooSlow,
    /// Even essential data no longer fit its overdrawn budget.
    EssentialOverflow,
    /// Its reading end is gone.
    Gone,
}

impl EvictReason {
    /// The reason as a log and API word.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictReason::TooSlow => "too_slow",
            EvictReason::EssentialOverflow => "essential_overflow",
            EvictReason::Gone => "gone",
        }
    }
}

/// What to do with one offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Queue or send it (then report the outcome with `delivered` or `queue_full`).
    Deliver,
    Drop,
    Evict(EvictReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Normal,
    /// Joined (or the stream restarted) without a cached keyframe: wait for one.
    WaitKeyframe,
    /// Behind its budget since then; frames are dropped until a keyframe fits.
    Dropping {
        since: Instant,
    },
}

/// One consumer's place in the policy, and its drop counts.
#[derive(Debug, Clone)]
pub struct DropState {
    policy: DropPolicy,
    delivery: Delivery,
    /// Frames dropped in the current episode of being behind.
    pub dropped_now: u64,
    /// Frames dropped in all.
    pub dropped_total: u64,
}

impl DropState {
    /// A new consumer: it waits for a resume point.
    pub fn new(policy: DropPolicy) -> DropState {
        DropState {
            policy,
            delivery: Delivery::WaitKeyframe,
            dropped_now: 0,
            dropped_total: 0,
        }
    }

    pub fn policy(&self) -> DropPolicy {
        self.policy
    }

    /// Decides on a frame while `queued` bytes wait for the consumer.
    pub fn admit(&mut self, frame: FrameClass, queued: usize, now: Instant) -> Verdict {
        match self.delivery {
            Delivery::WaitKeyframe if !frame.essential && !frame.resume_point => return Verdict::Drop,
            Delivery::Dropping { since } if !frame.essential => {
                if frame.resume_point && queued <= self.policy.queue_bytes / 2 {
                    self.delivery = Delivery::Normal;
                    self.dropped_now = 0;
                } else if now.saturating_duration_since(since) > self.policy.max_lag {
                    return Verdict::Evict(EvictReason::TooSlow);
                } else {
                    self.count_drop();
                    return Verdict::Drop;
                }
            }
            _ => {}
        }
        let after = queued.saturating_add(frame.len);
        if frame.essential && after > self.policy.queue_bytes.saturating_mul(ESSENTIAL_OVERDRAFT) {
            return Verdict::Evict(EvictReason::EssentialOverflow);
        }
        if !frame.essential && after > self.policy.queue_bytes {
            self.delivery = Delivery::Dropping { since: now };
            self.count_drop();
            return Verdict::Drop;
        }
        Verdict::Deliver
    }

    /// The frame `admit` let through was delivered.
    pub fn delivered(&mut self, frame: FrameClass) {
        if frame.resume_point && self.delivery == Delivery::WaitKeyframe {
            self.delivery = Delivery::Normal;
        }
    }

    /// The frame `admit` let through did not fit the queue's item count: it is dropped.
    pub fn queue_full(&mut self, now: Instant) {
        if !self.is_behind() {
            self.delivery = Delivery::Dropping { since: now };
        }
        self.count_drop();
    }

    fn count_drop(&mut self) {
        self.dropped_now += 1;
        self.dropped_total += 1;
    }

    /// True while the consumer drops frames because it is behind.
    pub fn is_behind(&self) -> bool {
        matches!(self.delivery, Delivery::Dropping { .. })
    }

    /// After a republish the consumer waits for the new publisher's first keyframe.
    pub fn wait_for_keyframe(&mut self) {
        self.delivery = Delivery::WaitKeyframe;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: DropPolicy = DropPolicy {
        queue_bytes: 1000,
        max_lag: Duration::from_secs(2),
    };

    fn frame(len: usize, essential: bool, resume_point: bool) -> FrameClass {
        FrameClass {
            len,
            essential,
            resume_point,
        }
    }

    const KEY: FrameClass = FrameClass {
        len: 100,
        essential: false,
        resume_point: true,
    };
    const INTER: FrameClass = FrameClass {
        len: 100,
        essential: false,
        resume_point: false,
    };

    #[test]
    fn a_new_consumer_waits_for_a_keyframe_but_takes_headers() {
        let now = Instant::now();
        let mut state = DropState::new(POLICY);
        assert_eq!(state.admit(INTER, 0, now), Verdict::Drop);
        assert_eq!(state.dropped_total, 0, "waiting for a start is not a drop");
        assert_eq!(state.admit(frame(50, true, false), 0, now), Verdict::Deliver);
        assert_eq!(state.admit(KEY, 0, now), Verdict::Deliver);
        state.delivered(KEY);
        assert_eq!(state.admit(INTER, 100, now), Verdict::Deliver);
    }

    #[test]
    fn over_budget_drops_until_a_keyframe_fits_half_the_queue() {
        let now = Instant::now();
        let mut state = DropState::new(POLICY);
        state.delivered(KEY);
        assert_eq!(state.admit(INTER, 950, now), Verdict::Drop);
        assert!(state.is_behind());
        assert_eq!(state.admit(INTER, 0, now), Verdict::Drop, "no resume point yet");
        assert_eq!(state.admit(KEY, 600, now), Verdict::Drop, "queue still over half");
        assert_eq!((state.dropped_now, state.dropped_total), (3, 3));
        assert_eq!(state.admit(KEY, 500, now), Verdict::Deliver);
        assert!(!state.is_behind());
        assert_eq!((state.dropped_now, state.dropped_total), (0, 3));
    }

    #[test]
    fn a_consumer_behind_for_longer_than_max_lag_is_evicted() {
        let start = Instant::now();
        let mut state = DropState::new(POLICY);
        state.delivered(KEY);
        assert_eq!(state.admit(INTER, 1000, start), Verdict::Drop);
        assert_eq!(state.admit(INTER, 1000, start + Duration::from_secs(2)), Verdict::Drop);
        assert_eq!(
            state.admit(INTER, 1000, start + Duration::from_millis(2001)),
            Verdict::Evict(EvictReason::TooSlow)
        );
    }

    #[test]
    fn essential_data_overdraws_the_budget_up_to_its_limit() {
        let now = Instant::now();
        let mut state = DropState::new(POLICY);
        state.delivered(KEY);
        let header = frame(500, true, false);
        assert_eq!(state.admit(header, 1400, now), Verdict::Deliver, "1900 <= 2 x 1000");
        assert_eq!(
            state.admit(header, 1600, now),
            Verdict::Evict(EvictReason::EssentialOverflow)
        );
        assert_eq!(state.dropped_total, 0, "essential data is never dropped");
    }

    #[test]
    fn a_full_queue_starts_an_episode_and_a_republish_waits_again() {
        let now = Instant::now();
        let mut state = DropState::new(POLICY);
        state.delivered(KEY);
        state.queue_full(now);
        assert!(state.is_behind());
        assert_eq!(state.dropped_total, 1);
        state.wait_for_keyframe();
        assert!(!state.is_behind());
        assert_eq!(state.admit(INTER, 0, now), Verdict::Drop);
    }
}
