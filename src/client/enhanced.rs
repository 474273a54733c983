//! Enhanced RTMP frames from a fragmented MP4 (`mp4::reader`): what the client publishes for
//! codecs FLV's legacy ids cannot name (HEVC `hvc1`, AV1 `av01`, VP9 `vp09`, Opus, and AVC/AAC
//! too): a SequenceStart per track with its configuration record (Opus: an `OpusHead` built
//! from `dOps`), then every sample as CodedFrames at its millisecond time, in decode order.

use crate::media::FrameKind;
use crate::mp4::reader::{read_fragmented, Mp4ReadError, ReadTrack};

/// One frame to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnhancedFrame {
    pub kind: FrameKind,
    pub timestamp: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnhancedError {
    Read(Mp4ReadError),
    /// A track's sample entry has no Enhanced RTMP FourCC here.
    Codec([u8; 4]),
}

impl std::fmt::Display for EnhancedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnhancedError::Read(e) => write!(f, "{e}"),
            EnhancedError::Codec(fourcc) => {
                write!(f, "no Enhanced RTMP mapping for {}", String::from_utf8_lossy(fourcc))
            }
        }
    }
}

impl std::error::Error for EnhancedError {}

const PACKET_SEQUENCE_START: u8 = 0;
const PACKET_CODED_FRAMES: u8 = 1;
const VIDEO_EX_HEADER: u8 = 0x80;
const AUDIO_EX_HEADER: u8 = 0x90;

/// A track's FourCC, whether its CodedFrames carry a composition offset, and its
/// SequenceStart record.
fn mapping(track: &ReadTrack) -> Result<([u8; 4], bool, Vec<u8>), EnhancedError> {
    let config = track.config.clone();
    match &track.entry {
        b"avc1" | b"avc3" => Ok((*b"avc1", true, config)),
        b"hvc1" | b"hev1" => Ok((*b"hvc1", true, config)),
        b"av01" => Ok((*b"av01", false, config)),
        b"vp09" => Ok((*b"vp09", false, config.get(4..).unwrap_or_default().to_vec())),
        b"Opus" => Ok((*b"Opus", false, opus_head(&config))),
        b"mp4a" => Ok((*b"mp4a", false, decoder_specific_info(&config).unwrap_or_default())),
        other => Err(EnhancedError::Codec(*other)),
    }
}

/// `OpusHead` (little-endian, Ogg) from a `dOps` body (big-endian).
fn opus_head(dops: &[u8]) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(dops.get(1).copied().unwrap_or(2));
    let be16 = |at: usize| {
        dops.get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u16::from_be_bytes)
    };
    head.extend_from_slice(&be16(2).to_le_bytes());
    let rate = dops
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(48_000, u32::from_be_bytes);
    head.extend_from_slice(&rate.to_le_bytes());
    head.extend_from_slice(&be16(8).to_le_bytes());
    head.extend_from_slice(dops.get(10..).unwrap_or(&[0]));
    head
}

/// The DecoderSpecificInfo (AAC AudioSpecificConfig) of an `esds` body.
fn decoder_specific_info(esds: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 4; // version and flags
    loop {
        let tag = *esds.get(pos)?;
        pos += 1;
        let mut len = 0usize;
        for _ in 0..4 {
            let b = *esds.get(pos)?;
            pos += 1;
            len = (len << 7) | usize::from(b & 0x7F);
            if b & 0x80 == 0 {
                break;
            }
        }
        match tag {
            3 => pos += 3, // ES_ID and flags (no optional fields)
            4 => pos += 13,
            5 => return esds.get(pos..pos + len).map(<[u8]>::to_vec),
            _ => pos += len,
        }
    }
}

/// The frames to publish for a fragmented MP4's tracks.
pub fn enhanced_frames(mp4: &[u8]) -> Result<Vec<EnhancedFrame>, EnhancedError> {
    let (tracks, samples) = read_fragmented(mp4).map_err(EnhancedError::Read)?;
    let mut frames = Vec::new();
    let mut maps = Vec::new();
    for track in &tracks {
        let (fourcc, with_cts, record) = mapping(track)?;
        let kind = if track.video {
            FrameKind::Video
        } else {
            FrameKind::Audio
        };
        let first = if track.video {
            VIDEO_EX_HEADER | (1 << 4) | PACKET_SEQUENCE_START
        } else {
            AUDIO_EX_HEADER | PACKET_SEQUENCE_START
        };
        let payload = [&[first][..], &fourcc, &record].concat();
        frames.push((
            0u32,
            0usize,
            EnhancedFrame {
                kind,
                timestamp: 0,
                payload,
            },
        ));
        maps.push((
            track.id,
            track.video,
            fourcc,
            with_cts,
            u64::from(track.timescale.max(1)),
        ));
    }
    for (order, sample) in samples.iter().enumerate() {
        let Some(&(_, video, fourcc, with_cts, scale)) = maps.iter().find(|m| m.0 == sample.track) else {
            continue;
        };
        let ms = |t: i64| t.saturating_mul(1000).div_euclid(scale as i64);
        let dts = ms(sample.dts as i64);
        let cts = ms(sample.dts as i64 + i64::from(sample.cts)) - dts;
        let data = mp4.get(sample.offset..sample.offset + sample.size).unwrap_or_default();
        let mut payload = Vec::with_capacity(data.len() + 8);
        if video {
            let frame_type: u8 = if sample.sync { 1 } else { 2 };
            payload.push(VIDEO_EX_HEADER | (frame_type << 4) | PACKET_CODED_FRAMES);
            payload.extend_from_slice(&fourcc);
            if with_cts {
                payload.extend_from_slice(&(cts as i32).to_be_bytes()[1..]);
            }
        } else {
            payload.push(AUDIO_EX_HEADER | PACKET_CODED_FRAMES);
            payload.extend_from_slice(&fourcc);
        }
        payload.extend_from_slice(data);
        let kind = if video { FrameKind::Video } else { FrameKind::Audio };
        let timestamp = u32::try_from(dts.max(0)).unwrap_or(u32::MAX);
        frames.push((
            timestamp,
            order + 1,
            EnhancedFrame {
                kind,
                timestamp,
                payload,
            },
        ));
    }
    frames.sort_by_key(|(ts, order, _)| (*ts, *order));
    Ok(frames.into_iter().map(|(_, _, f)| f).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_and_aac_config_are_rebuilt() {
        let dops = [0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0];
        assert_eq!(
            opus_head(&dops),
            [b"OpusHead".as_slice(), &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]].concat()
        );
        let esds = [
            0, 0, 0, 0, 3, 0x80, 0x80, 0x80, 25, 0, 1, 0, 4, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2,
            0x12, 0x10, 6, 1, 2,
        ];
        assert_eq!(decoder_specific_info(&esds), Some(vec![0x12, 0x10]));
        assert_eq!(decoder_specific_info(&[0, 0, 0, 0]), None);
    }

    #[test]
    fn recorded_mp4_round_trips_to_enhanced_frames() {
        use crate::media::Frame;
        use crate::record::mp4_muxer::Mp4Muxer;
        use crate::record::muxer::{Muxer, StreamHeaders};
        use std::sync::Arc;
        let config = Frame::new(FrameKind::Video, 0, Arc::new(b"\x90av01\x81\x00\x0c\x00".to_vec()));
        let headers = StreamHeaders {
            video: Some(&config),
            audio: None,
            metadata: &[],
        };
        let mut muxer = Mp4Muxer::new();
        let mut out = Vec::new();
        muxer.open(&headers, &[], &mut out).unwrap();
        for (ts, key) in [(0u32, true), (40, false), (80, true)] {
            let first = if key { 0x91 } else { 0xA1 };
            let frame = Frame::new(
                FrameKind::Video,
                ts,
                Arc::new([&[first][..], b"av01", &[ts as u8]].concat()),
            );
            muxer.append(&frame, ts, &mut out).unwrap();
        }
        muxer.drain(&mut out).unwrap();
        let frames = enhanced_frames(&out).unwrap();
        let payloads: Vec<Vec<u8>> = frames.iter().map(|f| f.payload.clone()).collect();
        assert_eq!(
            payloads,
            [
                b"\x90av01\x81\x00\x0c\x00".to_vec(),
                b"\x91av01\x00".to_vec(),
                b"\xA1av01\x28".to_vec(),
                b"\x91av01\x50".to_vec()
            ]
        );
        assert_eq!(frames.iter().map(|f| f.timestamp).collect::<Vec<_>>(), [0, 0, 40, 80]);
    }
}
