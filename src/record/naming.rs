//! Recording file names: the `--record-path` template (default
//! `%app_%stream_%Y%m%d_%H%M%S_%f`, i.e. `{app}_{stream}_{YYYYMMDD_HHMMSS_mmm}`) rendered per
//! file, app and stream reduced to a safe alphabet, confined to the record directory. A file
//! is written as `NAME.EXT.part` (EXT from its muxer, e.g. `flv`; created with create_new,
//! `-N` suffix when NAME.EXT or the part exists) and renamed to `NAME.EXT` when finalized
//! with a hard link, which never
//! replaces an existing file (the next free `-N` name is taken instead). Each create, link
//! and unlink is followed by an fsync of the folder (`disk::sync_dir`).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use time::{OffsetDateTime, UtcOffset};

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

/// Suffix of an in-progress recording.
pub const PART_SUFFIX: &str = ".part";
/// The default `--record-path` template.
pub const DEFAULT_TEMPLATE: &str = "%app_%stream_%Y%m%d_%H%M%S_%f";
/// Longest accepted template (bytes).
pub const MAX_TEMPLATE_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    App,
    Stream,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
    Index,
}

/// A parsed `--record-path` template: a relative path without extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate(Vec<Piece>);

impl Default for PathTemplate {
    fn default() -> Self {
        PathTemplate::parse(DEFAULT_TEMPLATE).unwrap_or(PathTemplate(vec![Piece::App]))
    }
}

impl PathTemplate {
    /// Parses a template. Literal text may use `[A-Za-z0-9._-]` and `/` between non-empty
    /// folder names other than `.` and `..`; it may not start with `/`. A trailing `.flv` is
    /// implied and dropped if given.
    pub fn parse(text: &str) -> Result<PathTemplate, String> {
        let text = text.strip_suffix(".flv").unwrap_or(text);
        if text.is_empty() || text.len() > MAX_TEMPLATE_LEN {
            return Err(format!("expected a template of 1..={MAX_TEMPLATE_LEN} bytes"));
        }
        if text.starts_with('/') {
            return Err("must be relative to --record-dir".to_owned());
        }
        for part in text.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err("folder names may not be empty, . or ..".to_owned());
            }
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('%') {
                let (piece, len) = if after.starts_with("app") {
                    (Piece::App, 3)
                } else if after.starts_with("stream") {
                    (Piece::Stream, 6)
                } else {
                    let piece = match after.chars().next() {
                        Some('Y') => Piece::Year,
                        Some('m') => Piece::Month,
                        Some('d') => Piece::Day,
                        Some('H') => Piece::Hour,
                        Some('M') => Piece::Minute,
                        Some('S') => Piece::Second,
                        Some('f') => Piece::Millis,
                        Some('i') => Piece::Index,
                        Some('%') => Piece::Literal("%".to_owned()),
                        _ => {
                            return Err(format!(
                                "unknown placeholder in {text:?}: use %app %stream %Y %m %d %H %M %S %f %i"
                            ))
                        }
                    };
                    (piece, 1)
                };
                pieces.push(piece);
                rest = after.get(len..).unwrap_or("");
            } else {
                let end = rest.find('%').unwrap_or(rest.len());
                let literal = rest.get(..end).unwrap_or("");
                if let Some(bad) = literal
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
                {
                    return Err(format!("character {bad:?} is not allowed; use [A-Za-z0-9._-/]"));
                }
                pieces.push(Piece::Literal(literal.to_owned()));
                rest = rest.get(end..).unwrap_or("");
            }
        }
        Ok(PathTemplate(pieces))
    }

    /// The relative path (no extension) of segment `index` started at `at`.
    pub fn render(&self, app: &str, stream: &str, at: OffsetDateTime, index: u32) -> PathBuf {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::App => out.push_str(&sanitize(app)),
                Piece::Stream => out.push_str(&sanitize(stream)),
                Piece::Year => out.push_str(&format!("{:04}", at.year())),
                Piece::Month => out.push_str(&format!("{:02}", u8::from(at.month()))),
                Piece::Day => out.push_str(&format!("{:02}", at.day())),
                Piece::Hour => out.push_str(&format!("{:02}", at.hour())),
                Piece::Minute => out.push_str(&format!("{:02}", at.minute())),
                Piece::Second => out.push_str(&format!("{:02}", at.second())),
                Piece::Millis => out.push_str(&format!("{:03}", at.millisecond())),
                Piece::Index => out.push_str(&index.to_string()),
            }
        }
        // Sanitized values can be "..": never let one become a path component.
        let parts: Vec<String> = out
            .split('/')
            .map(|p| {
                if p == "." || p == ".." {
                    p.replace('.', "_")
                } else {
                    p.to_owned()
                }
            })
            .collect();
        PathBuf::from(parts.join("/"))
    }
}

/// `now` in `offset`, for a file name. `time` panics on instants outside years ±9999
/// (`OffsetDateTime::from(SystemTime)`, `to_offset`); a clock set that far names the file
/// as of the Unix epoch instead of stopping the recording thread.
pub fn local_time(now: SystemTime, offset: UtcOffset) -> OffsetDateTime {
    let nanos = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok(),
        Err(before) => i128::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    };
    nanos
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .and_then(|utc| utc.checked_to_offset(offset))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Creates `dir/REL.EXT.part` (folders too), or with `-1`, `-2`... when `REL.EXT` or its part
/// exists (`extension` without the dot). Never opens an existing file.
pub fn create_part(dir: &Path, relative: &Path, extension: &str) -> io::Result<(PathBuf, File)> {
    let base = dir.join(relative);
    if let Some(parent) = base.parent() {
        super::disk::create_dir_all_synced(parent)?;
    }
    let stem = base.file_name().and_then(|n| n.to_str()).unwrap_or("_").to_owned();
    for n in 0..=MAX_COLLISION_SUFFIX {
        let name = if n == 0 {
            format!("{stem}.{extension}")
        } else {
            format!("{stem}-{n}.{extension}")
        };
        let final_path = base.with_file_name(&name);
        if final_path.exists() {
            continue;
        }
        let part = base.with_file_name(format!("{name}{PART_SUFFIX}"));
        match OpenOptions::new().read(true).write(true).create_new(true).open(&part) {
            Ok(file) => {
                super::disk::sync_parent(&part);
                return Ok((part, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free recording file name",
    ))
}

/// Renames `NAME.EXT.part` to `NAME.EXT` (or `NAME-N.EXT` when taken) without ever replacing
/// an existing file (`extension` without the dot; a part without it gets it); returns the
/// final path.
pub fn finalize_part(part: &Path, extension: &str) -> io::Result<PathBuf> {
    let name = part.file_name().and_then(|n| n.to_str()).unwrap_or("_");
    let name = name.strip_suffix(PART_SUFFIX).unwrap_or(name);
    let stem = name.strip_suffix(&format!(".{extension}")).unwrap_or(name);
    for n in 0..=MAX_COLLISION_SUFFIX {
        let candidate = if n == 0 {
            part.with_file_name(format!("{stem}.{extension}"))
        } else {
            part.with_file_name(format!("{stem}-{n}.{extension}"))
        };
        match std::fs::hard_link(part, &candidate) {
            Ok(()) => {
                std::fs::remove_file(part)?;
                super::disk::sync_parent(&candidate);
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // File systems without hard links: check, then rename (a tiny race, logged by
            // nobody else writing here).
            Err(_) if !candidate.exists() => {
                std::fs::rename(part, &candidate)?;
                super::disk::sync_parent(&candidate);
                return Ok(candidate);
            }
            Err(_) => continue,
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
    use time::macros::{datetime, offset};

    #[test]
    fn local_time_is_the_clock_in_the_offset_and_an_out_of_range_clock_is_not_a_panic() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
        let local = local_time(at, offset!(+2));
        assert_eq!(local, OffsetDateTime::from(at).to_offset(offset!(+2)));
        assert_eq!(
            (local.hour(), local.millisecond(), local.offset()),
            (13, 123, offset!(+2))
        );
        let before_1970 = UNIX_EPOCH - std::time::Duration::from_secs(86_400);
        assert_eq!(local_time(before_1970, UtcOffset::UTC), datetime!(1969-12-31 0:00 UTC));
        // About year 14000 and year -10000: `OffsetDateTime::from(SystemTime)` panics on both.
        let years = std::time::Duration::from_secs(12_000 * 366 * 86_400);
        for far in [UNIX_EPOCH + years, UNIX_EPOCH - years] {
            assert_eq!(local_time(far, offset!(+2)), OffsetDateTime::UNIX_EPOCH);
        }
        let last = datetime!(9999-12-31 23:30 UTC);
        let edge = UNIX_EPOCH + std::time::Duration::from_secs(last.unix_timestamp() as u64);
        assert_eq!(
            local_time(edge, offset!(+2)),
            OffsetDateTime::UNIX_EPOCH,
            "to_offset overflows"
        );
    }

    #[test]
    fn default_template_renders_the_classic_name_and_custom_ones_make_folders() {
        let at = datetime!(2026-11-24 17:05:09.042 UTC);
        let default = PathTemplate::default();
        assert_eq!(
            default.render("live", "cam", at, 1),
            PathBuf::from("live_cam_20261124_170509_042")
        );
        let custom = PathTemplate::parse("%app/%stream/%Y-%m-%d/%H%M%S_%i.flv").unwrap();
        assert_eq!(
            custom.render("live", "../x", at, 3),
            PathBuf::from("live/.._x/2026-11-24/170509_3")
        );
        assert_eq!(
            custom.render("..", "s", at, 1),
            PathBuf::from("__/s/2026-11-24/170509_1")
        );
        for bad in ["/abs/%stream", "a/../b", "a//b", "%q", "sp ace", ""] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parts_are_renamed_without_replacing_existing_files() {
        let dir = std::env::temp_dir().join(format!("rtmp-naming-part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::record::disk::synced::take();
        let (part, _) = create_part(&dir, Path::new("sub/s"), "flv").unwrap();
        assert_eq!(part, dir.join("sub/s.flv.part"));
        let synced = crate::record::disk::synced::take();
        assert_eq!(
            synced,
            vec![std::env::temp_dir(), dir.clone(), dir.join("sub")],
            "new folders and the new part's name are made durable"
        );
        let (second, _) = create_part(&dir, Path::new("sub/s"), "flv").unwrap();
        assert_eq!(second, dir.join("sub/s-1.flv.part"));
        std::fs::write(dir.join("sub/s.flv"), b"keep").unwrap();
        let done = finalize_part(&part, "flv").unwrap();
        assert_eq!(done, dir.join("sub/s-1.flv"));
        assert_eq!(
            crate::record::disk::synced::take().last(),
            Some(&dir.join("sub")),
            "the final name is made durable"
        );
        assert_eq!(std::fs::read(dir.join("sub/s.flv")).unwrap(), b"keep");
        assert!(!part.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
}
