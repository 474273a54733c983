//! MP4 muxer: fragmented ISO BMFF. A file starts with `ftyp` + `moov` (with `mvex`) and a
//! fixed room for the segment index (`mp4::index`, a `free` box until refreshed): at `open`
//! when sequence headers announce both tracks, else with the first fragment (≤ 500 ms in,
//! when the tracks are known: MP3 audio has no sequence header). A fragment (`moof` + `mdat`, written whole) is cut at each video keyframe and
//! at least every [`FRAGMENT_MS`]; a sample joins one once the track's next sample gives
//! its duration (so durations are exact), the last ones at `drain`. Samples are the
//! encoder's bytes, composition offsets the frame's cts, times in ms. `checkpoint` and
//! `finalize` rewrite the index and the `mvhd`/`mehd`/`tkhd`/`mdhd` durations in place;
//! `mp4::repair` rebuilds them for a file cut short.

use super::muxer::{MuxError, Muxer, Patch, StreamHeaders, Summary, Tail};
use crate::media::demux::{AudioCodec, Codec, VideoCodec};
use crate::media::{Frame, FrameKind};
use crate::mp4::entries::EntrySource;
use crate::mp4::fragment::{write_fragment, Run, Sample};
use crate::mp4::index::{SegmentIndex, INDEX_ROOM};
use crate::mp4::init::{duration_fields, write_init, DurationField, TrackSpec};
use crate::protocol::amf0::Amf0Value;

/// A fragment is cut at least this often (media time, ms).
pub const FRAGMENT_MS: u64 = 500;

/// Whether MP4 (here) carries a codec.
pub fn supported(codec: Codec) -> bool {
    match codec {
        Codec::Video(v) => !matches!(v, VideoCodec::Other(_)),
        Codec::Audio(a) => matches!(a, AudioCodec::Aac | AudioCodec::Mp3 | AudioCodec::Opus),
        Codec::Unknown => true,
    }
}

#[derive(Debug)]
struct Track {
    id: u32,
    video: bool,
    codec: Codec,
    config: Option<Vec<u8>>,
    first: Option<Vec<u8>>,
    /// Samples whose duration is known: (frame, dts, duration).
    ready: Vec<(Frame, u64, u32)>,
    /// The latest sample, waiting for the next one to give its duration.
    last: Option<(Frame, u64)>,
    last_duration: u32,
    /// Decode time where the written samples end.
    end: u64,
}

impl Track {
    fn new(video: bool, codec: Codec) -> Track {
        Track {
            id: if video { 1 } else { 2 },
            video,
            codec,
            config: None,
            first: None,
            ready: Vec::new(),
            last: None,
            last_duration: 0,
            end: 0,
        }
    }

    fn entry(&self, size: (u32, u32)) -> Option<EntrySource> {
        match self.codec {
            Codec::Video(codec) => Some(EntrySource::Video {
                codec,
                record: self.config.clone().unwrap_or_default(),
                size,
            }),
            Codec::Audio(codec) => Some(EntrySource::Audio {
                codec,
                config: self.config.clone(),
                first: self.first.clone().unwrap_or_default(),
            }),
            Codec::Unknown => None,
        }
    }
}

/// Where the written `moov` and index room are.
#[derive(Debug)]
struct Layout {
    moov_at: u64,
    durations: Vec<DurationField>,
    index_at: u64,
    reference_track: u32,
}

#[derive(Debug)]
struct Mp4File {
    video: Option<Track>,
    audio: Option<Track>,
    size_hint: (u32, u32),
    layout: Option<Layout>,
    written: u64,
    sequence: u32,
    fragment_start: Option<u64>,
    index: SegmentIndex,
    samples: u64,
    /// The whole file's duration when it is known before it is written (a file streamed
    /// while it is made, never rewritten): written into the header's duration fields.
    known_duration: Option<u32>,
}

impl Mp4File {
    fn tracks(&self) -> impl Iterator<Item = &Track> {
        self.video.iter().chain(self.audio.iter())
    }

    fn end(&self) -> u64 {
        self.tracks().map(|t| t.end).max().unwrap_or(0)
    }

    /// Writes `ftyp`, `moov` and the index room for the tracks seen so far.
    fn write_header(&mut self, out: &mut Vec<u8>) -> Result<(), MuxError> {
        let mut specs = Vec::new();
        for track in self.tracks() {
            let entry = track.entry(self.size_hint).ok_or(MuxError::Unsupported(track.codec))?;
            specs.push(TrackSpec { id: track.id, entry });
        }
        let start = out.len();
        write_init(&specs, out)
            .map_err(|_| MuxError::Unsupported(self.tracks().map(|t| t.codec).next().unwrap_or_default()))?;
        let moov_at = 32u64; // after the fixed-size ftyp
        let moov = out.get(start + 32..).unwrap_or_default();
        let durations = duration_fields(moov);
        if let Some(duration) = self.known_duration {
            for field in &durations {
                let at = start + 32 + field.offset;
                if let Some(bytes) = out.get_mut(at..at + 4) {
                    bytes.copy_from_slice(&duration.to_be_bytes());
                }
            }
        }
        let index_at = self.written + (out.len() - start) as u64;
        out.extend_from_slice(&self.index.write(index_at, INDEX_ROOM, 1, 0));
        self.written += (out.len() - start) as u64;
        self.layout = Some(Layout {
            moov_at,
            durations,
            index_at,
            reference_track: if self.video.is_some() { 1 } else { 2 },
        });
        Ok(())
    }

    /// Writes every sample whose duration is known as one fragment (and the header first).
    fn emit(&mut self, out: &mut Vec<u8>) -> Result<(), MuxError> {
        if self.tracks().all(|t| t.ready.is_empty()) {
            return Ok(());
        }
        if self.layout.is_none() {
            self.write_header(out)?;
        }
        let reference = self.layout.as_ref().map_or(1, |l| l.reference_track);
        let mut start = None;
        // A fragment without a reference-track sample never starts an index reference.
        let mut sync = false;
        let mut count = 0u64;
        let runs: Vec<Run<'_>> = self
            .tracks()
            .map(|t| {
                let base_dts = t.ready.first().map_or(0, |(_, dts, _)| *dts);
                if t.id == reference && !t.ready.is_empty() {
                    start = Some(base_dts);
                    sync = !t.video || t.ready.first().is_some_and(|(f, _, _)| f.keyframe);
                }
                count += t.ready.len() as u64;
                Run {
                    track: t.id,
                    base_dts,
                    with_cts: t.video,
                    samples: t
                        .ready
                        .iter()
                        .map(|(f, _, duration)| Sample {
                            duration: *duration,
                            cts: f.info.cts,
                            sync: !t.video || f.keyframe,
                            data: f.data(),
                        })
                        .collect(),
                }
            })
            .collect();
        let sequence = self.sequence + 1;
        let offset = self.written;
        let size = write_fragment(sequence, &runs, out) as u64;
        let start = start.unwrap_or_else(|| runs.iter().map(|r| r.base_dts).min().unwrap_or(0));
        drop(runs);
        self.sequence = sequence;
        self.index.add(offset, size, start, sync);
        self.written += size;
        self.samples += count;
        for track in [self.video.as_mut(), self.audio.as_mut()].into_iter().flatten() {
            if let Some((_, dts, duration)) = track.ready.last() {
                track.end = track.end.max(dts + u64::from(*duration));
            }
            track.ready.clear();
        }
        Ok(())
    }

    fn patches(&self) -> Vec<Patch> {
        let Some(layout) = &self.layout else { return Vec::new() };
        let reference_end = self
            .tracks()
            .find(|t| t.id == layout.reference_track)
            .map_or(0, |t| t.end);
        let index = self
            .index
            .write(layout.index_at, INDEX_ROOM, layout.reference_track, reference_end);
        let mut patches = vec![(layout.index_at, index)];
        for field in &layout.durations {
            let end = match field.track {
                None => self.end(),
                Some(id) => self.tracks().find(|t| t.id == id).map_or(0, |t| t.end),
            };
            let value = u32::try_from(end).unwrap_or(u32::MAX);
            patches.push((layout.moov_at + field.offset as u64, value.to_be_bytes().to_vec()));
        }
        patches
    }
}

#[derive(Debug, Default)]
pub struct Mp4Muxer {
    file: Option<Mp4File>,
    known_duration: Option<u32>,
}

impl Mp4Muxer {
    pub fn new() -> Self {
        Mp4Muxer::default()
    }

    /// A muxer for files sent while they are made (no in-place rewrites reach them): the
    /// header carries `duration_ms` from the start, so players know the length and can seek.
    pub fn with_known_duration(duration_ms: u32) -> Self {
        Mp4Muxer {
            file: None,
            known_duration: Some(duration_ms),
        }
    }
}

/// width/height numbers from onMetaData (for codecs whose record the muxer does not parse).
fn metadata_size(metadata: &[(String, Amf0Value)]) -> (u32, u32) {
    let get = |key: &str| {
        metadata.iter().find_map(|(k, v)| match v {
            Amf0Value::Number(n) if k.eq_ignore_ascii_case(key) && *n >= 0.0 && *n < 65536.0 => Some(*n as u32),
            _ => None,
        })
    };
    (get("width").unwrap_or(0), get("height").unwrap_or(0))
}

impl Muxer for Mp4Muxer {
    fn extension(&self) -> &'static str {
        "mp4"
    }

    fn embeds_payload(&self) -> bool {
        true
    }

    fn open(&mut self, stream: &StreamHeaders<'_>, _data: &[Frame], out: &mut Vec<u8>) -> Result<(), MuxError> {
        let mut file = Mp4File {
            video: None,
            audio: None,
            size_hint: metadata_size(stream.metadata),
            layout: None,
            written: 0,
            sequence: 0,
            fragment_start: None,
            index: SegmentIndex::for_room(INDEX_ROOM),
            samples: 0,
            known_duration: self.known_duration,
        };
        for header in [stream.video, stream.audio].into_iter().flatten() {
            if !supported(header.info.codec) {
                return Err(MuxError::Unsupported(header.info.codec));
            }
            let slot = if header.kind == FrameKind::Video {
                &mut file.video
            } else {
                &mut file.audio
            };
            let track = slot.get_or_insert_with(|| Track::new(header.kind == FrameKind::Video, header.info.codec));
            track.config = header.config_record().map(<[u8]>::to_vec);
        }
        // Both tracks announced by their configuration: the header goes out at once (else it
        // waits for the first fragment, when the tracks are known).
        if file.video.is_some() && file.audio.is_some() {
            file.write_header(out)?;
        }
        self.file = Some(file);
        Ok(())
    }

    fn append(&mut self, frame: &Frame, file_ts: u32, out: &mut Vec<u8>) -> Result<Tail, MuxError> {
        let file = self.file.as_mut().ok_or(MuxError::NotOpen)?;
        let info = &frame.info;
        if frame.kind == FrameKind::Data || info.multitrack {
            return Ok(Tail::default());
        }
        if !supported(info.codec) {
            return Err(MuxError::Unsupported(info.codec));
        }
        let video = frame.kind == FrameKind::Video;
        let started = file.layout.is_some();
        let slot = if video { &mut file.video } else { &mut file.audio };
        if info.config {
            if !started {
                let track = slot.get_or_insert_with(|| Track::new(video, info.codec));
                track.config = frame.config_record().map(<[u8]>::to_vec);
                track.codec = info.codec;
            }
            return Ok(Tail::default());
        }
        if !info.coded || (started && slot.is_none()) {
            return Ok(Tail::default());
        }
        let track = slot.get_or_insert_with(|| Track::new(video, info.codec));
        if track.codec != info.codec && track.codec != Codec::Unknown {
            return Ok(Tail::default()); // a codec change mid-file is not written
        }
        let dts = u64::from(file_ts);
        if track.first.is_none() {
            track.first = Some(frame.data().to_vec());
        }
        if let Some((previous, at)) = track.last.take() {
            let duration = u32::try_from(dts.saturating_sub(at)).unwrap_or(u32::MAX);
            track.last_duration = duration;
            track.ready.push((previous, at, duration));
        }
        let cut = (video && frame.keyframe) || file.fragment_start.is_some_and(|s| dts >= s + FRAGMENT_MS);
        if cut {
            file.emit(out)?;
            file.fragment_start = None;
        }
        file.fragment_start.get_or_insert(dts);
        let slot = if video { &mut file.video } else { &mut file.audio };
        if let Some(track) = slot {
            track.last = Some((frame.clone(), dts));
        }
        Ok(Tail::default())
    }

    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), MuxError> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        for track in [file.video.as_mut(), file.audio.as_mut()].into_iter().flatten() {
            if let Some((frame, dts)) = track.last.take() {
                track.ready.push((frame, dts, track.last_duration));
            }
        }
        file.emit(out)
    }

    fn update_metadata(&mut self, stream: &StreamHeaders<'_>) -> bool {
        if let Some(file) = self.file.as_mut().filter(|f| f.layout.is_none()) {
            file.size_hint = metadata_size(stream.metadata);
        }
        true
    }

    fn checkpoint(&self) -> Vec<Patch> {
        self.file.as_ref().map(Mp4File::patches).unwrap_or_default()
    }

    fn finalize(&mut self) -> Option<(Vec<Patch>, Summary)> {
        let file = self.file.take()?;
        let summary = Summary {
            bytes: file.written,
            frames: file.samples,
            duration_ms: u32::try_from(file.end()).unwrap_or(u32::MAX),
        };
        Some((file.patches(), summary))
    }

    fn abandon(&mut self) {
        self.file = None;
    }

    fn bytes(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.written)
    }

    fn duration_ms(&self) -> u32 {
        self.file
            .as_ref()
            .map_or(0, |f| u32::try_from(f.end()).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
#[path = "mp4_muxer_tests.rs"]
mod tests;
