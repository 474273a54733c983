//! Start-up recovery and the `repair` command: repairs `.part` files a crash left behind
//! (cut the torn tail, rebuild onMetaData) and renames them to `.flv` without replacing
//! anything.

use super::naming::{finalize_part, PART_SUFFIX};
use crate::flv::repair::{repair, RepairError, RepairReport};
use log::{error, info};
use std::path::{Path, PathBuf};

/// Repairs `path`; a `.part` file is then renamed to its final `.flv` name (returned).
pub fn repair_and_finalize(path: &Path) -> Result<(RepairReport, PathBuf), RepairError> {
    let report = repair(path)?;
    let is_part = path.to_str().is_some_and(|p| p.ends_with(PART_SUFFIX));
    if !is_part {
        return Ok((report, path.to_path_buf()));
    }
    let done = finalize_part(path).map_err(|e| RepairError::Io(path.to_path_buf(), e))?;
    Ok((report, done))
}

/// Every `*.flv.part` under `dir` (symlinks not followed).
pub fn find_parts(dir: &Path) -> Vec<PathBuf> {
    let is_part = |p: &Path| p.to_str().is_some_and(|p| p.ends_with(".flv.part"));
    let mut found: Vec<PathBuf> = super::walk::files(dir, is_part)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    found.sort();
    found
}

/// Finalizes every `.part` under `dir`, logging each; returns how many were recovered.
pub fn recover_dir(dir: &Path) -> usize {
    let mut recovered = 0;
    for part in find_parts(dir) {
        match repair_and_finalize(&part) {
            Ok((report, done)) => {
                recovered += 1;
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
