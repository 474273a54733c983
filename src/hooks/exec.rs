//! Program targets: found as execvp would (`record::hook_program::resolve`), run without a
//! shell with stdin from /dev/null and the event's fields as `RTMP_*` variables, in a
//! process group of their own that is killed at `--hook-timeout` (`hook_program::supervise`).

use super::{HookError, HookEvent};
use crate::record::hook_program::{self, HookOutcome};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The environment a program gets for `event`.
pub fn environment(event: &HookEvent) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("RTMP_EVENT", event.kind.as_str().to_owned()),
        ("RTMP_APP", event.app.clone()),
        ("RTMP_STREAM", event.stream.clone()),
        ("RTMP_QUERY", event.query.clone()),
        (
            "RTMP_CLIENT_ADDR",
            event.client_addr.map(|a| a.to_string()).unwrap_or_default(),
        ),
        (
            "RTMP_CONN_ID",
            event.conn_id.map(|id| id.to_string()).unwrap_or_default(),
        ),
        ("RTMP_TIME", event.time.clone()),
    ];
    if let Some(path) = &event.path {
        env.push(("RTMP_RECORD_PATH", path.display().to_string()));
    }
    if let Some(ms) = event.duration_ms {
        env.push(("RTMP_DURATION_MS", ms.to_string()));
    }
    if let Some(url) = &event.url {
        env.push(("RTMP_UPLOAD_URL", url.clone()));
    }
    if let Some(bytes) = event.bytes {
        env.push(("RTMP_BYTES", bytes.to_string()));
    }
    env
}

/// Runs `program` for `event`, waiting at most `timeout`: Ok when it exits 0.
pub fn run(program: &Path, event: &HookEvent, timeout: Duration) -> Result<(), HookError> {
    let found = hook_program::resolve(program, std::env::var_os("PATH").as_deref())
        .map_err(|e| HookError::Start(e.to_string()))?;
    let child = Command::new(&found)
        .envs(environment(event))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| HookError::Start(e.to_string()))?;
    match hook_program::supervise(child, &found, timeout) {
        HookOutcome::Exited(status) if status.success() => Ok(()),
        HookOutcome::Exited(status) => Err(HookError::Exit(status.to_string())),
        HookOutcome::TimedOut => Err(HookError::Timeout),
        HookOutcome::WaitFailed(e) => Err(HookError::Exit(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookKind;

    #[test]
    fn the_environment_has_the_common_fields_and_the_per_event_ones() {
        let mut event = HookEvent::new(HookKind::PublishDone, "live", "cam", "key=k");
        event.conn_id = Some(3);
        event.duration_ms = Some(10);
        event.bytes = Some(20);
        let env = environment(&event);
        let get = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("RTMP_EVENT"), Some("publish_done"));
        assert_eq!(get("RTMP_QUERY"), Some("key=k"));
        assert_eq!(get("RTMP_CONN_ID"), Some("3"));
        assert_eq!(get("RTMP_BYTES"), Some("20"));
        assert_eq!(get("RTMP_RECORD_PATH"), None);
    }
}
