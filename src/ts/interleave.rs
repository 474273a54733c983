//! Interleaving (pure): a transport stream carries audio and video PES packets in its own
//! order (FFmpeg batches AAC frames, a video PES ends only at the next one), so frames are
//! held per track and released in decode-time order, as an RTMP publisher sends them.
//! A track that falls silent holds the other back for at most `WINDOW_MS` or `MAX_HELD`
//! frames.

use super::demuxer::TsFrame;
use crate::media::FrameKind;
use std::collections::VecDeque;

/// Longest media time one track is held waiting for the other.
pub const WINDOW_MS: u32 = 1000;
/// Most frames held per track.
pub const MAX_HELD: usize = 256;

/// The two tracks' queues.
#[derive(Debug, Default)]
pub struct Interleaver {
    audio: VecDeque<TsFrame>,
    video: VecDeque<TsFrame>,
}

impl Interleaver {
    /// Adds a frame; `both` says whether the program has an audio and a video track (with
    /// one, frames pass straight through). Released frames are appended to `out`.
    pub fn push(&mut self, frame: TsFrame, both: bool, out: &mut Vec<TsFrame>) {
        match frame.kind {
            FrameKind::Audio => self.audio.push_back(frame),
            _ => self.video.push_back(frame),
        }
        if !both {
            self.drain(out);
            return;
        }
        loop {
            let next = match (self.audio.front(), self.video.front()) {
                (Some(a), Some(v)) if a.timestamp < v.timestamp => self.audio.pop_front(),
                (Some(_), Some(_)) => self.video.pop_front(),
                (Some(_), None) if overdue(&self.audio) => self.audio.pop_front(),
                (None, Some(_)) if overdue(&self.video) => self.video.pop_front(),
                _ => None,
            };
            match next {
                Some(frame) => out.push(frame),
                None => break,
            }
        }
    }

    /// Releases everything held, in decode-time order.
    pub fn drain(&mut self, out: &mut Vec<TsFrame>) {
        loop {
            let next = match (self.audio.front(), self.video.front()) {
                (Some(a), Some(v)) if a.timestamp < v.timestamp => self.audio.pop_front(),
                (_, Some(_)) => self.video.pop_front(),
                (Some(_), None) => self.audio.pop_front(),
                (None, None) => None,
            };
            match next {
                Some(frame) => out.push(frame),
                None => break,
            }
        }
    }
}

/// True when a track's queue is past the bounds the other track may hold it to.
fn overdue(queue: &VecDeque<TsFrame>) -> bool {
    let span = match (queue.front(), queue.back()) {
        (Some(first), Some(last)) => last.timestamp.saturating_sub(first.timestamp),
        _ => 0,
    };
    queue.len() > MAX_HELD || span > WINDOW_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, timestamp: u32) -> TsFrame {
        TsFrame {
            kind,
            timestamp,
            payload: Vec::new(),
        }
    }

    fn times(out: &[TsFrame]) -> Vec<(bool, u32)> {
        out.iter().map(|f| (f.kind == FrameKind::Audio, f.timestamp)).collect()
    }

    #[test]
    fn releases_in_decode_time_order() {
        let mut il = Interleaver::default();
        let mut out = Vec::new();
        for t in [0, 100, 200] {
            il.push(frame(FrameKind::Video, t), true, &mut out);
        }
        assert!(out.is_empty());
        for t in [23, 46, 150, 250] {
            il.push(frame(FrameKind::Audio, t), true, &mut out);
        }
        assert_eq!(
            times(&out),
            [
                (false, 0),
                (true, 23),
                (true, 46),
                (false, 100),
                (true, 150),
                (false, 200)
            ]
        );
        il.drain(&mut out);
        assert_eq!(out.len(), 7);
    }

    #[test]
    fn a_silent_track_holds_the_other_for_a_window_only() {
        let mut il = Interleaver::default();
        let mut out = Vec::new();
        for t in (0..=1500).step_by(100) {
            il.push(frame(FrameKind::Video, t), true, &mut out);
        }
        assert_eq!(out.first().map(|f| f.timestamp), Some(0));
        assert!(out.len() >= 5, "{}", out.len());
        let mut single = Interleaver::default();
        let mut out = Vec::new();
        single.push(frame(FrameKind::Video, 0), false, &mut out);
        assert_eq!(out.len(), 1);
    }
}
