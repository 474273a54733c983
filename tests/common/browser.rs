//! Browser tests' tools: Debian's Chromium and the Python with Playwright that drives it
//! (`PLAYWRIGHT_PYTHON`, else the venv scripts/test.sh makes); both required, never skipped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The Python with Playwright; panics (with what to do) when it or Chromium is missing.
pub fn playwright_python() -> PathBuf {
    let python = std::env::var_os("PLAYWRIGHT_PYTHON").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".cache/rtmp-server-test-venv/bin/python")
        },
        PathBuf::from,
    );
    let works = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "{} with the playwright package is required for this test (scripts/test.sh makes the venv)",
        python.display()
    );
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is required for this test (scripts/test.sh installs Debian's chromium)"
    );
    python
}
