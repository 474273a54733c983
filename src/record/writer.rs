//! Recording byte builder (pure): turns frames into FLV tags with timestamps rebased so the
//! first media tag is 0, and keeps what the file holds (streams, tags, duration).

use crate::flv::writer::{encode_tag, file_header, FlvWriteError};
use crate::media::{Frame, FrameKind};

#[derive(Debug, Clone, Default)]
pub struct FlvRecording {
    base_timestamp: Option<u32>,
    pub has_audio: bool,
    pub has_video: bool,
    pub tags: u64,
    pub bytes: u64,
    /// Largest written timestamp, ms since the first media tag.
    pub last_timestamp: u32,
}

impl FlvRecording {
    pub fn new() -> Self {
        Self::default()
    }

    /// The file header; flags say audio+video until the real streams are known at close.
    pub fn header(&mut self) -> [u8; crate::flv::FILE_HEADER_LEN] {
        let header = file_header(true, true);
        self.bytes += header.len() as u64;
        header
    }

    /// Header flags that match the tags written so far.
    pub fn final_flags(&self) -> u8 {
        crate::flv::writer::header_flags(self.has_audio, self.has_video)
    }

    /// The timestamp a frame gets in the file: published time minus the first media frame's,
    /// 0 for anything before it. 32-bit wrap-around is handled.
    pub fn file_timestamp(&mut self, frame: &Frame) -> u32 {
        let base = match (self.base_timestamp, frame.kind) {
            (Some(base), _) => base,
            (None, FrameKind::Data) => return 0,
            (None, _) => *self.base_timestamp.insert(frame.timestamp),
        };
        let offset = frame.timestamp.wrapping_sub(base);
        if offset > i32::MAX as u32 {
            0
        } else {
            offset
        }
    }

    /// Appends the frame's whole tag to `out`.
    pub fn push(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), FlvWriteError> {
        let timestamp = self.file_timestamp(frame);
        let before = out.len();
        encode_tag(frame.kind.tag_type(), timestamp, &frame.payload, out)?;
        match frame.kind {
            FrameKind::Audio => self.has_audio = true,
            FrameKind::Video => self.has_video = true,
            FrameKind::Data => {}
        }
        self.tags += 1;
        self.bytes += (out.len() - before) as u64;
        self.last_timestamp = self.last_timestamp.max(timestamp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::reader::read_all;
    use std::sync::Arc;

    fn frame(kind: FrameKind, timestamp: u32, payload: &[u8]) -> Frame {
        Frame::new(kind, timestamp, Arc::from(payload))
    }

    #[test]
    fn timestamps_are_rebased_to_the_first_media_frame() {
        let mut recording = FlvRecording::new();
        let mut file = recording.header().to_vec();
        for f in [
            frame(FrameKind::Data, 5000, b"\x02\x00\x0aonMetaData"),
            frame(FrameKind::Video, 5000, &[0x17, 0, 0, 0, 0]),
            frame(FrameKind::Audio, 4990, &[0xAF, 0]),
            frame(FrameKind::Video, 5040, &[0x27, 1, 0, 0, 0]),
        ] {
            recording.push(&f, &mut file).unwrap();
        }
        let (_, tags) = read_all(&file).unwrap();
        let stamps: Vec<u32> = tags.iter().map(|t| t.timestamp).collect();
        assert_eq!(stamps, vec![0, 0, 0, 40]);
        assert_eq!(recording.tags, 4);
        assert_eq!(recording.bytes, file.len() as u64);
        assert_eq!(recording.last_timestamp, 40);
        assert_eq!(recording.final_flags(), 0x05);
    }

    #[test]
    fn rebase_crosses_the_24_bit_and_32_bit_boundaries() {
        let mut recording = FlvRecording::new();
        let mut file = recording.header().to_vec();
        recording
            .push(&frame(FrameKind::Audio, u32::MAX - 10, &[0x2F]), &mut file)
            .unwrap();
        recording
            .push(&frame(FrameKind::Audio, 20, &[0x2F]), &mut file)
            .unwrap();
        recording
            .push(&frame(FrameKind::Audio, 0x0100_0000 + 20, &[0x2F]), &mut file)
            .unwrap();
        let (_, tags) = read_all(&file).unwrap();
        let stamps: Vec<u32> = tags.iter().map(|t| t.timestamp).collect();
        assert_eq!(stamps, vec![0, 31, 0x0100_0000 + 31]);
        assert_eq!(recording.final_flags(), 0x04, "audio only");
    }
}
