//! Opt-in retention (`--record-retention-max SIZE`, `--record-retention-days N`): deletes the
//! oldest finished recordings (`*.flv`, `*.mp4`: every format's files, never a `.part`, never outside the record directory,
//! symlinks never followed) until the rest fit, logging each deletion and syncing each folder
//! it deleted from. `plan` is pure.

use log::{info, warn};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub bytes: u64,
}

/// Which files to delete, oldest first: everything older than `max_age`, then the oldest
/// until the total is within `max_total`.
pub fn plan(
    mut files: Vec<Finished>,
    max_total: Option<u64>,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Vec<Finished> {
    files.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.path.cmp(&b.path)));
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let mut doomed = Vec::new();
    for file in files {
        let too_old = max_age.is_some_and(|age| now.duration_since(file.modified).is_ok_and(|d| d > age));
        let too_big = max_total.is_some_and(|max| total > max);
        if too_old || too_big {
            total = total.saturating_sub(file.bytes);
            doomed.push(file);
        }
    }
    doomed
}

/// Finished recordings under `dir`.
pub fn scan(dir: &Path) -> Vec<Finished> {
    let is_recording = |p: &Path| {
        let extension = p.extension().and_then(|e| e.to_str());
        super::format::Format::ALL
            .iter()
            .any(|f| extension == Some(f.extension()))
    };
    super::walk::files(dir, is_recording)
        .into_iter()
        .map(|(path, meta)| Finished {
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            bytes: meta.len(),
            path,
        })
        .collect()
}

/// Says whether retention may delete a file (the uploader keeps files not uploaded yet).
#[derive(Clone)]
pub struct DeleteGuard(pub std::sync::Arc<dyn Fn(&Path) -> bool + Send + Sync>);

impl std::fmt::Debug for DeleteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeleteGuard")
    }
}

/// One retention pass over `dir`.
pub fn enforce(dir: &Path, max_total: Option<u64>, max_age: Option<Duration>) {
    enforce_guarded(dir, max_total, max_age, None);
}

/// One retention pass over `dir`, skipping the files `guard` keeps.
pub fn enforce_guarded(dir: &Path, max_total: Option<u64>, max_age: Option<Duration>, guard: Option<&DeleteGuard>) {
    if max_total.is_none() && max_age.is_none() {
        return;
    }
    let mut touched: Vec<PathBuf> = Vec::new();
    for file in plan(scan(dir), max_total, max_age, SystemTime::now()) {
        if guard.is_some_and(|g| !(g.0)(&file.path)) {
            info!("retention kept a file not uploaded yet file={}", file.path.display());
            continue;
        }
        match std::fs::remove_file(&file.path) {
            Ok(()) => {
                info!("retention deleted file={} bytes={}", file.path.display(), file.bytes);
                if let Some(parent) = file.path.parent().filter(|p| !touched.iter().any(|t| t == p)) {
                    touched.push(parent.to_path_buf());
                }
            }
            Err(e) => warn!("retention could not delete file={} error=\"{e}\"", file.path.display()),
        }
    }
    // Each folder a deletion touched is synced once, so the deletions survive a power cut.
    for folder in &touched {
        super::disk::sync_dir(folder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, age_s: u64, bytes: u64, now: SystemTime) -> Finished {
        Finished {
            path: PathBuf::from(name),
            modified: now - Duration::from_secs(age_s),
            bytes,
        }
    }

    #[test]
    fn a_pass_deletes_the_oldest_and_syncs_their_folder() {
        let dir = std::env::temp_dir().join(format!("rtmp-retention-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/old.flv"), [0u8; 100]).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(dir.join("sub/old.flv"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::fs::write(dir.join("sub/new.flv"), [0u8; 100]).unwrap();
        std::fs::write(dir.join("sub/x.mp4"), [0u8; 7]).unwrap();
        std::fs::write(dir.join("sub/y.mp4.part"), [0u8; 7]).unwrap();
        std::fs::write(dir.join("sub/notes.txt"), [0u8; 7]).unwrap();
        let mut seen: Vec<PathBuf> = scan(&dir).into_iter().map(|f| f.path).collect();
        seen.sort();
        assert_eq!(
            seen,
            [dir.join("sub/new.flv"), dir.join("sub/old.flv"), dir.join("sub/x.mp4")]
        );
        crate::record::disk::synced::take();
        enforce(&dir, None, Some(Duration::from_secs(86_400)));
        assert!(!dir.join("sub/old.flv").exists() && dir.join("sub/new.flv").exists());
        assert_eq!(crate::record::disk::synced::take(), vec![dir.join("sub")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn oldest_go_first_until_the_total_fits_and_old_ones_always_go() {
        let now = SystemTime::now();
        let files = vec![
            file("new", 10, 100, now),
            file("old", 1000, 100, now),
            file("mid", 500, 100, now),
        ];
        let names = |v: Vec<Finished>| v.into_iter().map(|f| f.path).collect::<Vec<_>>();
        assert_eq!(
            names(plan(files.clone(), Some(150), None, now)),
            vec![PathBuf::from("old"), PathBuf::from("mid")]
        );
        assert_eq!(names(plan(files.clone(), Some(300), None, now)), Vec::<PathBuf>::new());
        assert_eq!(
            names(plan(files, None, Some(Duration::from_secs(600)), now)),
            vec![PathBuf::from("old")]
        );
    }
}
