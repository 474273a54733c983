//! FLV reading: the file header and tags parsed from a byte slice, with "need more bytes"
//! told apart from "invalid".

use super::{FILE_HEADER_LEN, TAG_HEADER_LEN};
use crate::protocol::aggregate::parse_sub_message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlvHeader {
    pub has_audio: bool,
    pub has_video: bool,
    /// Offset of the first tag (header length + PreviousTagSize0).
    pub data_offset: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag<'a> {
    pub tag_type: u8,
    pub timestamp: u32,
    pub stream_id: u32,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvReadError {
    NotFlv,
    BadHeaderLength(u32),
    /// PreviousTagSize after a tag does not match the tag's size.
    BadPreviousTagSize {
        expected: u32,
        found: u32,
    },
    UnknownTagType(u8),
}

impl std::fmt::Display for FlvReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlvReadError::NotFlv => write!(f, "not an FLV file (no FLV signature)"),
            FlvReadError::BadHeaderLength(n) => write!(f, "FLV header length {n} is invalid"),
            FlvReadError::BadPreviousTagSize { expected, found } => {
                write!(f, "PreviousTagSize {found} does not match tag size {expected}")
            }
            FlvReadError::UnknownTagType(t) => write!(f, "unknown FLV tag type {t}"),
        }
    }
}

impl std::error::Error for FlvReadError {}

/// Parses the file header. `Ok(None)` means more bytes are needed.
pub fn parse_header(input: &[u8]) -> Result<Option<FlvHeader>, FlvReadError> {
    let Some(head) = input.get(..9) else {
        return if b"FLV".starts_with(input.get(..3.min(input.len())).unwrap_or(&[])) {
            Ok(None)
        } else {
            Err(FlvReadError::NotFlv)
        };
    };
    if head.get(..3) != Some(b"FLV") {
        return Err(FlvReadError::NotFlv);
    }
    let flags = head.get(4).copied().unwrap_or(0);
    let header_len = head
        .get(5..9)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0);
    if !(9..=1024).contains(&header_len) {
        return Err(FlvReadError::BadHeaderLength(header_len));
    }
    let data_offset = header_len as usize + 4;
    if input.len() < data_offset.max(FILE_HEADER_LEN) {
        return Ok(None);
    }
    Ok(Some(FlvHeader {
        has_audio: flags & 0x04 != 0,
        has_video: flags & 0x01 != 0,
        data_offset,
    }))
}

/// Parses one tag and its trailing PreviousTagSize at the start of `input` (the layout of an
/// RTMP aggregate's sub-message, whose parser it shares). `Ok(None)` means the tag is not
/// complete yet; on success returns the tag and bytes used.
pub fn parse_tag(input: &[u8]) -> Result<Option<(FlvTag<'_>, usize)>, FlvReadError> {
    let Some(&first) = input.first().filter(|_| input.len() >= TAG_HEADER_LEN) else {
        return Ok(None);
    };
    if !matches!(first & 0x1F, 8 | 9 | 18) {
        return Err(FlvReadError::UnknownTagType(first));
    }
    let Some(sub) = parse_sub_message(input) else {
        return Ok(None);
    };
    let expected = sub.expected_back_pointer();
    if sub.back_pointer != expected {
        return Err(FlvReadError::BadPreviousTagSize {
            expected,
            found: sub.back_pointer,
        });
    }
    let tag = FlvTag {
        tag_type: sub.type_id,
        timestamp: sub.timestamp,
        stream_id: sub.stream_id,
        body: sub.body,
    };
    Ok(Some((tag, sub.used)))
}

/// Reads a whole FLV file held in memory: header and every complete tag. Trailing bytes of
/// an incomplete last tag are ignored (they are what a crash leaves behind).
pub fn read_all(input: &[u8]) -> Result<(FlvHeader, Vec<FlvTag<'_>>), FlvReadError> {
    let header = parse_header(input)?.ok_or(FlvReadError::NotFlv)?;
    let mut tags = Vec::new();
    let mut rest = input.get(header.data_offset..).unwrap_or(&[]);
    while let Some((tag, used)) = parse_tag(rest)? {
        tags.push(tag);
        rest = rest.get(used..).unwrap_or(&[]);
    }
    Ok((header, tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::writer::{encode_tag, file_header};

    #[test]
    fn written_tags_read_back_with_extended_timestamps() {
        let mut file = file_header(true, false).to_vec();
        encode_tag(8, 5, &[1, 2, 3], &mut file).unwrap();
        encode_tag(9, 0x0200_0007, &[9], &mut file).unwrap();
        let (header, tags) = read_all(&file).unwrap();
        assert!(header.has_audio && !header.has_video);
        assert_eq!(tags.len(), 2);
        assert_eq!(
            (tags[0].tag_type, tags[0].timestamp, tags[0].body),
            (8, 5, &[1u8, 2, 3][..])
        );
        assert_eq!(tags[1].timestamp, 0x0200_0007);
    }

    #[test]
    fn incomplete_tag_asks_for_more_at_every_prefix() {
        let mut tag = Vec::new();
        encode_tag(9, 40, &[1, 2, 3, 4], &mut tag).unwrap();
        for cut in 0..tag.len() {
            assert_eq!(parse_tag(&tag[..cut]), Ok(None), "prefix {cut}");
        }
        assert!(parse_tag(&tag).unwrap().is_some());
    }

    #[test]
    fn non_flv_input_is_refused() {
        assert_eq!(parse_header(b"GIF89a....."), Err(FlvReadError::NotFlv));
        assert_eq!(parse_header(b"FL"), Ok(None));
        assert_eq!(parse_header(b"X"), Err(FlvReadError::NotFlv));
    }

    #[test]
    fn corrupt_previous_tag_size_is_detected() {
        let mut tag = Vec::new();
        encode_tag(8, 0, &[1], &mut tag).unwrap();
        let last = tag.len() - 1;
        tag[last] ^= 0xFF;
        assert!(matches!(parse_tag(&tag), Err(FlvReadError::BadPreviousTagSize { .. })));
    }

    #[test]
    fn fixture_clip_reads_whole() {
        let clip = include_bytes!("../../tests/fixtures/clip2s.flv");
        let (header, tags) = read_all(clip).unwrap();
        assert!(header.has_audio && header.has_video);
        let video = tags.iter().filter(|t| t.tag_type == 9).count();
        assert!(video >= 30, "video tags: {video}");
    }
}
