//! Start-up recovery and the `repair` command: repairs `.part` files a crash left behind
//! with the repair of their format (by extension: `NAME.flv.part` is FLV; cut the torn
//! tail, rebuild the reserved header) and renames them to their final name without
//! replacing anything.

use super::format::Format;
use super::naming::{finalize_part, PART_SUFFIX};
use crate::flv::repair::{RepairError, RepairReport};
use log::{error, info};
use std::path::{Path, PathBuf};

/// The format `path` is repaired as: by its extension (`.part` aside), FLV for any other
/// name (FLV's repair refuses content that is not FLV).
pub fn format_of(path: &Path) -> Format {
    Format::of_path(path).unwrap_or(Format::Flv)
}

/// Repairs `path`; a `.part` file is then renamed to its final name (returned).
pub fn repair_and_finalize(path: &Path) -> Result<(RepairReport, PathBuf), RepairError> {
    let format = format_of(path);
    let report = format.repair(path)?;
    let is_part = path.to_str().is_some_and(|p| p.ends_with(PART_SUFFIX));
    if !is_part {
        return Ok((report, path.to_path_buf()));
    }
    let done = finalize_part(path, format.extension()).map_err(|e| RepairError::Io(path.to_path_buf(), e))?;
    Ok((report, done))
}

/// Every `*.EXT.part` under `dir` for a known format's EXT (symlinks not followed).
pub fn find_parts(dir: &Path) -> Vec<PathBuf> {
    let is_part = |p: &Path| p.to_str().is_some_and(|p| p.ends_with(PART_SUFFIX)) && Format::of_path(p).is_some();
    let mut found: Vec<PathBuf> = super::walk::files(dir, is_part)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    found.sort();
    found
}

/// Finalizes every `.part` under `dir`, logging each; returns how many were recovered.
pub fn recover_dir(dir: &Path) -> usize {
    recover_dir_files(dir).len()
}

/// Finalizes every `.part` under `dir`, logging each; returns each part it finalized with
/// the file it became.
pub fn recover_dir_files(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut recovered = Vec::new();
    for part in find_parts(dir) {
        match repair_and_finalize(&part) {
            Ok((report, done)) => {
                recovered.push((part.clone(), done.clone()));
                info!(
                    "recovered unfinished recording part={} file={} tags={} cut_bytes={} bytes={} duration_ms={}",
                    part.display(),
                    done.display(),
                    report.tags,
                    report.cut_bytes,
                    report.bytes,
                    report.duration_ms
                );
            }
            Err(e) => error!(
                "unfinished recording not recovered part={} error=\"{e}\"",
                part.display()
            ),
        }
    }
    recovered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_known_formats_are_found_and_others_left_alone() {
        let dir = std::env::temp_dir().join(format!("rtmp-recover-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in [
            "a.flv.part",
            "sub/b.flv.part",
            "c.flv",
            "f.FLV.part",
            "d.mkv.part",
            "e.part",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        assert_eq!(
            find_parts(&dir),
            vec![dir.join("a.flv.part"), dir.join("sub/b.flv.part")]
        );
        assert_eq!(format_of(Path::new("x.bin")), Format::Flv, "FLV is the fallback");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
