//! The timeline a push sends upstream (pure): media timestamps keep the stream's spacing
//! from the first frame the push ever sent (0), across reconnects, so the upstream sees one
//! monotonic timeline. The first connection sends what the stream's queue gives it (the
//! player policy already starts it cleanly, exactly as a player starts). After a reconnect
//! the push resumes at the first video keyframe (any audio frame for an audio-only stream) it
//! has not sent yet, so the upstream gets a clean start and no frame twice. Sequence headers
//! and script data pass at once, at the latest time sent.

use crate::media::timestamp::SinceFirst;
use crate::media::FrameKind;

#[derive(Debug, Clone, Default)]
pub struct PushTimeline {
    clock: SinceFirst,
    latest: u32,
    last_video: Option<u32>,
    last_audio: Option<u32>,
    has_video: bool,
    waiting: bool,
}

impl PushTimeline {
    pub fn new() -> Self {
        PushTimeline::default()
    }

    /// A new upstream connection: once anything was sent, wait for a resume point not sent
    /// yet.
    pub fn reconnected(&mut self) {
        self.waiting = self.clock.started();
    }

    /// The upstream timestamp of a frame with stream timestamp `timestamp`, or None to skip it.
    pub fn map(&mut self, kind: FrameKind, timestamp: u32, keyframe: bool, config: bool) -> Option<u32> {
        self.has_video |= kind == FrameKind::Video;
        if config || kind == FrameKind::Data {
            return Some(self.latest);
        }
        // Waiting only follows a frame sent, so the clock has its base by then.
        if self.waiting {
            let out = self.clock.peek(timestamp);
            let (resume_point, last) = match kind {
                FrameKind::Video => (keyframe, self.last_video),
                _ => (!self.has_video, self.last_audio),
            };
            if !resume_point || last.is_some_and(|last| out <= last) {
                return None;
            }
            self.waiting = false;
        }
        let out = self.clock.map(timestamp);
        self.latest = self.latest.max(out);
        match kind {
            FrameKind::Video => self.last_video = Some(out),
            _ => self.last_audio = Some(out),
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrameKind::{Audio, Data, Video};

    #[test]
    fn first_frames_start_at_zero_and_keep_their_spacing() {
        let mut t = PushTimeline::new();
        assert_eq!(t.map(Data, 5000, false, false), Some(0));
        assert_eq!(t.map(Video, 5000, false, true), Some(0));
        assert_eq!(t.map(Video, 5000, true, false), Some(0));
        assert_eq!(t.map(Audio, 4990, false, false), Some(0), "before the base clamps to 0");
        assert_eq!(t.map(Audio, 5023, false, false), Some(23));
        assert_eq!(t.map(Video, 5066, false, false), Some(66));
        assert_eq!(t.map(Data, 5070, false, false), Some(66), "data at the latest time");
    }

    #[test]
    fn a_reconnect_resumes_at_an_unsent_keyframe_on_the_same_timeline() {
        let mut t = PushTimeline::new();
        t.reconnected();
        t.map(Video, 100, true, false);
        t.map(Video, 166, false, false);
        t.map(Audio, 170, false, false);
        t.reconnected();
        assert_eq!(t.map(Video, 100, true, false), None, "cached keyframe already sent");
        assert_eq!(t.map(Video, 166, false, false), None);
        assert_eq!(t.map(Audio, 200, false, false), None, "audio waits for video");
        assert_eq!(
            t.map(Video, 300, false, true),
            Some(70),
            "headers pass at the latest time"
        );
        assert_eq!(t.map(Video, 1100, true, false), Some(1000));
        assert_eq!(
            t.map(Audio, 1090, false, false),
            Some(990),
            "interleaving kept after resume"
        );
    }

    #[test]
    fn audio_only_streams_resume_at_any_unsent_audio_frame() {
        let mut t = PushTimeline::new();
        assert_eq!(t.map(Audio, 0, false, true), Some(0));
        assert_eq!(t.map(Audio, 10, false, false), Some(0));
        assert_eq!(t.map(Audio, 33, false, false), Some(23));
        t.reconnected();
        assert_eq!(t.map(Audio, 33, false, false), None);
        assert_eq!(t.map(Audio, 56, false, false), Some(46));
    }

    #[test]
    fn the_first_connection_sends_what_the_queue_gives_even_after_failed_attempts() {
        let mut t = PushTimeline::new();
        t.reconnected();
        t.reconnected();
        assert_eq!(t.map(Video, 0, false, true), Some(0));
        assert_eq!(
            t.map(Audio, 0, false, false),
            Some(0),
            "audio before the first keyframe"
        );
        assert_eq!(t.map(Video, 46, true, false), Some(46));
    }
}
