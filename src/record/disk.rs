//! The record file system: its free space (statvfs through rustix, no unsafe of our own)
//! and directory durability: [`sync_dir`] fsyncs a folder after a recording's name is
//! created, linked, renamed or removed in it, so the name survives a power cut (fsync of
//! the file alone keeps its data, not its directory entry).

use log::warn;
use std::io;
use std::path::{Path, PathBuf};

/// Bytes available to an unprivileged writer on the file system holding `dir`, or its
/// nearest existing ancestor when `dir` does not exist yet.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let mut probe = dir;
    loop {
        if probe.exists() {
            let stats = rustix::fs::statvfs(probe).map_err(io::Error::from)?;
            return Ok(stats.f_bavail.saturating_mul(stats.f_frsize));
        }
        probe = match probe.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if probe == Path::new(".") && !probe.exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no existing folder"));
        }
    }
}

/// Whether a recording may write: free space known and at least `min_free`. An unknown
/// free space (statvfs failed) does not block; the write itself will report the error.
pub fn has_room(dir: &Path, min_free: u64) -> Result<(), u64> {
    match free_bytes(dir) {
        Ok(free) if free < min_free => Err(free),
        _ => Ok(()),
    }
}

/// fsyncs the folder `dir`, so entries created, renamed or removed in it are on disk.
/// A failure is logged, never fatal (the data itself is synced separately); returns whether
/// the folder was synced.
pub fn sync_dir(dir: &Path) -> bool {
    match std::fs::File::open(dir).and_then(|folder| folder.sync_all()) {
        Ok(()) => {
            #[cfg(test)]
            synced::note(dir);
            true
        }
        Err(e) => {
            warn!("record folder not synced dir={} error=\"{e}\"", dir.display());
            false
        }
    }
}

/// fsyncs the folder holding `path` (after `path` was created, renamed or removed).
pub fn sync_parent(path: &Path) -> bool {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// `create_dir_all`, then each folder it created is made durable (its parent synced).
pub fn create_dir_all_synced(dir: &Path) -> io::Result<()> {
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut probe = Some(dir);
    while let Some(folder) = probe.filter(|f| !f.as_os_str().is_empty() && !f.exists()) {
        missing.push(folder.to_path_buf());
        probe = folder.parent();
    }
    std::fs::create_dir_all(dir)?;
    for folder in missing.iter().rev() {
        sync_parent(folder);
    }
    Ok(())
}

/// Tests see which folders this thread synced: the real fsync ran, then the path is noted.
#[cfg(test)]
pub mod synced {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    thread_local! {
        static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn note(dir: &Path) {
        SYNCED.with(|s| s.borrow_mut().push(dir.to_path_buf()));
    }

    /// The folders this thread synced since the last call (and forgets them).
    pub fn take() -> Vec<PathBuf> {
        SYNCED.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_folder_is_synced_and_a_missing_one_is_logged_not_fatal() {
        let dir = std::env::temp_dir().join(format!("rtmp-disk-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        synced::take();
        create_dir_all_synced(&dir.join("a/b")).unwrap();
        assert!(dir.join("a/b").is_dir());
        assert_eq!(
            synced::take(),
            vec![std::env::temp_dir(), dir.clone(), dir.join("a")],
            "each new folder's parent"
        );
        assert!(sync_dir(&dir));
        assert!(sync_parent(&dir.join("a")));
        assert_eq!(synced::take(), vec![dir.clone(), dir.clone()]);
        assert!(!sync_dir(&dir.join("missing")), "an error is reported, not a panic");
        assert!(synced::take().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn free_space_of_a_missing_folder_is_its_parents() {
        let tmp = std::env::temp_dir();
        let free = free_bytes(&tmp.join("no/such/folder")).unwrap();
        assert!(free > 0);
        assert!(has_room(&tmp, 0).is_ok());
        assert!(has_room(&tmp, u64::MAX).is_err());
    }
}
