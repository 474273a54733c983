//! Walks the record directory for files (symlinks not followed), bounded in depth and count,
//! for start-up recovery of `.part` files and for retention.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// Deepest folder level searched below the record directory.
pub const MAX_SCAN_DEPTH: usize = 16;
/// Most files one walk returns.
pub const MAX_SCAN_FILES: usize = 1_000_000;

/// Regular files under `dir` whose path satisfies `wanted`, with their metadata.
pub fn files(dir: &Path, wanted: impl Fn(&Path) -> bool) -> Vec<(PathBuf, Metadata)> {
    let mut found = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), 0usize)];
    while let Some((folder, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() && depth < MAX_SCAN_DEPTH {
                folders.push((path, depth + 1));
            } else if meta.is_file() && found.len() < MAX_SCAN_FILES && wanted(&path) {
                found.push((path, meta));
            }
        }
    }
    found
}
