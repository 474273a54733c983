//! The SRT passphrase file: its first line, 10 to 79 bytes (SRT's bounds). The passphrase
//! is never logged; errors name the file, never its content.

use std::fmt;
use std::path::{Path, PathBuf};

/// SRT's passphrase length bounds, in bytes.
pub const MIN_PASSPHRASE: usize = 10;
pub const MAX_PASSPHRASE: usize = 79;
/// Bytes read from the file at most (a passphrase is one short line).
const MAX_FILE_BYTES: u64 = 4096;

/// Why a passphrase file is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseError {
    Read(PathBuf, String),
    Length(PathBuf, usize),
}

impl fmt::Display for PassphraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassphraseError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            PassphraseError::Length(path, len) => write!(
                f,
                "the first line of {} has {len} bytes; an SRT passphrase has {MIN_PASSPHRASE} to {MAX_PASSPHRASE}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for PassphraseError {}

/// A passphrase; its Debug output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Reads the first line of `path` (trailing whitespace removed).
pub fn read_passphrase(path: &Path) -> Result<Passphrase, PassphraseError> {
    use std::io::Read;
    let read_error = |e: std::io::Error| PassphraseError::Read(path.to_path_buf(), e.to_string());
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    let line = text.lines().next().unwrap_or_default().trim_end();
    if !(MIN_PASSPHRASE..=MAX_PASSPHRASE).contains(&line.len()) {
        return Err(PassphraseError::Length(path.to_path_buf(), line.len()));
    }
    Ok(Passphrase(line.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code may panic
    use super::*;

    #[test]
    fn first_line_within_bounds() {
        let dir = std::env::temp_dir().join(format!("srt-pass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "correct horse battery\nsecond line\n").unwrap();
        assert_eq!(read_passphrase(&good).unwrap().expose(), "correct horse battery");
        assert_eq!(format!("{:?}", read_passphrase(&good).unwrap()), "Passphrase(..)");
        let short = dir.join("short");
        std::fs::write(&short, "short\n").unwrap();
        let error = read_passphrase(&short).unwrap_err();
        assert!(matches!(error, PassphraseError::Length(_, 5)));
        assert!(!error.to_string().contains("short\n"));
        assert!(read_passphrase(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
