//! What the API tells about a published stream's media (pure), read from each frame's
//! demux result: legacy FLV codec ids, codec names (legacy ids and Enhanced RTMP FourCCs),
//! and the picture size from a video configuration record (AVC or HEVC).

use super::avc_sps::avc_record_picture_size;
use super::demux::{Codec, VideoCodec};
use super::frame::Frame;
use super::hevc_sps::hevc_record_picture_size;

/// The FLV codec id (video) or SoundFormat (audio) of a legacy tag; None for an Enhanced
/// RTMP tag, whose codec is its FourCC (see `video_codec_name`).
pub fn codec_id(frame: &Frame) -> Option<u8> {
    frame.info.legacy_id
}

/// The name of a video frame's codec (`h264`, `hevc`, `av1`, `vp9`, ...), if known.
pub fn video_codec_name(frame: &Frame) -> Option<&'static str> {
    match frame.info.codec {
        Codec::Video(VideoCodec::Avc) => Some("h264"),
        Codec::Video(VideoCodec::Hevc) => Some("hevc"),
        Codec::Video(VideoCodec::Av1) => Some("av1"),
        Codec::Video(VideoCodec::Vp9) => Some("vp9"),
        Codec::Video(VideoCodec::Other(_)) => match frame.info.legacy_id? {
            2 => Some("h263"),
            3 => Some("screen"),
            4 => Some("vp6"),
            5 => Some("vp6a"),
            6 => Some("screen2"),
            _ => None,
        },
        Codec::Audio(_) | Codec::Unknown => None,
    }
}

/// The name of a legacy audio frame's codec (`aac`, `mp3`, ...), if known.
pub fn audio_codec_name(frame: &Frame) -> Option<&'static str> {
    match frame.info.legacy_id? {
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

/// Width and height from a video configuration record (legacy AVC or HEVC sequence header,
/// or an Enhanced RTMP `avc1`/`hvc1` SequenceStart); None for other frames and codecs, or
/// a record it cannot read.
pub fn picture_size(frame: &Frame) -> Option<(u32, u32)> {
    let record = frame.config_record()?;
    match frame.info.codec {
        Codec::Video(VideoCodec::Avc) => avc_record_picture_size(record),
        Codec::Video(VideoCodec::Hevc) => hevc_record_picture_size(record),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::reader::read_all;
    use crate::media::FrameKind;

    fn fixture_avc_header() -> Vec<u8> {
        let clip: &[u8] = include_bytes!("../../tests/fixtures/clip2s.flv");
        let (_, tags) = read_all(clip).unwrap();
        tags.into_iter()
            .find(|t| t.tag_type == 9 && t.body.get(1) == Some(&0))
            .unwrap()
            .body
            .to_vec()
    }

    fn video(payload: &[u8]) -> Frame {
        Frame::new(FrameKind::Video, 0, payload.to_vec().into())
    }

    fn audio(payload: &[u8]) -> Frame {
        Frame::new(FrameKind::Audio, 0, payload.to_vec().into())
    }

    #[test]
    fn codec_ids_are_for_legacy_tags_only() {
        assert_eq!(codec_id(&video(&[0x17, 0])), Some(7));
        assert_eq!(codec_id(&video(&[0x1C, 0])), Some(12));
        assert_eq!(
            codec_id(&video(b"\x90hvc1")),
            None,
            "0x90: the low bits are the packet type"
        );
        assert_eq!(codec_id(&video(&[])), None);
        assert_eq!(codec_id(&audio(&[0xAF, 0])), Some(10));
        assert_eq!(codec_id(&audio(b"\x90Opus")), None);
    }

    #[test]
    fn names_legacy_and_enhanced_codecs() {
        assert_eq!(video_codec_name(&video(&[0x17, 0])), Some("h264"));
        assert_eq!(video_codec_name(&video(&[0x1C, 0])), Some("hevc"));
        assert_eq!(video_codec_name(&video(&[0x14, 0])), Some("vp6"));
        assert_eq!(video_codec_name(&video(b"\x90hvc1")), Some("hevc"));
        assert_eq!(video_codec_name(&video(b"\x90av01")), Some("av1"));
        assert_eq!(video_codec_name(&video(b"\x91avc1\x00\x00\x00")), Some("h264"));
        assert_eq!(video_codec_name(&video(b"\x90xxxx")), None);
        assert_eq!(video_codec_name(&video(&[0x90])), None);
        assert_eq!(video_codec_name(&video(&[])), None);
        assert_eq!(audio_codec_name(&audio(&[0xAF, 0])), Some("aac"));
        assert_eq!(audio_codec_name(&audio(&[0x2F])), Some("mp3"));
        assert_eq!(audio_codec_name(&audio(&[0x9F])), None);
        assert_eq!(audio_codec_name(&audio(b"\x90Opus")), None);
    }

    #[test]
    fn picture_size_of_legacy_and_enhanced_avc_headers() {
        let legacy = fixture_avc_header();
        assert_eq!(picture_size(&video(&legacy)), Some((160, 120)));
        // The same record behind an E-RTMP SequenceStart header: 0x90 'avc1' record.
        let mut enhanced = b"\x90avc1".to_vec();
        enhanced.extend_from_slice(&legacy[5..]);
        assert_eq!(picture_size(&video(&enhanced)), Some((160, 120)));
        // And behind a ModEx block.
        let mut mod_ex = vec![0x97, 0x00, 0x00, 0x00];
        mod_ex.extend_from_slice(&enhanced[1..]);
        assert_eq!(picture_size(&video(&mod_ex)), Some((160, 120)));
        assert_eq!(picture_size(&video(b"\x91avc1")), None, "coded frames carry no size");
        assert_eq!(picture_size(&video(&[0x12, 0])), None);
        assert_eq!(picture_size(&video(&[])), None);
    }
}
