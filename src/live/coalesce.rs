//! Coalesced fan-out's clock (pure): whether a stream's players may hold a frame for one
//! later vectored send (`play_coalesce`), and when what they hold is due. Keyframes,
//! sequence headers and metadata are never held (they leave at once, with whatever is held
//! before them); a held run leaves when the window since its first frame has passed, or at
//! `MAX_HELD_FRAMES`. A join's first frames never come here: they go through the player's
//! writer, which sends them at once.

use super::shared_media::SharedMedia;
use crate::media::FrameKind;
use std::time::{Duration, Instant};

/// The default window, chosen from scripts/bench-compare.sh's curve (README, Benchmarks):
/// half a video frame interval at 25 fps, so most audio frames leave with a video frame.
/// At 20 ms a fan-out to 50 and 200 players cost 0.83x and 0.64x nginx-rtmp's CPU with
/// latency p99 0.48x and 0.49x nginx's; 5 and 10 ms saved next to nothing at 50 players
/// (frames rarely arrive that close together) and 0 ms is level with nginx on CPU.
pub const DEFAULT_COALESCE: Duration = Duration::from_millis(20);
/// The longest `play_coalesce` window accepted.
pub const MAX_COALESCE: Duration = Duration::from_millis(100);
/// Most frames held for one send; the next frame sends them all.
pub const MAX_HELD_FRAMES: usize = 32;

/// One stream's coalescing state (the publisher's thread drives it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Coalescer {
    window: Duration,
    /// When the first frame of the run held now was offered.
    held_since: Option<Instant>,
    held: usize,
}

impl Coalescer {
    /// A window of zero sends every frame at once.
    pub fn set_window(&mut self, window: Duration) {
        self.window = window.min(MAX_COALESCE);
        if self.window.is_zero() {
            self.reset();
        }
    }

    /// True: players may hold `media` (with the run before it). False: what they hold
    /// leaves now, with `media`.
    pub fn hold(&mut self, media: &SharedMedia, now: Instant) -> bool {
        let never = media.keyframe || media.sequence_header || media.kind == FrameKind::Data;
        if self.window.is_zero() || never {
            self.reset();
            return false;
        }
        match self.held_since {
            None => {
                self.held_since = Some(now);
                self.held = 1;
                true
            }
            Some(since) if now.saturating_duration_since(since) < self.window && self.held < MAX_HELD_FRAMES - 1 => {
                self.held += 1;
                true
            }
            Some(_) => {
                self.reset();
                false
            }
        }
    }

    /// When the run held now must leave, if anything is held.
    pub fn deadline(&self) -> Option<Instant> {
        self.held_since.map(|since| since + self.window)
    }

    /// True (and the run ends) when the held run is due at `now`.
    pub fn take_due(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(deadline) if deadline <= now => {
                self.reset();
                true
            }
            _ => false,
        }
    }

    /// Forgets the run held now (its frames left another way, e.g. before a notice).
    pub fn reset(&mut self) {
        self.held_since = None;
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn media(kind: FrameKind, keyframe: bool) -> SharedMedia {
        SharedMedia::new(kind, 0, keyframe, false, Arc::new(vec![0; 4]))
    }

    #[test]
    fn zero_window_holds_nothing() {
        let mut c = Coalescer::default();
        assert!(!c.hold(&media(FrameKind::Video, false), Instant::now()));
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn a_run_is_held_until_its_window_passes_and_keyframes_are_never_held() {
        let mut c = Coalescer::default();
        c.set_window(Duration::from_millis(10));
        let t0 = Instant::now();
        assert!(c.hold(&media(FrameKind::Audio, false), t0));
        assert!(c.hold(&media(FrameKind::Video, false), t0 + Duration::from_millis(4)));
        assert_eq!(c.deadline(), Some(t0 + Duration::from_millis(10)));
        assert!(!c.take_due(t0 + Duration::from_millis(9)));
        assert!(c.take_due(t0 + Duration::from_millis(10)));
        assert_eq!(c.deadline(), None);
        // A keyframe leaves at once, with the run before it.
        assert!(c.hold(&media(FrameKind::Audio, false), t0));
        assert!(!c.hold(&media(FrameKind::Video, true), t0));
        assert_eq!(c.deadline(), None);
        // A frame offered after the window (a late timer) leaves with the run.
        assert!(c.hold(&media(FrameKind::Audio, false), t0));
        assert!(!c.hold(&media(FrameKind::Audio, false), t0 + Duration::from_millis(10)));
        // Headers and metadata are never held.
        let header = SharedMedia::new(FrameKind::Audio, 0, false, true, Arc::new(vec![0xAF, 0]));
        assert!(!c.hold(&header, t0));
        assert!(!c.hold(&media(FrameKind::Data, false), t0));
    }

    #[test]
    fn a_run_is_bounded_in_frames_and_the_window_in_time() {
        let mut c = Coalescer::default();
        c.set_window(Duration::from_secs(5));
        let t0 = Instant::now();
        let held = (0..100)
            .take_while(|_| c.hold(&media(FrameKind::Audio, false), t0))
            .count();
        assert_eq!(held, MAX_HELD_FRAMES - 1, "the next frame makes the send full");
        assert_eq!(c.deadline(), None);
        assert!(c.hold(&media(FrameKind::Audio, false), t0));
        assert_eq!(c.deadline(), Some(t0 + MAX_COALESCE));
    }
}
