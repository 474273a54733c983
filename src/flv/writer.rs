//! FLV writing: the file header and whole tags built into a caller's buffer.

use super::{FILE_HEADER_LEN, FLAG_AUDIO, FLAG_VIDEO, MAX_TAG_BODY, TAG_HEADER_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvWriteError {
    /// The body does not fit the 24-bit size field.
    TagTooLarge(usize),
}

impl std::fmt::Display for FlvWriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlvWriteError::TagTooLarge(n) => write!(f, "tag body of {n} bytes exceeds FLV's 16 MiB limit"),
        }
    }
}

impl std::error::Error for FlvWriteError {}

/// The header flags byte for the streams present.
pub fn header_flags(has_audio: bool, has_video: bool) -> u8 {
    (if has_audio { FLAG_AUDIO } else { 0 }) | (if has_video { FLAG_VIDEO } else { 0 })
}

/// The 9-byte FLV header followed by PreviousTagSize0.
pub fn file_header(has_audio: bool, has_video: bool) -> [u8; FILE_HEADER_LEN] {
    [
        b'F',
        b'L',
        b'V',
        1,
        header_flags(has_audio, has_video),
        0,
        0,
        0,
        9,
        0,
        0,
        0,
        0,
    ]
}

/// Appends one whole tag (header, body, PreviousTagSize) to `out`. The 32-bit timestamp is
/// split into 24 low bits and the extended high byte.
pub fn encode_tag(tag_type: u8, timestamp: u32, body: &[u8], out: &mut Vec<u8>) -> Result<(), FlvWriteError> {
    let (header, trailer) = tag_frame(tag_type, timestamp, body.len())?;
    out.reserve(TAG_HEADER_LEN + body.len() + 4);
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out.extend_from_slice(&trailer);
    Ok(())
}

/// The tag header and the previous-tag-size field that surround a body of `body_len` bytes,
/// for a writer that sends the body from its own buffer (a vectored write, no copy).
pub fn tag_frame(
    tag_type: u8,
    timestamp: u32,
    body_len: usize,
) -> Result<([u8; TAG_HEADER_LEN], [u8; 4]), FlvWriteError> {
    if body_len > MAX_TAG_BODY {
        return Err(FlvWriteError::TagTooLarge(body_len));
    }
    let size = body_len as u32;
    let s = size.to_be_bytes();
    let ts = timestamp.to_be_bytes();
    let header = [tag_type, s[1], s[2], s[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0];
    Ok((header, (size + TAG_HEADER_LEN as u32).to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_for_audio_and_video_matches_reference_bytes() {
        assert_eq!(
            file_header(true, true),
            [0x46, 0x4C, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]
        );
        assert_eq!(file_header(true, false)[4], 4);
        assert_eq!(file_header(false, true)[4], 1);
    }

    #[test]
    fn tag_layout_with_extended_timestamp_byte() {
        let mut out = Vec::new();
        encode_tag(9, 0x0102_0304, &[0xAA, 0xBB], &mut out).unwrap();
        assert_eq!(
            out,
            vec![9, 0, 0, 2, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, 0xAA, 0xBB, 0, 0, 0, 13]
        );
    }

    #[test]
    fn oversized_tag_is_refused() {
        let body = vec![0u8; MAX_TAG_BODY + 1];
        let mut out = Vec::new();
        assert_eq!(
            encode_tag(8, 0, &body, &mut out),
            Err(FlvWriteError::TagTooLarge(MAX_TAG_BODY + 1))
        );
        assert!(out.is_empty());
    }
}
