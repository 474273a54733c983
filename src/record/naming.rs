//! Recording file names: `{app}_{stream}_{YYYYMMDD_HHMMSS_mmm}.flv`, reduced to a safe
//! alphabet, created with create_new and a `-N` suffix on collision (never overwrite).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Longest sanitized app or stream part kept in a file name (bytes); keeps names under
/// the 255-byte limit of common file systems.
pub const MAX_NAME_PART: usize = 96;
/// Most `-N` suffixes tried before giving up on a name.
pub const MAX_COLLISION_SUFFIX: u32 = 9999;

/// Maps every byte outside `[A-Za-z0-9._-]` to `_` and bounds the length, so a name can
/// never hold a path separator, NUL or control character. Empty names become `_`.
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_PART)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// `YYYYMMDD_HHMMSS_mmm` of a point in time.
pub fn timestamp_part(at: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}_{:02}{:02}{:02}_{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// The file stem (no suffix, no extension) for a recording.
pub fn file_stem(app: &str, stream: &str, at: OffsetDateTime) -> String {
    format!("{}_{}_{}", sanitize(app), sanitize(stream), timestamp_part(at))
}

/// Creates `dir/STEM.flv`, or `dir/STEM-1.flv`, `-2`... if taken. Never opens an existing file.
pub fn create_unique(dir: &Path, stem: &str) -> io::Result<(PathBuf, File)> {
    for n in 0..=MAX_COLLISION_SUFFIX {
        let name = if n == 0 {
            format!("{stem}.flv")
        } else {
            format!("{stem}-{n}.flv")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free recording file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sanitize_keeps_safe_characters_and_replaces_the_rest() {
        assert_eq!(sanitize("live"), "live");
        assert_eq!(sanitize("cam-1.main_2"), "cam-1.main_2");
        assert_eq!(sanitize("../etc/passwd"), ".._etc_passwd");
        assert_eq!(sanitize("a/b\\c\0d e"), "a_b_c_d_e");
        assert_eq!(sanitize("kamera\u{e9}"), "kamera_");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize(&"x".repeat(4096)).len(), MAX_NAME_PART);
    }

    #[test]
    fn stem_has_millisecond_timestamp() {
        let at = datetime!(2026-11-24 17:05:09.042 UTC);
        assert_eq!(file_stem("live", "cam", at), "live_cam_20261124_170509_042");
    }

    #[test]
    fn collisions_get_numbered_suffixes_and_nothing_is_overwritten() {
        let dir = std::env::temp_dir().join(format!("rtmp-naming-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, _) = create_unique(&dir, "s").unwrap();
        std::fs::write(&first, b"keep").unwrap();
        let (second, _) = create_unique(&dir, "s").unwrap();
        let (third, _) = create_unique(&dir, "s").unwrap();
        assert_eq!(first.file_name().unwrap(), "s.flv");
        assert_eq!(second.file_name().unwrap(), "s-1.flv");
        assert_eq!(third.file_name().unwrap(), "s-2.flv");
        assert_eq!(std::fs::read(&first).unwrap(), b"keep");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
