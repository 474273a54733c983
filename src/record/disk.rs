//! The record file system: its free space (statvfs through rustix, no unsafe of our own)
//! and directory durability: [`sync_dir`] fsyncs a folder after a recording's name is
//! created, linked, renamed or removed in it, so the name survives a power cut (fsync of
//! the file alone keeps its data, not its directory entry); [`check_writable`] is the
//! start-up check of the record directory.

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
            // procfs, sysfs and the like report no blocks at all: their "0 bytes free" is
            // not a full disk, and calling it one would hide why nothing can be written.
            if stats.f_blocks == 0 {
                return Err(io::Error::other("file system has no blocks (not a disk)"));
            }
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
/// free space (statvfs failed, or a file system without blocks) does not block; the open or
/// write itself then reports the OS error (and counts as a failed recording).
pub fn has_room(dir: &Path, min_free: u64) -> Result<(), u64> {
    match free_bytes(dir) {
        Ok(free) if free < min_free => Err(free),
        _ => Ok(()),
    }
}

/// Name of the file the start-up check writes and removes in the record directory.
const WRITE_CHECK_NAME: &str = ".rtmp-server-write-check";

/// Creates `dir` if missing and checks that a file can be created and removed in it: the
/// start-up check of a configured record directory. A full disk (ENOSPC, EDQUOT) passes:
/// that is the disk guard's business (recording pauses and resumes when space returns).
pub fn check_writable(dir: &Path) -> io::Result<()> {
    create_dir_all_synced(dir)?;
    let probe = dir.join(format!("{WRITE_CHECK_NAME}-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe);
    match created {
        Ok(file) => {
            drop(file);
            std::fs::remove_file(&probe)
        }
        Err(e) if is_disk_full(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    let full = [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT];
    full.iter().any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
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
    fn a_pseudo_file_system_is_not_a_full_disk_and_is_not_writable() {
        assert!(free_bytes(Path::new("/proc")).is_err(), "procfs has no blocks");
        assert!(
            has_room(Path::new("/proc/no-such-dir"), u64::MAX).is_ok(),
            "unknown, not low"
        );
        assert!(check_writable(Path::new("/proc/no-such-dir")).is_err());
        assert!(check_writable(Path::new("/proc")).is_err());
        let dir = std::env::temp_dir().join(format!("rtmp-disk-check-{}", std::process::id()));
        check_writable(&dir).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the probe file is removed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
