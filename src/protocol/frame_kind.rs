//! `FrameKind`: what a media message of a publishing stream carries (audio, video or script
//! data), with its RTMP message type, which is also its FLV tag type.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    Audio,
    Video,
    /// A script data message (onMetaData and other AMF0 data), stored without @setDataFrame.
    Data,
}

impl FrameKind {
    /// The FLV tag type of this kind (8, 9 or 18), which is also its RTMP message type.
    pub fn tag_type(self) -> u8 {
        match self {
            FrameKind::Audio => 8,
            FrameKind::Video => 9,
            FrameKind::Data => 18,
        }
    }
}
