//! Program targets: found as execvp would (`record::hook_program::resolve`), run without a
//! shell with stdin from /dev/null and the event's fields as `RTMP_*` variables, in a
//! process group of their own that is killed at `--hook-timeout` (`hook_program::supervise`).

use super::{HookError, HookEvent, HookKind, HookOptions, Target};
use crate::record::hook_program::{self, HookOutcome};
use std::ffi::OsStr;
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

/// Looks up every program target of `options` as execvp would, once at start-up: the first
/// that cannot run is named (`--on-publish: notify not found in PATH`), a usage error then
/// rather than a failed hook at the first event.
pub fn check_programs(options: &HookOptions, path_var: Option<&OsStr>) -> Result<(), String> {
    for kind in HookKind::ALL {
        for target in options.targets(kind) {
            if let Target::Program(program) = target {
                if let Err(e) = hook_program::resolve(program, path_var) {
                    return Err(format!("--on-{}: {e}", kind.as_str().replace('_', "-")));
                }
            }
        }
    }
    Ok(())
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
    // Its output is logged with the query (the client's key) hidden.
    let secrets = hook_program::secrets_of(&event.query);
    match hook_program::supervise(child, &found, timeout, &secrets) {
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

    #[test]
    fn a_program_that_cannot_run_is_named_with_its_flag() {
        let mut options = HookOptions {
            on_publish: vec![Target::Program("/bin/sh".into()), Target::Webhook("http://h/".into())],
            ..HookOptions::default()
        };
        assert_eq!(check_programs(&options, None), Ok(()));
        options.on_play_done = vec![Target::Program("no-such-hook-program".into())];
        assert_eq!(
            check_programs(&options, Some(OsStr::new("/no/such"))),
            Err("--on-play-done: no-such-hook-program not found in PATH".to_owned())
        );
        options.on_play_done = vec![Target::Program("/no/such/hook".into())];
        assert_eq!(
            check_programs(&options, None),
            Err("--on-play-done: /no/such/hook does not exist".to_owned())
        );
    }
}
