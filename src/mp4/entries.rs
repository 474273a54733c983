//! Sample entries (`stsd` children) from a stream's codec configuration: `avc1`+`avcC`,
//! `hvc1`+`hvcC`, `av01`+`av1C`, `vp09`+`vpcC`, `mp4a`+`esds` (AAC and MP3) and
//! `Opus`+`dOps`, with the picture size or channel count and sample rate players want.

use super::boxes::{begin, begin_full, end, u16, u32};
use crate::media::avc_sps::avc_record_picture_size;
use crate::media::demux::{AudioCodec, VideoCodec};
use crate::media::hevc_sps::hevc_record_picture_size;

/// What a track's sample entry is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// A video codec, its configuration record, and a picture size from the stream's
    /// metadata when the record does not give one.
    Video {
        codec: VideoCodec,
        record: Vec<u8>,
        size: (u32, u32),
    },
    /// An audio codec, its configuration (AAC AudioSpecificConfig, OpusHead) and the first
    /// coded frame (MP3: its header says rate and channels).
    Audio {
        codec: AudioCodec,
        config: Option<Vec<u8>>,
        first: Vec<u8>,
    },
}

/// Why a track cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    /// The codec has no MP4 mapping here.
    Codec,
    /// The codec needs a configuration record the stream did not send.
    NoConfig,
}

impl EntrySource {
    /// Picture size of a video entry (0x0 unknown).
    pub fn picture_size(&self) -> (u32, u32) {
        match self {
            EntrySource::Video { codec, record, size } => {
                let parsed = match codec {
                    VideoCodec::Avc => avc_record_picture_size(record),
                    VideoCodec::Hevc => hevc_record_picture_size(record),
                    _ => None,
                };
                parsed.unwrap_or(*size)
            }
            EntrySource::Audio { .. } => (0, 0),
        }
    }

    /// Appends the sample entry.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), EntryError> {
        match self {
            EntrySource::Video { codec, record, .. } => {
                let (entry, config): (&[u8; 4], &[u8; 4]) = match codec {
                    VideoCodec::Avc => (b"avc1", b"avcC"),
                    VideoCodec::Hevc => (b"hvc1", b"hvcC"),
                    VideoCodec::Av1 => (b"av01", b"av1C"),
                    VideoCodec::Vp9 => (b"vp09", b"vpcC"),
                    VideoCodec::Other(_) => return Err(EntryError::Codec),
                };
                if record.is_empty() {
                    return Err(EntryError::NoConfig);
                }
                let (w, h) = self.picture_size();
                let at = begin(out, entry);
                out.extend_from_slice(&[0; 6]);
                u16(out, 1); // data reference index
                out.extend_from_slice(&[0; 16]);
                u16(out, u16::try_from(w).unwrap_or(0));
                u16(out, u16::try_from(h).unwrap_or(0));
                u32(out, 0x0048_0000);
                u32(out, 0x0048_0000);
                u32(out, 0);
                u16(out, 1); // frame count
                out.extend_from_slice(&[0; 32]); // compressor name
                u16(out, 0x0018);
                u16(out, 0xFFFF);
                let c = begin(out, config);
                if *codec == VideoCodec::Vp9 {
                    u32(out, 0x0100_0000); // vpcC is a full box, version 1
                }
                out.extend_from_slice(record);
                end(out, c);
                end(out, at);
                Ok(())
            }
            EntrySource::Audio { codec, config, first } => match codec {
                AudioCodec::Aac => {
                    let asc = config.as_deref().filter(|c| c.len() >= 2).ok_or(EntryError::NoConfig)?;
                    let (rate, channels) = aac_rate_channels(asc);
                    let at = audio_entry(out, b"mp4a", channels, rate);
                    esds(out, 0x40, Some(asc));
                    end(out, at);
                    Ok(())
                }
                AudioCodec::Mp3 => {
                    let (rate, channels) = mp3_rate_channels(first).unwrap_or((44_100, 2));
                    let at = audio_entry(out, b"mp4a", channels, rate);
                    esds(out, 0x6B, None);
                    end(out, at);
                    Ok(())
                }
                AudioCodec::Opus => {
                    let head = OpusHead::parse(config.as_deref());
                    let at = audio_entry(out, b"Opus", u16::from(head.channels), 48_000);
                    let d = begin(out, b"dOps");
                    out.push(0);
                    out.push(head.channels);
                    u16(out, head.pre_skip);
                    u32(out, head.input_rate);
                    out.extend_from_slice(&head.gain.to_be_bytes());
                    out.push(head.family);
                    out.extend_from_slice(&head.mapping);
                    end(out, d);
                    end(out, at);
                    Ok(())
                }
                _ => Err(EntryError::Codec),
            },
        }
    }
}

/// Starts an AudioSampleEntry (ended by the caller after its configuration box).
fn audio_entry(out: &mut Vec<u8>, kind: &[u8; 4], channels: u16, rate: u32) -> usize {
    let at = begin(out, kind);
    out.extend_from_slice(&[0; 6]);
    u16(out, 1);
    out.extend_from_slice(&[0; 8]);
    u16(out, channels.max(1));
    u16(out, 16);
    u32(out, 0);
    u32(out, rate.min(0xFFFF) << 16);
    at
}

/// An MPEG-4 descriptor: tag, 4-byte length, body.
fn descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    let n = u32::try_from(body.len()).unwrap_or(0);
    out.extend_from_slice(&[0x80 | ((n >> 21) & 0x7F) as u8, 0x80 | ((n >> 14) & 0x7F) as u8]);
    out.extend_from_slice(&[0x80 | ((n >> 7) & 0x7F) as u8, (n & 0x7F) as u8]);
    out.extend_from_slice(body);
}

/// `esds`: ES descriptor with the decoder configuration (object type) and its specific info.
fn esds(out: &mut Vec<u8>, object_type: u8, specific: Option<&[u8]>) {
    let at = begin_full(out, b"esds", 0, 0);
    let mut decoder = vec![object_type, 0x15, 0, 0, 0];
    decoder.extend_from_slice(&[0; 8]); // max and average bit rate: unknown
    if let Some(info) = specific {
        descriptor(&mut decoder, 5, info);
    }
    let mut es = vec![0, 0, 0]; // ES_ID 0, no flags
    descriptor(&mut es, 4, &decoder);
    descriptor(&mut es, 6, &[2]);
    descriptor(out, 3, &es);
    end(out, at);
}

const AAC_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000, 7_350,
];

/// Sample rate and channel count from an AudioSpecificConfig.
pub fn aac_rate_channels(asc: &[u8]) -> (u32, u16) {
    let mut bytes = [0u8; 8];
    for (to, from) in bytes.iter_mut().zip(asc) {
        *to = *from;
    }
    let bits = u64::from_be_bytes(bytes);
    let take = |from: u32, n: u32| ((bits >> (64 - from - n)) & ((1u64 << n) - 1)) as u32;
    let mut pos = 5;
    if take(0, 5) == 31 {
        pos += 6;
    }
    let index = take(pos, 4);
    pos += 4;
    let rate = if index == 15 {
        let r = take(pos, 24);
        pos += 24;
        r
    } else {
        AAC_RATES.get(index as usize).copied().unwrap_or(44_100)
    };
    let channels = match take(pos, 4) {
        0 => 2,
        7 => 8,
        c => c as u16,
    };
    (rate, channels)
}

/// Sample rate and channel count from an MPEG audio frame header.
pub fn mp3_rate_channels(frame: &[u8]) -> Option<(u32, u16)> {
    let [a, b, c, d] = *frame.get(..4)? else { return None };
    if a != 0xFF || b & 0xE0 != 0xE0 {
        return None;
    }
    let base = match (b >> 3) & 3 {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        0 => [11_025, 12_000, 8_000],
        _ => return None,
    };
    let rate = *base.get(usize::from((c >> 2) & 3))?;
    Some((rate, if d >> 6 == 3 { 1 } else { 2 }))
}

/// The fields of an Ogg `OpusHead` that `dOps` carries (defaults: stereo, no pre-skip).
struct OpusHead {
    channels: u8,
    pre_skip: u16,
    input_rate: u32,
    gain: i16,
    family: u8,
    mapping: Vec<u8>,
}

impl OpusHead {
    fn parse(config: Option<&[u8]>) -> OpusHead {
        let mut head = OpusHead {
            channels: 2,
            pre_skip: 0,
            input_rate: 48_000,
            gain: 0,
            family: 0,
            mapping: Vec::new(),
        };
        let Some(h) = config.filter(|h| h.len() >= 19 && h.starts_with(b"OpusHead")) else {
            return head;
        };
        let le16 = |at: usize| {
            h.get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u16::from_le_bytes)
        };
        head.channels = h.get(9).copied().unwrap_or(2);
        head.pre_skip = le16(10);
        head.input_rate = u32::from(le16(12)) | (u32::from(le16(14)) << 16);
        head.gain = le16(16) as i16;
        head.family = h.get(18).copied().unwrap_or(0);
        if head.family != 0 {
            head.mapping = h.get(19..21 + usize::from(head.channels)).unwrap_or_default().to_vec();
        }
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_configs_give_rate_and_channels() {
        assert_eq!(aac_rate_channels(&[0x12, 0x10]), (44_100, 2));
        assert_eq!(aac_rate_channels(&[0x11, 0x88]), (48_000, 1));
        assert_eq!(aac_rate_channels(&[]), (96_000, 2));
    }

    #[test]
    fn mp3_headers_give_rate_and_channels() {
        assert_eq!(mp3_rate_channels(&[0xFF, 0xFB, 0x90, 0x64]), Some((44_100, 2)));
        assert_eq!(mp3_rate_channels(&[0xFF, 0xFB, 0x94, 0xC4]), Some((48_000, 1)));
        assert_eq!(mp3_rate_channels(&[0x00, 0xFB, 0x90, 0x64]), None);
    }

    #[test]
    fn aac_entry_carries_esds_with_the_config() {
        let source = EntrySource::Audio {
            codec: AudioCodec::Aac,
            config: Some(vec![0x12, 0x10]),
            first: vec![],
        };
        let mut out = Vec::new();
        source.write(&mut out).unwrap();
        assert_eq!(&out[4..8], b"mp4a");
        assert_eq!(&out[24..26], &[0, 2], "channels");
        assert_eq!(&out[32..36], &[0xAC, 0x44, 0, 0], "44100 << 16");
        let esds = &out[36..];
        assert_eq!(&esds[4..8], b"esds");
        assert!(esds.windows(7).any(|w| w == [5, 0x80, 0x80, 0x80, 2, 0x12, 0x10]));
        assert_eq!(out.len(), u32::from_be_bytes(out[0..4].try_into().unwrap()) as usize);
    }

    #[test]
    fn opus_entry_converts_opus_head_to_dops() {
        let head = [b"OpusHead".as_slice(), &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]].concat();
        let source = EntrySource::Audio {
            codec: AudioCodec::Opus,
            config: Some(head),
            first: vec![],
        };
        let mut out = Vec::new();
        source.write(&mut out).unwrap();
        let dops = &out[36..];
        assert_eq!(
            dops,
            [
                &[0, 0, 0, 19][..],
                b"dOps",
                &[0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0]
            ]
            .concat()
        );
    }

    #[test]
    fn video_entries_need_a_known_codec_and_a_record() {
        let vp9 = EntrySource::Video {
            codec: VideoCodec::Vp9,
            record: vec![1, 2, 3],
            size: (640, 360),
        };
        let mut out = Vec::new();
        vp9.write(&mut out).unwrap();
        assert_eq!(&out[4..8], b"vp09");
        assert_eq!(&out[32..36], &[2, 128, 1, 104], "640x360");
        assert_eq!(
            &out[86..],
            [&[0, 0, 0, 15][..], b"vpcC", &[1, 0, 0, 0, 1, 2, 3]].concat()
        );
        let none = EntrySource::Video {
            codec: VideoCodec::Av1,
            record: vec![],
            size: (0, 0),
        };
        assert_eq!(none.write(&mut Vec::new()), Err(EntryError::NoConfig));
        let other = EntrySource::Video {
            codec: VideoCodec::Other(2),
            record: vec![1],
            size: (0, 0),
        };
        assert_eq!(other.write(&mut Vec::new()), Err(EntryError::Codec));
    }
}
