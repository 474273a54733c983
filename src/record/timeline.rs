//! Recording timeline (pure): maps published 32-bit timestamps to one continuous recording
//! time in ms. The first media frame is 0; everything else keeps its published spacing, and
//! small steps back between the audio and video tracks are left alone. Only a discontinuity
//! within one track (a step back, or forward by more than [`MAX_FORWARD_JUMP_MS`]) or a
//! publisher reconnect (`resume`) moves the offset, so the track continues just after the
//! latest time written and a recording never goes back in time.

use crate::media::timestamp::delta;
use crate::media::FrameKind;

/// A forward step within one track larger than this is a discontinuity (encoder restart).
pub const MAX_FORWARD_JUMP_MS: i64 = 10_000;
/// Where a rebased track continues: this far after the latest time of any track.
pub const REBASE_STEP_MS: i64 = 1;
/// Bound on the extended published time. Past it the count restarts at the raw timestamp,
/// which `map` sees as a discontinuity and rebases, so none of its sums can overflow (only a
/// publisher stepping about 2^31 ms on each of some 2^31 frames gets that far).
const MAX_EXTENDED: i64 = 1 << 62;

/// A rebase the caller should log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    pub kind: FrameKind,
    /// Recording time the frame would have had without the rebase.
    pub from: i64,
    /// Recording time it got.
    pub to: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Published time extended past 32-bit wrap-around: (last raw, extended).
    extended: Option<(u32, i64)>,
    offset: Option<i64>,
    last_audio: Option<i64>,
    last_video: Option<i64>,
    latest: i64,
    resume_pending: bool,
}

impl Timeline {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next media frame continues after the latest time, whatever its timestamp.
    pub fn resume(&mut self) {
        self.resume_pending = self.offset.is_some();
        self.extended = None;
    }

    /// The latest recording time of any track.
    pub fn latest(&self) -> i64 {
        self.latest
    }

    fn extend(&mut self, raw: u32) -> i64 {
        let value = match self.extended {
            None => i64::from(raw),
            Some((last_raw, last)) => last
                .checked_add(i64::from(delta(last_raw, raw)))
                .filter(|value| value.abs() <= MAX_EXTENDED)
                .unwrap_or(i64::from(raw)),
        };
        self.extended = Some((raw, value));
        value
    }

    /// The recording time of a frame, and the rebase it caused if any. `config` marks a
    /// codec configuration (sequence header): like script data it is placed at the latest
    /// time and never moves the clock (some encoders send them with timestamp 0 mid-stream).
    pub fn map(&mut self, kind: FrameKind, published: u32, config: bool) -> (i64, Option<Jump>) {
        if kind == FrameKind::Data || config {
            return (self.latest, None);
        }
        let extended = self.extend(published);
        if self.resume_pending {
            self.resume_pending = false;
            let from = extended + self.offset.unwrap_or(0);
            let to = self.latest + REBASE_STEP_MS;
            self.offset = Some(to - extended);
            self.last_audio = None;
            self.last_video = None;
            self.note(kind, to);
            return (to, Some(Jump { kind, from, to }));
        }
        let offset = *self.offset.get_or_insert(-extended);
        let time = extended + offset;
        let last = match kind {
            FrameKind::Audio => self.last_audio,
            _ => self.last_video,
        };
        let jump = match last {
            Some(last) if time < last || time > last + MAX_FORWARD_JUMP_MS => {
                let to = self.latest.max(last) + REBASE_STEP_MS;
                self.offset = Some(to - extended);
                Some(Jump { kind, from: time, to })
            }
            _ => None,
        };
        let time = jump.map(|j| j.to).unwrap_or(time);
        self.note(kind, time);
        (time, jump)
    }

    fn note(&mut self, kind: FrameKind, time: i64) {
        match kind {
            FrameKind::Audio => self.last_audio = Some(time),
            _ => self.last_video = Some(time),
        }
        self.latest = self.latest.max(time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrameKind::{Audio, Data, Video};

    #[test]
    fn first_media_frame_is_zero_and_spacing_is_kept() {
        let mut t = Timeline::new();
        assert_eq!(t.map(Data, 0, false), (0, None));
        assert_eq!(t.map(Video, 5000, false).0, 0);
        assert_eq!(t.map(Audio, 4990, false).0, -10, "small cross-track step back is kept");
        assert_eq!(t.map(Video, 5040, false).0, 40);
        assert_eq!(t.map(Audio, 5013, false).0, 13);
    }

    #[test]
    fn a_jump_back_within_a_track_continues_after_the_latest_time() {
        let mut t = Timeline::new();
        t.map(Video, 100, false);
        t.map(Video, 3100, false);
        let (time, jump) = t.map(Video, 40, false);
        assert_eq!(time, 3001);
        assert_eq!(jump.unwrap().from, -60);
        assert_eq!(t.map(Video, 80, false).0, 3041);
        // The other track restarted too: it lands after the latest time, not back.
        let (audio, _) = t.map(Audio, 60, false);
        assert!(audio >= 3001, "{audio}");
    }

    #[test]
    fn a_forward_jump_over_ten_seconds_is_rebased_and_a_smaller_one_is_not() {
        let mut t = Timeline::new();
        t.map(Audio, 0, false);
        assert_eq!(t.map(Audio, 9_000, false), (9_000, None));
        let (time, jump) = t.map(Audio, 60_000, false);
        assert_eq!(time, 9_001);
        assert!(jump.is_some());
    }

    #[test]
    fn sequence_headers_with_stray_timestamps_never_move_the_clock() {
        let mut t = Timeline::new();
        assert_eq!(t.map(Video, 0, true), (0, None), "before any frame");
        assert_eq!(t.map(Video, 7000, false).0, 0, "the first frame is 0");
        assert_eq!(t.map(Video, 7040, false).0, 40);
        assert_eq!(t.map(Video, 0, true), (40, None), "mid-stream header at 0");
        assert_eq!(t.map(Video, 7080, false), (80, None));
    }

    #[test]
    fn extended_time_far_out_restarts_as_a_rebase_not_an_overflow() {
        // A publisher stepping ±2^31 ms per frame pushes the extended time this far out
        // (unbounded, it went on to overflow i64).
        let edge = MAX_EXTENDED - 10;
        for (far, step) in [(edge, i32::MAX as u32), (-edge, 1u32 << 31)] {
            let mut t = Timeline::new();
            t.map(Video, 0, false);
            t.extended = Some((0, far));
            t.offset = Some(-far);
            let (time, jump) = t.map(Video, step, false);
            assert_eq!(time, 1, "continues just after the latest time");
            assert_eq!(jump.map(|j| j.to), Some(1));
            assert_eq!(t.extended, Some((step, i64::from(step))), "restarted at the raw time");
            assert_eq!(t.map(Video, step.wrapping_add(40), false), (41, None));
        }
    }

    #[test]
    fn wrap_around_of_32_bit_timestamps_is_not_a_jump() {
        let mut t = Timeline::new();
        t.map(Video, u32::MAX - 20, false);
        assert_eq!(t.map(Video, 19, false), (40, None));
    }

    #[test]
    fn resume_continues_after_the_latest_time() {
        let mut t = Timeline::new();
        t.map(Video, 0, false);
        t.map(Audio, 5990, false);
        t.resume();
        let (time, jump) = t.map(Video, 5000, false);
        assert_eq!(time, 5991);
        assert!(jump.is_some());
        assert_eq!(t.map(Audio, 5000, false).0, 5991);
        assert_eq!(t.map(Video, 5040, false).0, 6031);
    }
}
