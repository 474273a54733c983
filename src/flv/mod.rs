//! FLV files: the writer builds header and tags and the reader parses them back, `metadata`
//! builds the reserved onMetaData (all three pure, bytes in and out); `repair` reads and
//! rewrites files on disk (the one part here that does I/O).

pub mod metadata;
pub mod reader;
pub mod repair;
pub mod writer;

/// FLV tag types.
pub const TAG_AUDIO: u8 = 8;
pub const TAG_VIDEO: u8 = 9;
pub const TAG_SCRIPT: u8 = 18;

/// Header flag bits (byte 4 of the file).
pub const FLAG_AUDIO: u8 = 0x04;
pub const FLAG_VIDEO: u8 = 0x01;

/// 9-byte header plus the first PreviousTagSize (0).
pub const FILE_HEADER_LEN: usize = 13;
/// Tag header: type, 24-bit size, 24-bit timestamp, extended byte, 24-bit stream id.
pub const TAG_HEADER_LEN: usize = 11;
/// Largest tag body the 24-bit size field can carry.
pub const MAX_TAG_BODY: usize = 0xFF_FFFF;
/// Byte offset of the flags byte in the file header.
pub const FLAGS_OFFSET: u64 = 4;
