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

/// Runs `tests/browser/SCRIPT` with the Playwright Python and `args` (Chromium given as
/// `--chromium`); the script bounds each check itself, this only stops a hung browser.
/// Returns whether it succeeded and everything it printed.
pub fn run_browser_script(script: &str, args: &[String]) -> (bool, String) {
    use std::io::Read;
    let python = playwright_python();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(script);
    let mut browser = Command::new(python)
        .arg(&path)
        .args(args)
        .args(["--chromium", CHROMIUM])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    let status = super::wait_child(&mut browser, std::time::Duration::from_secs(300));
    let mut output = String::new();
    browser.stdout.take().unwrap().read_to_string(&mut output).unwrap();
    browser.stderr.take().unwrap().read_to_string(&mut output).unwrap();
    (status.success(), format!("{script} exited {status}:\n{output}"))
}

/// The arguments of `tests/browser/dashboard.py`: the dashboard at `api`, the stream it must
/// show playing at 320x240, the API token and where the screenshot goes.
pub fn dashboard_args(
    api: std::net::SocketAddr,
    stream: &str,
    token: &str,
    screenshot: &std::path::Path,
) -> Vec<String> {
    [
        "--url",
        &format!("http://{api}/"),
        "--stream",
        stream,
        "--resolution",
        "320x240",
        "--token",
        token,
        "--screenshot",
        &screenshot.display().to_string(),
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}
