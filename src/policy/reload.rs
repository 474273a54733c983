//! SIGHUP: reads the command line (and so its config file) again and applies what can
//! change without a restart: keys, allow/deny, the per-app policy, hooks, push targets and
//! record rules, for publishes and plays that start afterwards. A changed setting that needs
//! a restart (listen addresses, limits, the record directory...) is logged and ignored; a
//! file that does not parse, or a key file that cannot be read, keeps the running policies.

use super::{Policies, PolicySwitch};
use crate::config::{parse_args, Config, Invocation};
use log::{error, info, warn};
use std::sync::atomic::Ordering;

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new policies are in force; these changed settings were ignored (need a restart).
    Applied { needs_restart: Vec<&'static str> },
    /// Nothing changed: the configuration could not be read or used.
    Kept,
}

/// Settings read once at start-up, by name, with how to compare them.
fn restart_only(old: &Config, new: &Config) -> Vec<&'static str> {
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    let checks: [(&'static str, bool); 12] = [
        ("listen", old.listen == new.listen),
        ("tls_listen", debug(&old.tls) == debug(&new.tls)),
        ("http_listen", old.http_listen == new.http_listen),
        ("http_*", debug(&old.http) == debug(&new.http)),
        ("record_dir", old.record_dir == new.record_dir),
        ("chunk_size", old.chunk_size == new.chunk_size),
        ("log_level", old.log_level == new.log_level),
        (
            "limits (timeouts, sizes, max_connections)",
            debug(&old.limits) == debug(&new.limits),
        ),
        (
            "max_connections_per_ip",
            old.ops.max_connections_per_ip == new.ops.max_connections_per_ip,
        ),
        (
            "record_min_free/record_retention_*",
            (
                old.recording.min_free,
                old.recording.retention_max,
                old.recording.retention_days,
            ) == (
                new.recording.min_free,
                new.recording.retention_max,
                new.recording.retention_days,
            ),
        ),
        (
            "hook_timeout/hook_retries/hook_secret_file",
            (old.hooks.timeout, old.hooks.retries, &old.hooks.secret)
                == (new.hooks.timeout, new.hooks.retries, &new.hooks.secret),
        ),
        ("play_max_lag", debug(&old.play.player) == debug(&new.play.player)),
    ];
    checks.iter().filter(|(_, same)| !same).map(|(name, _)| *name).collect()
}

/// Reads `args` (the server's command line after the program name) again and, when it is
/// usable, puts its policies in force. `running` is the configuration the server started with.
pub fn reload(args: &[String], running: &Config, switch: &PolicySwitch) -> (ReloadOutcome, Option<Config>) {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = match parse_args("rtmp-server", &argv) {
        Invocation::Run(config) => *config,
        Invocation::UsageError(lines) => {
            for line in lines.lines() {
                error!("config reload failed, keeping the running configuration error=\"{line}\"");
            }
            switch.reload_failures.fetch_add(1, Ordering::Relaxed);
            return (ReloadOutcome::Kept, None);
        }
        Invocation::Print(_) => return (ReloadOutcome::Kept, None),
    };
    let policies = match Policies::build(&config) {
        Ok(policies) => policies,
        Err(e) => {
            error!("keys reload failed, keeping the previous keys and configuration error=\"{e}\"");
            switch.reload_failures.fetch_add(1, Ordering::Relaxed);
            return (ReloadOutcome::Kept, None);
        }
    };
    let needs_restart = restart_only(running, &config);
    for name in &needs_restart {
        warn!("config reload: {name} changed and needs a restart, ignored until then");
    }
    for counts in policies.key_counts() {
        info!("keys reloaded {counts}");
    }
    info!(
        "config reloaded apps={} apps_strict={}",
        policies.apps.len(),
        policies.strict
    );
    switch.replace(policies);
    (ReloadOutcome::Applied { needs_restart }, Some(config))
}
