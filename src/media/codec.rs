//! Codec header inspection for FLV/RTMP audio and video payloads: keyframes and sequence
//! headers for AVC, HEVC (legacy codec id 12) and Enhanced RTMP FourCC video, AAC audio.

/// What the first bytes of a media payload say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameInfo {
    pub keyframe: bool,
    pub sequence_header: bool,
}

const FRAME_TYPE_KEY: u8 = 1;
const CODEC_AVC: u8 = 7;
const CODEC_HEVC_LEGACY: u8 = 12;
const AVC_PACKET_SEQUENCE_HEADER: u8 = 0;
/// Enhanced RTMP: the high bit of the first byte marks the extended header.
const EX_HEADER_BIT: u8 = 0x80;
/// Enhanced RTMP packet types.
const EX_PACKET_SEQUENCE_START: u8 = 0;
const EX_PACKET_MULTITRACK: u8 = 6;
const SOUND_FORMAT_AAC: u8 = 10;
const AAC_PACKET_SEQUENCE_HEADER: u8 = 0;

/// Inspects a video tag body (legacy FLV or Enhanced RTMP).
pub fn inspect_video(payload: &[u8]) -> FrameInfo {
    let Some(&first) = payload.first() else {
        return FrameInfo::default();
    };
    if first & EX_HEADER_BIT != 0 {
        let frame_type = (first >> 4) & 0x07;
        let packet_type = first & 0x0F;
        return FrameInfo {
            keyframe: frame_type == FRAME_TYPE_KEY && packet_type != EX_PACKET_MULTITRACK,
            sequence_header: packet_type == EX_PACKET_SEQUENCE_START,
        };
    }
    let frame_type = first >> 4;
    let codec_id = first & 0x0F;
    let has_packet_type = codec_id == CODEC_AVC || codec_id == CODEC_HEVC_LEGACY;
    FrameInfo {
        keyframe: frame_type == FRAME_TYPE_KEY,
        sequence_header: has_packet_type && payload.get(1) == Some(&AVC_PACKET_SEQUENCE_HEADER),
    }
}

/// Inspects an audio tag body: only AAC has a sequence header.
pub fn inspect_audio(payload: &[u8]) -> FrameInfo {
    let is_aac = payload.first().map(|b| b >> 4) == Some(SOUND_FORMAT_AAC);
    FrameInfo {
        keyframe: false,
        sequence_header: is_aac && payload.get(1) == Some(&AAC_PACKET_SEQUENCE_HEADER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_keyframe_and_sequence_header() {
        assert_eq!(
            inspect_video(&[0x17, 0x00, 0, 0, 0]),
            FrameInfo {
                keyframe: true,
                sequence_header: true
            }
        );
        assert_eq!(
            inspect_video(&[0x17, 0x01, 0, 0, 0]),
            FrameInfo {
                keyframe: true,
                sequence_header: false
            }
        );
        assert_eq!(
            inspect_video(&[0x27, 0x01, 0, 0, 0]),
            FrameInfo {
                keyframe: false,
                sequence_header: false
            }
        );
    }

    #[test]
    fn legacy_hevc_codec_id_12_is_recognised() {
        assert_eq!(
            inspect_video(&[0x1C, 0x00]),
            FrameInfo {
                keyframe: true,
                sequence_header: true
            }
        );
    }

    #[test]
    fn enhanced_rtmp_hvc1_sequence_start_and_coded_frames() {
        let mut start = vec![0x80 | 0x10];
        start.extend_from_slice(b"hvc1");
        assert_eq!(
            inspect_video(&start),
            FrameInfo {
                keyframe: true,
                sequence_header: true
            }
        );
        let mut inter = vec![0x80 | 0x20 | 0x03];
        inter.extend_from_slice(b"av01");
        assert_eq!(
            inspect_video(&inter),
            FrameInfo {
                keyframe: false,
                sequence_header: false
            }
        );
    }

    #[test]
    fn aac_sequence_header_and_raw_frames() {
        assert!(inspect_audio(&[0xAF, 0x00, 0x13, 0x88]).sequence_header);
        assert!(!inspect_audio(&[0xAF, 0x01, 0x21]).sequence_header);
        assert!(!inspect_audio(&[0x2F, 0x00]).sequence_header);
    }

    #[test]
    fn empty_payloads_are_plain_frames() {
        assert_eq!(inspect_video(&[]), FrameInfo::default());
        assert_eq!(inspect_audio(&[]), FrameInfo::default());
    }
}
