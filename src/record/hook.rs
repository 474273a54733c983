//! `--on-record-done PROGRAM`: after each finalized file, runs PROGRAM (no shell) with the
//! file's path as its only argument and RTMP_RECORD_PATH, RTMP_APP, RTMP_STREAM,
//! RTMP_DURATION_MS, RTMP_BYTES in its environment. The writer starts the process (spawning
//! does not wait for it) and a thread of its own waits for it, so neither the writer nor the
//! connection waits; its exit status is logged. A hook still running when the server exits
//! goes on by itself (its status is then not logged).

use log::{info, warn};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a finished recording file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedFile {
    pub path: PathBuf,
    pub app: String,
    pub stream: String,
    pub duration_ms: u32,
    pub bytes: u64,
}

/// Starts PROGRAM for `file` and logs its exit status when it ends.
pub fn run(program: &Path, file: &FinishedFile) {
    let mut command = Command::new(program);
    command
        .arg(&file.path)
        .env("RTMP_RECORD_PATH", &file.path)
        .env("RTMP_APP", &file.app)
        .env("RTMP_STREAM", &file.stream)
        .env("RTMP_DURATION_MS", file.duration_ms.to_string())
        .env("RTMP_BYTES", file.bytes.to_string())
        .stdin(Stdio::null());
    let label = format!("program={} file={}", program.display(), file.path.display());
    // Starting a process does not wait for it; waiting happens on a thread of its own. The
    // child is started here, so a shutdown right after finalizing still runs the hook.
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!("record hook not started {label} error=\"{e}\"");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("record-hook".to_owned())
        .spawn(move || match child.wait() {
            Ok(status) if status.success() => info!("record hook done {label} status=0"),
            Ok(status) => warn!("record hook failed {label} status=\"{status}\""),
            Err(e) => warn!("record hook failed {label} error=\"{e}\""),
        });
    if let Err(e) = spawned {
        warn!("record hook not waited for program={} error=\"{e}\"", program.display());
    }
}
