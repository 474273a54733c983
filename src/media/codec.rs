//! The keyframe and sequence-header flags of a bare payload, for callers without a `Frame`
//! (FLV repair, bench): thin wrappers over `demux`.

use super::demux;

/// What the first bytes of a media payload say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderFlags {
    pub keyframe: bool,
    pub sequence_header: bool,
}

impl From<demux::FrameInfo> for HeaderFlags {
    fn from(info: demux::FrameInfo) -> HeaderFlags {
        HeaderFlags {
            keyframe: info.keyframe,
            sequence_header: info.config,
        }
    }
}

/// Inspects a video tag body (legacy FLV or Enhanced RTMP).
pub fn inspect_video(payload: &[u8]) -> HeaderFlags {
    demux::video(payload).into()
}

/// Inspects an audio tag body (legacy FLV or Enhanced RTMP).
pub fn inspect_audio(payload: &[u8]) -> HeaderFlags {
    demux::audio(payload).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_demux() {
        let key_header = HeaderFlags {
            keyframe: true,
            sequence_header: true,
        };
        assert_eq!(inspect_video(&[0x17, 0x00, 0, 0, 0]), key_header);
        assert_eq!(inspect_video(&[0x1C, 0x00]), key_header);
        assert_eq!(inspect_video(b"\x90hvc1"), key_header);
        assert!(!inspect_video(&[0x27, 0x01, 0, 0, 0]).keyframe);
        assert!(!inspect_video(b"\xA3av01").sequence_header);
        assert!(inspect_audio(&[0xAF, 0x00, 0x13, 0x88]).sequence_header);
        assert!(!inspect_audio(&[0xAF, 0x01, 0x21]).sequence_header);
        assert!(!inspect_audio(&[0x2F, 0x00]).sequence_header);
        assert_eq!(inspect_video(&[]), HeaderFlags::default());
        assert_eq!(inspect_audio(&[]), HeaderFlags::default());
    }
}
