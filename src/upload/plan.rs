//! Pure upload planning: single PUT or multipart, the parts of a file, the ETag the store
//! should report for what was sent, and the retry backoff (1 s doubling to 5 min).

use md5::{Digest, Md5};
use std::time::Duration;

pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// S3's limit on part numbers.
pub const MAX_PARTS: u64 = 10_000;

/// The retry delay after consecutive failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: BACKOFF_FIRST }
    }
}

impl Backoff {
    /// The delay before the next attempt; the one after is doubled (up to 5 min).
    pub fn fail(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

/// One part of a multipart upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// From 1.
    pub number: u16,
    pub offset: u64,
    pub len: u64,
}

/// The part size actually used for `bytes`: `part_size`, raised when the file would need
/// more than 10 000 parts.
pub fn effective_part_size(bytes: u64, part_size: u64) -> u64 {
    part_size.max(bytes.div_ceil(MAX_PARTS)).max(1)
}

/// Whether a file of `bytes` goes up in parts.
pub fn is_multipart(bytes: u64, part_size: u64) -> bool {
    bytes > part_size
}

/// The parts of a file of `bytes` with parts of `part_size`.
pub fn parts(bytes: u64, part_size: u64) -> Vec<Part> {
    let size = effective_part_size(bytes, part_size);
    (0..bytes.div_ceil(size))
        .map(|i| Part {
            number: u16::try_from(i + 1).unwrap_or(u16::MAX),
            offset: i * size,
            len: size.min(bytes - i * size),
        })
        .collect()
}

/// An ETag without its quotes, lower case.
pub fn bare_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

pub fn md5_base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag S3 gives a multipart object: the MD5 of the parts' MD5s, `-` and their count.
/// None if a part's ETag is not an MD5 in hex.
pub fn multipart_etag(part_etags: &[String]) -> Option<String> {
    let mut all = Vec::with_capacity(part_etags.len() * 16);
    for etag in part_etags {
        let bare = bare_etag(etag);
        if bare.len() != 32 {
            return None;
        }
        for i in (0..32).step_by(2) {
            all.push(u8::from_str_radix(bare.get(i..i + 2)?, 16).ok()?);
        }
    }
    Some(format!("{}-{}", md5_hex(&all), part_etags.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..11).map(|_| b.fail().as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        b.reset();
        assert_eq!(b.fail(), BACKOFF_FIRST);
    }

    #[test]
    fn parts_cover_the_file_and_etags_follow_s3() {
        let p = parts(25, 10);
        assert_eq!(
            p.iter().map(|p| (p.number, p.offset, p.len)).collect::<Vec<_>>(),
            vec![(1, 0, 10), (2, 10, 10), (3, 20, 5)]
        );
        assert_eq!(parts(20, 10).len(), 2);
        assert!(!is_multipart(10, 10) && is_multipart(11, 10));
        assert_eq!(parts(100_000, 1).len(), 10_000);
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_base64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        let e = md5_hex(b"a");
        assert_eq!(
            multipart_etag(&[format!("\"{e}\""), e.clone()]).unwrap(),
            format!(
                "{}-2",
                md5_hex(&[Md5::digest(b"a").as_slice(), Md5::digest(b"a").as_slice()].concat())
            )
        );
        assert_eq!(multipart_etag(&["xyz".into()]), None);
    }
}
