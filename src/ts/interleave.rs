//! Interleaving (pure): a transport stream carries audio and video PES packets in its own
//! order (FFmpeg batches AAC frames, a video PES ends only at the next one), so frames are
//! held per track and released in decode-time order, as an RTMP publisher sends them.
//! A track that falls silent holds the other back for at most `WINDOW_MS` or `MAX_HELD`
//! frames. A sequence header at the front of its queue goes before the other track's held
//! frames, at the earliest held time, so both tracks' headers lead the stream as an RTMP
//! publisher's do (a TS audio track's header comes with its first frame, often after the
//! first video keyframe's time; an HLS segment or a player started at that keyframe would
//! otherwise begin with no audio track).

use super::demuxer::TsFrame;
use crate::media::codec::{inspect_audio, inspect_video};
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
    /// The last released frame's timestamp (released timestamps never go back).
    last_out: u32,
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
                (Some(a), Some(v)) => {
                    let earliest = a.timestamp.min(v.timestamp).max(self.last_out);
                    let audio_first = match (is_sequence_header(a), is_sequence_header(v)) {
                        (true, true) => a.timestamp < v.timestamp,
                        (true, false) => true,
                        (false, true) => false,
                        (false, false) => a.timestamp < v.timestamp,
                    };
                    let header = if audio_first {
                        is_sequence_header(a)
                    } else {
                        is_sequence_header(v)
                    };
                    let queue = if audio_first { &mut self.audio } else { &mut self.video };
                    queue.pop_front().map(|mut frame| {
                        if header {
                            // A header leads at the time of the earliest frame held.
                            frame.timestamp = earliest;
                        }
                        frame
                    })
                }
                (Some(_), None) if overdue(&self.audio) => self.audio.pop_front(),
                (None, Some(_)) if overdue(&self.video) => self.video.pop_front(),
                _ => None,
            };
            match next {
                Some(frame) => self.release(frame, out),
                None => break,
            }
        }
    }

    fn release(&mut self, frame: TsFrame, out: &mut Vec<TsFrame>) {
        self.last_out = self.last_out.max(frame.timestamp);
        out.push(frame);
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
                Some(frame) => self.release(frame, out),
                None => break,
            }
        }
    }
}

fn is_sequence_header(frame: &TsFrame) -> bool {
    match frame.kind {
        FrameKind::Audio => inspect_audio(&frame.payload).sequence_header,
        _ => inspect_video(&frame.payload).sequence_header,
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

    fn header(kind: FrameKind, timestamp: u32) -> TsFrame {
        let payload = match kind {
            FrameKind::Audio => vec![0xAF, 0x00, 0x13, 0x88],
            _ => vec![0x17, 0x00, 0, 0, 0],
        };
        TsFrame {
            kind,
            timestamp,
            payload,
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

    #[test]
    fn both_sequence_headers_lead_the_first_keyframe() {
        let mut il = Interleaver::default();
        let mut out = Vec::new();
        il.push(header(FrameKind::Video, 0), true, &mut out);
        il.push(frame(FrameKind::Video, 0), true, &mut out);
        il.push(frame(FrameKind::Video, 66), true, &mut out);
        // The audio header comes with the first audio frame, 21 ms in: it leaves at once,
        // at the held keyframe's time.
        il.push(header(FrameKind::Audio, 21), true, &mut out);
        il.push(frame(FrameKind::Audio, 21), true, &mut out);
        il.drain(&mut out);
        assert_eq!(
            times(&out),
            [(false, 0), (true, 0), (false, 0), (true, 21), (false, 66)]
        );
        assert!(is_sequence_header(&out[1]));
        assert!(times(&out).windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn a_changed_header_waits_behind_its_own_tracks_frames() {
        let mut il = Interleaver::default();
        let mut out = Vec::new();
        il.push(frame(FrameKind::Audio, 0), true, &mut out);
        il.push(frame(FrameKind::Audio, 23), true, &mut out);
        il.push(header(FrameKind::Audio, 46), true, &mut out);
        il.push(frame(FrameKind::Video, 100), true, &mut out);
        assert_eq!(times(&out), [(true, 0), (true, 23), (true, 46)]);
        assert!(is_sequence_header(&out[2]));
    }
}
