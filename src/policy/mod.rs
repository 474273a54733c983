//! Per-stream policy: what the top-level settings and each config file `[[app]]` table say
//! about one publish or play (record or not and how, push targets, keys, allowed addresses,
//! publish conflict, play wait, hooks). `Policies` is built from a `Config` (key files read
//! then) and resolved once per publish/play; the connection carries the `StreamPolicy` it
//! got. `PolicySwitch` holds the current `Policies`, replaced whole on SIGHUP (`reload`).

pub mod reload;

use crate::config::Config;
use crate::hooks::HookOptions;
use crate::live::registry::PublishConflict;
use crate::ops::auth::{Auth, KeyCounts, KeyFileError};
use crate::ops::cidr::Cidr;
use crate::push::options::PushOptions;
use crate::record::options::{Pattern, RecordOptions};
use crate::upload::options::UploadOptions;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What applies to one stream.
#[derive(Debug)]
pub struct StreamPolicy {
    /// `top level`, or the `[[app]]` table's glob and place (for log lines).
    pub origin: String,
    pub record_all: bool,
    /// The `--record-*` settings of this stream's recordings.
    pub recording: Arc<RecordOptions>,
    pub push: PushOptions,
    pub auth: Arc<Auth>,
    /// Empty: any address may publish.
    pub allow_publish: Vec<Cidr>,
    pub publish_conflict: PublishConflict,
    /// Zero: players wait for a publisher for ever.
    pub play_wait_timeout: Duration,
    /// How long players' frames may be held for one send (`play_coalesce`).
    pub play_coalesce: Duration,
    /// The hook targets (timeouts, retries and the secret are the top level's).
    pub hooks: Arc<HookOptions>,
    /// Where this stream's finished recordings are uploaded (`--upload*`), if anywhere.
    pub upload: Option<Arc<UploadOptions>>,
    /// `--hls`: the stream is also served as HLS.
    pub hls: bool,
    /// The SRT passphrase file of this stream's publishes (`--srt-passphrase-file`), if any.
    pub srt_passphrase_file: Option<PathBuf>,
}

impl StreamPolicy {
    /// Whether a publish of app/stream records (the manager may still continue a parked one).
    pub fn records(&self, app: &str, stream: &str) -> bool {
        self.recording.should_record(self.record_all, app, stream)
    }

    /// The `--on-record-done` program of this stream's recordings.
    pub fn record_done_program(&self) -> Option<&PathBuf> {
        self.recording.on_record_done.as_ref()
    }
}

/// The top-level policy, the `[[app]]` tables' and the connection-level settings.
#[derive(Debug)]
pub struct Policies {
    pub default: Arc<StreamPolicy>,
    pub apps: Vec<(Pattern, Arc<StreamPolicy>)>,
    /// Refuse streams that match no table.
    pub strict: bool,
    /// Addresses closed right after accept.
    pub deny: Vec<Cidr>,
}

/// Why the policies could not be built.
#[derive(Debug)]
pub enum PolicyError {
    Keys { origin: String, error: KeyFileError },
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::Keys { origin, error } => write!(f, "{origin}: {error}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Key files shared by the policies that name the same pair (each pair read once).
type AuthCache = HashMap<(Option<PathBuf>, Option<PathBuf>), Arc<Auth>>;

impl Policies {
    /// Builds the policies of `config`, reading every key file it names.
    pub fn build(config: &Config) -> Result<Policies, PolicyError> {
        let policies = Policies::fail_closed(config);
        let mut read: Vec<*const Auth> = Vec::new();
        for policy in policies.all() {
            let ptr = Arc::as_ptr(&policy.auth);
            if policy.auth.enabled() && !read.contains(&ptr) {
                read.push(ptr);
                policy.auth.reload().map_err(|error| PolicyError::Keys {
                    origin: policy.origin.clone(),
                    error,
                })?;
            }
        }
        Ok(policies)
    }

    /// The policies of `config` with key files not read yet: every key check fails (closed)
    /// until they are (see `build`).
    pub fn fail_closed(config: &Config) -> Policies {
        let mut auths = AuthCache::new();
        let default = Arc::new(stream_policy(config, "top level".to_owned(), &mut auths));
        let apps = config
            .apps
            .iter()
            .map(|app| {
                let origin = format!("[[app]] match={} at {}", app.pattern.as_str(), app.at);
                (
                    app.pattern.clone(),
                    Arc::new(stream_policy(&app.config, origin, &mut auths)),
                )
            })
            .collect();
        Policies {
            default,
            apps,
            strict: config.apps_strict,
            deny: config.ops.deny.clone(),
        }
    }

    /// The top-level policy, then each table's.
    /// The SRT passphrase files that apply somewhere (top level and `[[app]]` tables).
    pub fn srt_passphrase_files(&self) -> Vec<&PathBuf> {
        let mut files: Vec<&PathBuf> = self.all().filter_map(|p| p.srt_passphrase_file.as_ref()).collect();
        files.dedup();
        files
    }

    fn all(&self) -> impl Iterator<Item = &Arc<StreamPolicy>> {
        std::iter::once(&self.default).chain(self.apps.iter().map(|(_, p)| p))
    }

    /// The policy of app/stream: the first matching table's, else the top level's; None
    /// when `apps_strict` refuses a stream no table matches.
    pub fn resolve(&self, app: &str, stream: &str) -> Option<Arc<StreamPolicy>> {
        let name = format!("{app}/{stream}");
        match self.apps.iter().find(|(pattern, _)| pattern.matches(&name)) {
            Some((_, policy)) => Some(Arc::clone(policy)),
            None if self.strict => None,
            None => Some(Arc::clone(&self.default)),
        }
    }

    /// Like `resolve`, falling back to the top level (for notifications about a stream).
    pub fn for_stream(&self, app: &str, stream: &str) -> Arc<StreamPolicy> {
        self.resolve(app, stream).unwrap_or_else(|| Arc::clone(&self.default))
    }

    /// What each distinct pair of key files holds (for the log).
    pub fn key_counts(&self) -> Vec<KeyCounts> {
        let mut seen: Vec<*const Auth> = Vec::new();
        let mut counts = Vec::new();
        for policy in self.all() {
            let ptr = Arc::as_ptr(&policy.auth);
            if policy.auth.enabled() && !seen.contains(&ptr) {
                seen.push(ptr);
                counts.push(policy.auth.counts());
            }
        }
        counts
    }

    /// Every distinct upload setting (top level and tables).
    pub fn upload_settings(&self) -> Vec<Arc<UploadOptions>> {
        let mut all: Vec<Arc<UploadOptions>> = Vec::new();
        for upload in self.all().filter_map(|p| p.upload.as_ref()) {
            if !all.iter().any(|u| u == upload) {
                all.push(Arc::clone(upload));
            }
        }
        all
    }

    /// Whether any policy runs an `--on-record-done` program.
    pub fn any_record_done_program(&self) -> bool {
        self.all().any(|p| p.record_done_program().is_some())
    }
}

fn stream_policy(config: &Config, origin: String, auths: &mut AuthCache) -> StreamPolicy {
    let ops = &config.ops;
    let pair = (ops.publish_keys.clone(), ops.play_keys.clone());
    let auth = Arc::clone(
        auths
            .entry(pair)
            .or_insert_with_key(|(publish, play)| Arc::new(Auth::new(publish.clone(), play.clone()))),
    );
    StreamPolicy {
        origin,
        record_all: config.record_all,
        recording: Arc::new(config.recording.clone()),
        push: config.push.clone(),
        auth,
        allow_publish: ops.allow_publish.clone(),
        publish_conflict: config.play.publish_conflict,
        play_wait_timeout: config.play.wait_timeout,
        play_coalesce: config.play.coalesce,
        hooks: Arc::new(config.hooks.clone()),
        upload: config.upload.clone().map(Arc::new),
        hls: config.hls,
        srt_passphrase_file: config.srt.passphrase_file.clone(),
    }
}

/// The policies in force; SIGHUP replaces them whole. Readers take a snapshot.
#[derive(Debug)]
pub struct PolicySwitch {
    current: RwLock<Arc<Policies>>,
    /// Reloads applied, and reloads that kept the running policies (for /metrics).
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
}

impl PolicySwitch {
    pub fn new(policies: Policies) -> PolicySwitch {
        PolicySwitch {
            current: RwLock::new(Arc::new(policies)),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        }
    }

    pub fn current(&self) -> Arc<Policies> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts `policies` in force (counted as a reload).
    pub fn replace(&self, policies: Policies) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policies);
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }
}

/// A hook target list for a hook resolver: the targets of `kind` for app/stream now.
pub fn hook_targets(switch: &PolicySwitch, app: &str, stream: &str) -> Arc<HookOptions> {
    Arc::clone(&switch.current().for_stream(app, stream).hooks)
}

/// The record-done program for app/stream now (the legacy `--on-record-done` pool).
pub fn record_done_program(switch: &PolicySwitch, app: &str, stream: &str) -> Option<PathBuf> {
    switch.current().for_stream(app, stream).record_done_program().cloned()
}

/// The upload settings for app/stream now (for the uploader's resolver).
pub fn upload_settings(switch: &PolicySwitch, app: &str, stream: &str) -> Option<Arc<UploadOptions>> {
    switch.current().for_stream(app, stream).upload.clone()
}
