//! Sans-IO CMAF segmenter: a live stream's frames in, the init segment (`ftyp` + `moov`) and
//! partial segments (one `moof` + `mdat` each) out, by the MP4 muxer's own box code
//! (`mp4::init`, `mp4::fragment`, `mp4::entries`). No clock and no threads: media time only.
//!
//! Output starts at the first video keyframe (audio-only: the first audio frame). A part
//! is cut before a video keyframe and before a sample that would take it past the part
//! target; a new segment starts at a keyframe once the current one reached the segment
//! target (audio-only: at any frame). A sample is written once the next sample of its track
//! gives its duration, the last ones at `finish`. Times are the stream's milliseconds.

use crate::media::demux::Codec;
use crate::media::{Frame, FrameKind};
use crate::mp4::entries::EntrySource;
use crate::mp4::fragment::{write_fragment, Run, Sample};
use crate::mp4::init::{write_init, TrackSpec};
use crate::record::mp4_muxer::supported;

/// Where segments and parts are cut (media time, ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutTargets {
    pub segment_ms: u64,
    pub part_ms: u64,
}

/// A partial segment: one fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub data: Vec<u8>,
    pub duration_ms: u64,
    /// Starts with a video keyframe (or the stream has no video).
    pub independent: bool,
    /// The first part of a new segment.
    pub new_segment: bool,
    /// The first part after a new init segment (the codec parameters changed).
    pub discontinuity: bool,
}

/// What the segmenter hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The init segment: before the first part, and again (then the next part is a
    /// discontinuity) when the stream's codec parameters change.
    Init(Vec<u8>),
    Part(Part),
}

#[derive(Debug, Default)]
struct Track {
    id: u32,
    codec: Codec,
    config: Option<Vec<u8>>,
    first: Option<Vec<u8>>,
    /// Samples whose duration is known: (frame, dts, duration).
    ready: Vec<(Frame, u64, u32)>,
    /// The latest sample, waiting for the next one to give its duration.
    last: Option<(Frame, u64)>,
    last_duration: u32,
}

impl Track {
    fn take(&mut self, frame: &Frame, dts: u64) {
        if let Some((previous, at)) = self.last.take() {
            let duration = u32::try_from(dts.saturating_sub(at)).unwrap_or(u32::MAX);
            self.last_duration = duration;
            self.ready.push((previous, at, duration));
        }
        self.last = Some((frame.clone(), dts));
    }

    fn flush_last(&mut self) {
        if let Some((frame, dts)) = self.last.take() {
            self.ready.push((frame, dts, self.last_duration));
        }
    }
}

/// The segmenter of one stream.
#[derive(Debug)]
pub struct Segmenter {
    targets: CutTargets,
    video: Option<Track>,
    audio: Option<Track>,
    /// Set once the init segment is out; tracks are fixed from then on.
    started: bool,
    /// Where the open part and segment started, on the reference track.
    part_start: Option<u64>,
    segment_start: Option<u64>,
    /// The next part starts a segment.
    segment_pending: bool,
    /// The open part starts with a keyframe.
    part_independent: bool,
    sequence: u32,
    /// Waits for a keyframe (at the start, after `discontinuity`).
    wait_keyframe: bool,
    /// Init segments written.
    inits: u32,
    /// The next part follows a new init segment.
    discontinuity_pending: bool,
}

impl Segmenter {
    pub fn new(targets: CutTargets) -> Segmenter {
        Segmenter {
            targets: CutTargets {
                segment_ms: targets.segment_ms.max(1),
                part_ms: targets.part_ms.max(1),
            },
            video: None,
            audio: None,
            started: false,
            part_start: None,
            segment_start: None,
            segment_pending: true,
            part_independent: false,
            sequence: 0,
            wait_keyframe: true,
            inits: 0,
            discontinuity_pending: false,
        }
    }

    /// Frames were lost upstream: what is held goes out, and output resumes at a keyframe
    /// with a new segment.
    pub fn discontinuity(&mut self, out: &mut Vec<Output>) {
        self.finish(out);
        self.wait_keyframe = true;
        self.segment_pending = true;
    }

    /// Takes one frame of the stream (sequence headers included).
    pub fn push(&mut self, frame: &Frame, out: &mut Vec<Output>) {
        let info = &frame.info;
        if frame.kind == FrameKind::Data || info.multitrack || !supported(info.codec) {
            return;
        }
        let video = frame.kind == FrameKind::Video;
        if info.config {
            let record = frame.config_record().map(<[u8]>::to_vec);
            let slot = if video { &self.video } else { &self.audio };
            let changed = slot
                .as_ref()
                .is_none_or(|t| t.codec != info.codec || t.config != record);
            if self.started && changed {
                // New codec parameters (a new publisher, another resolution): what is held
                // goes out, and a new init segment comes at the next keyframe.
                self.discontinuity(out);
                self.started = false;
            }
            if !self.started {
                let slot = if video { &mut self.video } else { &mut self.audio };
                let track = slot.get_or_insert_with(Track::default);
                track.codec = info.codec;
                track.config = record;
            }
            return;
        }
        if !info.coded {
            return;
        }
        let dts = u64::from(frame.timestamp);
        let has_video = self.video.is_some();
        if self.wait_keyframe {
            let starts = if has_video { video && frame.keyframe } else { !video };
            if !starts {
                return;
            }
            if !self.started && !self.start(frame, out) {
                return;
            }
            self.wait_keyframe = false;
        }
        let slot = if video { &mut self.video } else { &mut self.audio };
        let Some(track) = slot.as_mut().filter(|t| t.codec == info.codec) else {
            return;
        };
        if track.first.is_none() {
            track.first = Some(frame.data().to_vec());
        }
        // The held sample ends here: it joins the ready ones, this one is held.
        track.take(frame, dts);
        // The reference track (video, else audio) decides the cuts.
        if video == has_video {
            let keyframe = video && frame.keyframe;
            let estimate = u64::from(track.last_duration);
            let past_part = self
                .part_start
                .is_some_and(|start| dts > start && dts + estimate > start + self.targets.part_ms);
            let new_segment = self
                .segment_start
                .is_none_or(|start| dts >= start + self.targets.segment_ms)
                && (keyframe || !has_video);
            if keyframe || past_part || new_segment || self.part_start.is_none() {
                self.cut(dts, out);
                self.part_start = Some(dts);
                self.part_independent = keyframe || !has_video;
                if new_segment || self.segment_pending {
                    self.segment_start = Some(dts);
                    self.segment_pending = true;
                }
            }
        }
    }

    /// Writes the init segment for the tracks known at the first sample; false when a
    /// track cannot be written (no sample entry for it).
    fn start(&mut self, frame: &Frame, out: &mut Vec<Output>) -> bool {
        if frame.kind == FrameKind::Audio && self.audio.is_none() {
            self.audio = Some(Track {
                codec: frame.info.codec,
                ..Track::default()
            });
        }
        let first = frame.data().to_vec();
        let mut specs = Vec::new();
        for (id, video) in [(1, true), (2, false)] {
            let slot = if video { &mut self.video } else { &mut self.audio };
            let Some(track) = slot.as_mut() else { continue };
            track.id = id;
            let entry = match track.codec {
                Codec::Video(codec) => EntrySource::Video {
                    codec,
                    record: track.config.clone().unwrap_or_default(),
                    size: (0, 0),
                },
                Codec::Audio(codec) => EntrySource::Audio {
                    codec,
                    config: track.config.clone(),
                    first: if frame.kind == FrameKind::Audio {
                        first.clone()
                    } else {
                        Vec::new()
                    },
                },
                Codec::Unknown => {
                    *slot = None;
                    continue;
                }
            };
            specs.push(TrackSpec { id, entry });
        }
        let mut init = Vec::new();
        if specs.is_empty() || write_init(&specs, &mut init).is_err() {
            return false;
        }
        self.started = true;
        self.discontinuity_pending = self.inits > 0;
        self.inits += 1;
        out.push(Output::Init(init));
        true
    }

    /// Ends the open part at `end` (ms): its ready samples become one fragment.
    fn cut(&mut self, end: u64, out: &mut Vec<Output>) {
        let Some(start) = self.part_start else { return };
        let tracks = [self.video.as_ref(), self.audio.as_ref()];
        if tracks.iter().flatten().all(|t| t.ready.is_empty()) {
            return;
        }
        let runs: Vec<Run<'_>> = tracks
            .into_iter()
            .flatten()
            .map(|t| Run {
                track: t.id,
                base_dts: t.ready.first().map_or(0, |(_, dts, _)| *dts),
                with_cts: t.id == 1,
                samples: t
                    .ready
                    .iter()
                    .map(|(f, _, duration)| Sample {
                        duration: *duration,
                        cts: f.info.cts,
                        sync: t.id != 1 || f.keyframe,
                        data: f.data(),
                    })
                    .collect(),
            })
            .collect();
        self.sequence += 1;
        let mut data = Vec::new();
        write_fragment(self.sequence, &runs, &mut data);
        drop(runs);
        out.push(Output::Part(Part {
            data,
            duration_ms: end.saturating_sub(start),
            independent: self.part_independent,
            new_segment: std::mem::take(&mut self.segment_pending),
            discontinuity: std::mem::take(&mut self.discontinuity_pending),
        }));
        for track in [self.video.as_mut(), self.audio.as_mut()].into_iter().flatten() {
            track.ready.clear();
        }
    }

    /// The end of the stream (or of a run of frames): every held sample goes out.
    pub fn finish(&mut self, out: &mut Vec<Output>) {
        for track in [self.video.as_mut(), self.audio.as_mut()].into_iter().flatten() {
            track.flush_last();
        }
        let reference = self.video.as_ref().or(self.audio.as_ref());
        let end = reference
            .and_then(|t| t.ready.last())
            .map_or(0, |(_, dts, duration)| dts + u64::from(*duration));
        self.cut(end, out);
        self.part_start = None;
    }
}

#[cfg(test)]
#[path = "segmenter_tests.rs"]
mod tests;
