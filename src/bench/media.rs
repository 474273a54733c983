//! The media rtmp-bench publishes: an FLV file or synthetic H.264-like video plus AAC-like
//! audio at a bitrate, as a prelude (metadata, sequence headers) and one cycle looped without
//! end; and the send-clock stamp carried in each AVC video frame as a filler NAL unit.

use crate::flv::reader::{parse_header, parse_tag, FlvReadError};
use crate::media::codec::{inspect_audio, inspect_video};
use crate::media::FrameKind;
use crate::protocol::amf0::{self, Amf0Value};

/// Synthetic video: frames per second, and frames per GOP (a keyframe every 2 s).
pub const SYNTHETIC_FPS: u32 = 25;
pub const SYNTHETIC_GOP_FRAMES: u32 = 50;
/// A synthetic keyframe is this many times larger than an inter frame.
const KEYFRAME_SIZE_RATIO: u64 = 10;
/// Synthetic audio: AAC-like frames of 1024 samples at 44.1 kHz, 128 kbit/s.
const AUDIO_RATE: u64 = 44_100;
const AUDIO_SAMPLES: u64 = 1024;
const AUDIO_KBPS: u64 = 128;
/// Gap between the last frame of a file's cycle and the first of the next loop (ms).
const LOOP_GAP_MS: u32 = 40;
/// A 1280x720 AVC decoder configuration record (SPS and PPS from x264), after the 5-byte
/// video tag header.
const AVC_CONFIG: [u8; 38] = [
    0x01, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0x00, 0x17, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xec, 0x04, 0x40,
    0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc6, 0x0c, 0xa8, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8,
];
/// AudioSpecificConfig: AAC LC, 44.1 kHz, stereo.
const AAC_CONFIG: [u8; 2] = [0x12, 0x10];
/// The stamp: a 9-byte filler-data NAL unit (4-byte length, type 12, 8-byte nanoseconds)
/// placed right after the 5-byte AVC video header, which decoders skip.
const STAMP_MARK: [u8; 5] = [0, 0, 0, 9, 0x0C];
const AVC_HEADER_LEN: usize = 5;
pub const STAMP_LEN: usize = STAMP_MARK.len() + 8;

/// One message of the bench timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFrame {
    pub kind: FrameKind,
    /// Timestamp in ms (within the cycle for cycle frames).
    pub timestamp: u32,
    pub body: Vec<u8>,
    pub keyframe: bool,
    pub sequence_header: bool,
}

impl MediaFrame {
    /// True for a legacy AVC coded frame, which can carry the latency stamp.
    pub fn stampable(&self) -> bool {
        self.kind == FrameKind::Video
            && !self.sequence_header
            && self.body.len() >= AVC_HEADER_LEN
            && self.body.first().is_some_and(|b| b & 0x8F == 0x07)
            && self.body.get(1) == Some(&1)
    }

    /// True for a video frame that counts toward "kept up" (any coded video frame).
    pub fn is_coded_video(&self) -> bool {
        self.kind == FrameKind::Video && !self.sequence_header
    }
}

/// What the publishers send: the prelude once at timestamp 0, then the cycle over and over,
/// each loop `cycle_ms` later than the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchMedia {
    pub prelude: Vec<MediaFrame>,
    pub cycle: Vec<MediaFrame>,
    pub cycle_ms: u32,
    /// Human description, e.g. "synthetic 5000 kbit/s" or the file name.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaError {
    Flv(FlvReadError),
    /// The file has no audio or video frames besides headers.
    NoMedia,
    /// The file ends in the middle of its header or a tag.
    Truncated,
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::Flv(e) => write!(f, "{e}"),
            MediaError::NoMedia => write!(f, "the FLV file holds no audio or video frames"),
            MediaError::Truncated => write!(f, "the FLV file is truncated"),
        }
    }
}

impl std::error::Error for MediaError {}

impl BenchMedia {
    /// Synthetic media of about `bitrate_kbps` in total: 1280x720 H.264-like video at 25 fps
    /// with a keyframe every 2 s, and 128 kbit/s AAC-like audio.
    pub fn synthetic(bitrate_kbps: u32) -> BenchMedia {
        BenchMedia::synthetic_with_keyframes(bitrate_kbps, 2000)
    }

    /// The same with a keyframe every `keyframe_ms` (rounded to whole frames, at most the
    /// 2 s cycle), the bitrate kept.
    pub fn synthetic_with_keyframes(bitrate_kbps: u32, keyframe_ms: u32) -> BenchMedia {
        let video_bps = u64::from(bitrate_kbps).saturating_sub(AUDIO_KBPS).max(64) * 1000;
        let gop_ms = SYNTHETIC_GOP_FRAMES * 1000 / SYNTHETIC_FPS;
        let every = (keyframe_ms * SYNTHETIC_FPS / 1000).clamp(1, SYNTHETIC_GOP_FRAMES);
        let keyframes = u64::from(SYNTHETIC_GOP_FRAMES.div_ceil(every));
        let gop_bytes = video_bps / 8 * u64::from(gop_ms) / 1000;
        let weight = keyframes * KEYFRAME_SIZE_RATIO + u64::from(SYNTHETIC_GOP_FRAMES) - keyframes;
        let inter_size = (gop_bytes / weight).max(64);
        let mut cycle = Vec::new();
        for i in 0..SYNTHETIC_GOP_FRAMES {
            let keyframe = i % every == 0;
            let size = if keyframe {
                inter_size * KEYFRAME_SIZE_RATIO
            } else {
                inter_size
            };
            cycle.push(MediaFrame {
                kind: FrameKind::Video,
                timestamp: i * 1000 / SYNTHETIC_FPS,
                body: synthetic_video(keyframe, usize::try_from(size).unwrap_or(usize::MAX)),
                keyframe,
                sequence_header: false,
            });
        }
        let audio_size = AUDIO_KBPS * 1000 / 8 * AUDIO_SAMPLES / AUDIO_RATE;
        let mut j = 0u64;
        loop {
            let timestamp = j * AUDIO_SAMPLES * 1000 / AUDIO_RATE;
            if timestamp >= u64::from(gop_ms) {
                break;
            }
            let mut body = vec![0xAF, 0x01];
            body.extend((0..audio_size).map(|n| (n * 7 + j) as u8));
            cycle.push(MediaFrame {
                kind: FrameKind::Audio,
                timestamp: u32::try_from(timestamp).unwrap_or(u32::MAX),
                body,
                keyframe: false,
                sequence_header: false,
            });
            j += 1;
        }
        // Stable: at equal timestamps video stays before audio.
        cycle.sort_by_key(|f| f.timestamp);
        let mut video_header = vec![0x17, 0x00, 0, 0, 0];
        video_header.extend_from_slice(&AVC_CONFIG);
        let mut audio_header = vec![0xAF, 0x00];
        audio_header.extend_from_slice(&AAC_CONFIG);
        let prelude = vec![
            header_frame(FrameKind::Data, synthetic_metadata(bitrate_kbps)),
            header_frame(FrameKind::Video, video_header),
            header_frame(FrameKind::Audio, audio_header),
        ];
        BenchMedia {
            prelude,
            cycle,
            cycle_ms: gop_ms,
            source: format!("synthetic {bitrate_kbps} kbit/s"),
        }
    }

    /// The tags of an FLV file: script data and sequence headers form the prelude, every
    /// other tag the cycle (timestamps rebased to its first frame).
    pub fn from_flv(flv: &[u8], source: String) -> Result<BenchMedia, MediaError> {
        let header = parse_header(flv)
            .map_err(MediaError::Flv)?
            .ok_or(MediaError::Truncated)?;
        let mut rest = flv.get(header.data_offset..).unwrap_or(&[]);
        let mut prelude = Vec::new();
        let mut cycle: Vec<MediaFrame> = Vec::new();
        while let Some((tag, used)) = parse_tag(rest).map_err(MediaError::Flv)? {
            let (kind, info) = match tag.tag_type {
                8 => (FrameKind::Audio, inspect_audio(tag.body)),
                9 => (FrameKind::Video, inspect_video(tag.body)),
                _ => (FrameKind::Data, Default::default()),
            };
            let frame = MediaFrame {
                kind,
                timestamp: tag.timestamp,
                body: tag.body.to_vec(),
                keyframe: info.keyframe,
                sequence_header: info.sequence_header,
            };
            if kind == FrameKind::Data || info.sequence_header {
                prelude.push(MediaFrame { timestamp: 0, ..frame });
            } else {
                cycle.push(frame);
            }
            rest = rest.get(used..).unwrap_or(&[]);
        }
        let first = cycle.iter().map(|f| f.timestamp).min().ok_or(MediaError::NoMedia)?;
        for frame in &mut cycle {
            frame.timestamp -= first;
        }
        let last = cycle.iter().map(|f| f.timestamp).max().unwrap_or(0);
        Ok(BenchMedia {
            prelude,
            cycle,
            cycle_ms: last.saturating_add(LOOP_GAP_MS),
            source,
        })
    }

    /// The timestamp of cycle frame `index` in loop `round`.
    pub fn timestamp(&self, round: u64, frame: &MediaFrame) -> u32 {
        let ts = round * u64::from(self.cycle_ms) + u64::from(frame.timestamp);
        // Bench runs are bounded far below 2^32 ms; wrap as RTMP timestamps do.
        (ts & u64::from(u32::MAX)) as u32
    }
}

fn header_frame(kind: FrameKind, body: Vec<u8>) -> MediaFrame {
    MediaFrame {
        kind,
        timestamp: 0,
        body,
        keyframe: false,
        sequence_header: kind != FrameKind::Data,
    }
}

/// An AVC video tag of `size` bytes: the 5-byte header and one NAL unit (IDR or non-IDR
/// slice) of filler content.
fn synthetic_video(keyframe: bool, size: usize) -> Vec<u8> {
    let nal_len = size.saturating_sub(AVC_HEADER_LEN + 4).max(1);
    let mut body = Vec::with_capacity(AVC_HEADER_LEN + 4 + nal_len);
    body.extend_from_slice(&[if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0]);
    body.extend_from_slice(&u32::try_from(nal_len).unwrap_or(u32::MAX).to_be_bytes());
    body.push(if keyframe { 0x65 } else { 0x41 });
    body.extend((1..nal_len).map(|n| (n % 251) as u8 | 1));
    body
}

fn synthetic_metadata(bitrate_kbps: u32) -> Vec<u8> {
    let number = |n: u32| Amf0Value::Number(f64::from(n));
    let properties = vec![
        ("duration".to_owned(), number(0)),
        ("width".to_owned(), number(1280)),
        ("height".to_owned(), number(720)),
        ("framerate".to_owned(), number(SYNTHETIC_FPS)),
        ("videocodecid".to_owned(), number(7)),
        ("videodatarate".to_owned(), number(bitrate_kbps.saturating_sub(128))),
        ("audiocodecid".to_owned(), number(10)),
        ("audiosamplerate".to_owned(), number(44_100)),
        ("audiodatarate".to_owned(), number(128)),
        ("stereo".to_owned(), Amf0Value::Boolean(true)),
        ("encoder".to_owned(), Amf0Value::String("rtmp-bench".to_owned())),
    ];
    let mut body = Vec::new();
    amf0::encode(&Amf0Value::String("onMetaData".to_owned()), &mut body);
    amf0::encode(&Amf0Value::EcmaArray(properties), &mut body);
    body
}

/// Writes `body` into `out` with the stamp `nanos` inserted after the AVC header.
pub fn stamp_into(body: &[u8], nanos: u64, out: &mut Vec<u8>) {
    out.clear();
    let (head, tail) = body.split_at(AVC_HEADER_LEN.min(body.len()));
    out.extend_from_slice(head);
    out.extend_from_slice(&STAMP_MARK);
    out.extend_from_slice(&nanos.to_be_bytes());
    out.extend_from_slice(tail);
}

/// The stamp of a video sample as MP4 carries it (the payload without its AVC header).
pub fn read_sample_stamp(sample: &[u8]) -> Option<u64> {
    if sample.get(..STAMP_MARK.len())? != STAMP_MARK {
        return None;
    }
    let bytes = sample.get(STAMP_MARK.len()..STAMP_LEN)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The stamp of a received video payload, if it carries one.
pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    if payload.get(AVC_HEADER_LEN..AVC_HEADER_LEN + STAMP_MARK.len())? != STAMP_MARK {
        return None;
    }
    let bytes = payload.get(AVC_HEADER_LEN + STAMP_MARK.len()..AVC_HEADER_LEN + STAMP_LEN)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_media_meets_its_bitrate_and_gop() {
        let media = BenchMedia::synthetic(5000);
        assert_eq!(media.cycle_ms, 2000);
        let bytes: usize = media.cycle.iter().map(|f| f.body.len()).sum();
        let kbps = bytes * 8 / 2 / 1000;
        assert!((4800..=5100).contains(&kbps), "{kbps} kbit/s");
        let video: Vec<_> = media.cycle.iter().filter(|f| f.kind == FrameKind::Video).collect();
        assert_eq!(video.len(), 50);
        assert!(video[0].keyframe && video[1..].iter().all(|f| !f.keyframe));
        assert!(video.iter().all(|f| f.stampable()));
        assert!(media.cycle.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert!(media.prelude.iter().skip(1).all(|f| f.sequence_header));
        assert!(inspect_video(&media.prelude[1].body).sequence_header);
    }

    #[test]
    fn keyframes_every_half_second_keep_the_bitrate() {
        let media = BenchMedia::synthetic_with_keyframes(5000, 500);
        let bytes: usize = media.cycle.iter().map(|f| f.body.len()).sum();
        let kbps = bytes * 8 / 2 / 1000;
        assert!((4800..=5100).contains(&kbps), "{kbps} kbit/s");
        let keys: Vec<u32> = media.cycle.iter().filter(|f| f.keyframe).map(|f| f.timestamp).collect();
        assert_eq!(keys, [0, 480, 960, 1440, 1920]);
    }

    #[test]
    fn stamp_round_trips_and_keeps_the_header() {
        let body = synthetic_video(true, 100);
        let mut out = Vec::new();
        stamp_into(&body, 0x0102_0304_0506_0708, &mut out);
        assert_eq!(out.len(), body.len() + STAMP_LEN);
        assert_eq!(&out[..5], &body[..5]);
        assert_eq!(read_stamp(&out), Some(0x0102_0304_0506_0708));
        assert_eq!(read_stamp(&body), None);
        assert!(inspect_video(&out).keyframe);
    }

    #[test]
    fn loops_advance_by_the_cycle() {
        let media = BenchMedia::synthetic(1000);
        let last = media.cycle.last().unwrap();
        let first = media.cycle.first().unwrap();
        assert!(media.timestamp(1, first) > media.timestamp(0, last));
        assert_eq!(media.timestamp(3, first), 6000);
    }

    #[test]
    fn flv_file_splits_into_prelude_and_cycle() {
        let mut flv = crate::flv::writer::file_header(true, true).to_vec();
        let synthetic = BenchMedia::synthetic(500);
        for frame in synthetic.prelude.iter().chain(synthetic.cycle.iter()) {
            crate::flv::writer::encode_tag(frame.kind.tag_type(), frame.timestamp + 1000, &frame.body, &mut flv)
                .unwrap();
        }
        let media = BenchMedia::from_flv(&flv, "x.flv".into()).unwrap();
        assert_eq!(media.prelude.len(), 3);
        assert_eq!(media.cycle.len(), synthetic.cycle.len());
        assert_eq!(media.cycle[0].timestamp, 0);
        assert!(media.cycle[0].keyframe);
        assert_eq!(
            BenchMedia::from_flv(b"nope", String::new()),
            Err(MediaError::Flv(FlvReadError::NotFlv))
        );
    }
}
