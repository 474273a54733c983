//! What the API tells about a published stream's media (pure): codec names from the first
//! bytes of audio and video payloads (legacy FLV codec ids and Enhanced RTMP FourCCs), and
//! the picture size from a video sequence header (AVC or HEVC).

use super::avc_sps::avc_picture_size;
use super::hevc_sps::hevc_picture_size;

/// Enhanced RTMP: the high bit of a video payload's first byte marks the extended header.
const EX_HEADER_BIT: u8 = 0x80;
/// Enhanced RTMP SequenceStart packet type.
const EX_PACKET_SEQUENCE_START: u8 = 0;
const CODEC_AVC: u8 = 7;
const CODEC_HEVC_LEGACY: u8 = 12;

/// The FLV codec id of a legacy video tag (its low 4 bits); None for an Enhanced RTMP tag,
/// whose low bits are the packet type and whose codec is its FourCC (see `video_codec_name`).
pub fn video_codec_id(payload: &[u8]) -> Option<u8> {
    let first = *payload.first()?;
    (first & EX_HEADER_BIT == 0).then_some(first & 0x0F)
}

/// The name of a video payload's codec (`h264`, `hevc`, `av1`, `vp9`, ...), if known.
pub fn video_codec_name(payload: &[u8]) -> Option<&'static str> {
    let first = *payload.first()?;
    if first & EX_HEADER_BIT != 0 {
        return match payload.get(1..5)? {
            b"avc1" => Some("h264"),
            b"hvc1" => Some("hevc"),
            b"av01" => Some("av1"),
            b"vp09" => Some("vp9"),
            _ => None,
        };
    }
    match first & 0x0F {
        2 => Some("h263"),
        3 => Some("screen"),
        4 => Some("vp6"),
        5 => Some("vp6a"),
        6 => Some("screen2"),
        CODEC_AVC => Some("h264"),
        CODEC_HEVC_LEGACY => Some("hevc"),
        _ => None,
    }
}

/// The name of an audio payload's codec (`aac`, `mp3`, ...), if known.
pub fn audio_codec_name(payload: &[u8]) -> Option<&'static str> {
    match payload.first()? >> 4 {
        0 | 3 => Some("pcm"),
        1 => Some("adpcm"),
        2 | 14 => Some("mp3"),
        4..=6 => Some("nellymoser"),
        7 => Some("g711a"),
        8 => Some("g711u"),
        10 => Some("aac"),
        11 => Some("speex"),
        _ => None,
    }
}

/// Width and height from a video sequence header payload (legacy AVC or HEVC tag body, or
/// an Enhanced RTMP `avc1`/`hvc1` SequenceStart); None for other codecs or a header it
/// cannot read.
pub fn picture_size(payload: &[u8]) -> Option<(u32, u32)> {
    let first = *payload.first()?;
    if first & EX_HEADER_BIT != 0 {
        if first & 0x0F != EX_PACKET_SEQUENCE_START {
            return None;
        }
        // The record follows five bytes here too (header byte and FourCC), as in a legacy
        // tag (header byte, packet type, composition time), which is where both parsers
        // look for it.
        return match payload.get(1..5)? {
            b"avc1" => avc_picture_size(payload),
            b"hvc1" => hevc_picture_size(payload),
            _ => None,
        };
    }
    match first & 0x0F {
        CODEC_AVC => avc_picture_size(payload),
        CODEC_HEVC_LEGACY => hevc_picture_size(payload),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::reader::read_all;

    fn fixture_avc_header() -> Vec<u8> {
        let clip: &[u8] = include_bytes!("../../tests/fixtures/clip2s.flv");
        let (_, tags) = read_all(clip).unwrap();
        tags.into_iter()
            .find(|t| t.tag_type == 9 && t.body.get(1) == Some(&0))
            .unwrap()
            .body
            .to_vec()
    }

    #[test]
    fn codec_ids_are_for_legacy_tags_only() {
        assert_eq!(video_codec_id(&[0x17, 0]), Some(7));
        assert_eq!(video_codec_id(&[0x1C, 0]), Some(12));
        assert_eq!(
            video_codec_id(b"\x90hvc1"),
            None,
            "0x90: the low bits are the packet type"
        );
        assert_eq!(video_codec_id(&[]), None);
    }

    #[test]
    fn names_legacy_and_enhanced_codecs() {
        assert_eq!(video_codec_name(&[0x17, 0]), Some("h264"));
        assert_eq!(video_codec_name(&[0x1C, 0]), Some("hevc"));
        assert_eq!(video_codec_name(b"\x90hvc1"), Some("hevc"));
        assert_eq!(video_codec_name(b"\x90av01"), Some("av1"));
        assert_eq!(video_codec_name(b"\x90xxxx"), None);
        assert_eq!(video_codec_name(&[0x90]), None);
        assert_eq!(video_codec_name(&[]), None);
        assert_eq!(audio_codec_name(&[0xAF, 0]), Some("aac"));
        assert_eq!(audio_codec_name(&[0x2F]), Some("mp3"));
        assert_eq!(audio_codec_name(&[0x9F]), None);
    }

    #[test]
    fn picture_size_of_legacy_and_enhanced_avc_headers() {
        let legacy = fixture_avc_header();
        assert_eq!(picture_size(&legacy), Some((160, 120)));
        // The same record behind an E-RTMP SequenceStart header: 0x90 'avc1' record.
        let mut enhanced = b"\x90avc1".to_vec();
        enhanced.extend_from_slice(&legacy[5..]);
        assert_eq!(picture_size(&enhanced), Some((160, 120)));
        assert_eq!(picture_size(b"\x91avc1"), None, "coded frames carry no size");
        assert_eq!(picture_size(&[0x12, 0]), None);
        assert_eq!(picture_size(&[]), None);
    }
}
