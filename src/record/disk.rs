//! Free space of the record file system (statvfs through rustix, no unsafe of our own).

use std::io;
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_of_a_missing_folder_is_its_parents() {
        let tmp = std::env::temp_dir();
        let free = free_bytes(&tmp.join("no/such/folder")).unwrap();
        assert!(free > 0);
        assert!(has_room(&tmp, 0).is_ok());
        assert!(has_room(&tmp, u64::MAX).is_err());
    }
}
