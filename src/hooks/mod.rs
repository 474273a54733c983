//! Hooks (issue 14): webhooks and programs told about connects, publishes, plays and
//! recordings. `on_publish`/`on_play` decide ([`decider::HookDecider`], a `Decider`); the other
//! events are notifications ([`observer::NotifyObserver`], an event observer). Targets
//! starting with `http://` or `https://` are webhooks (`webhook`), anything else a program
//! (`exec`). `stats` counts outcomes and keeps recent failures.

pub mod decider;
pub mod exec;
pub mod observer;
pub mod pool;
pub mod stats;
pub mod webhook;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Default `--hook-timeout`: a webhook or program answering later than this fails (and refuses).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `--hook-retries`: notification webhooks are tried again this many times.
pub const DEFAULT_HOOK_RETRIES: u32 = 3;

/// One hook target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Webhook(String),
    Program(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Webhook(url) => write!(f, "{}", webhook::redact_url(url)),
            Target::Program(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Parses a `--on-*` value: a webhook URL or a program.
pub fn parse_target(value: &str) -> Result<Target, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("expected an http:// or https:// URL or a program".to_owned());
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // Checked now: a URL the client rejects later would be echoed in its error (and
        // so in the log and /api/hooks), query and all.
        let uri: ureq::http::Uri = value.parse().map_err(|_| "not a valid URL".to_owned())?;
        if uri.host().is_none_or(str::is_empty) {
            return Err("the URL has no host".to_owned());
        }
        Ok(Target::Webhook(value.to_owned()))
    } else {
        Ok(Target::Program(PathBuf::from(value)))
    }
}

/// The `--hook-secret-file` secret (its first line); Debug shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSecret(pub Vec<u8>);

impl fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HookSecret(***)")
    }
}

/// Reads `--hook-secret-file`: its first line without the line ending, not empty.
pub fn parse_secret_file(value: &str) -> Result<HookSecret, String> {
    let text = std::fs::read_to_string(value).map_err(|e| format!("cannot read {value}: {e}"))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!("{value}: the first line (the secret) is empty"));
    }
    Ok(HookSecret(line.as_bytes().to_vec()))
}

/// Parses `--hook-timeout` (e.g. 5s, 500ms; more than zero).
pub fn parse_hook_timeout(value: &str) -> Result<Duration, String> {
    let d = crate::record::options::parse_duration(value)?;
    if d.is_zero() {
        return Err("must be more than 0".to_owned());
    }
    Ok(d)
}

/// The hook events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookKind {
    Connect,
    Publish,
    PublishDone,
    Play,
    PlayDone,
    RecordDone,
    UploadDone,
}

impl HookKind {
    pub const ALL: [HookKind; 7] = [
        HookKind::Connect,
        HookKind::Publish,
        HookKind::PublishDone,
        HookKind::Play,
        HookKind::PlayDone,
        HookKind::RecordDone,
        HookKind::UploadDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Connect => "connect",
            HookKind::Publish => "publish",
            HookKind::PublishDone => "publish_done",
            HookKind::Play => "play",
            HookKind::PlayDone => "play_done",
            HookKind::RecordDone => "record_done",
            HookKind::UploadDone => "upload_done",
        }
    }
}

/// The hook flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOptions {
    pub on_connect: Vec<Target>,
    pub on_publish: Vec<Target>,
    pub on_publish_done: Vec<Target>,
    pub on_play: Vec<Target>,
    pub on_play_done: Vec<Target>,
    /// Webhooks (and programs after the first) of `--on-record-done`; its first program runs
    /// on the record hook pool as before (`record::hook`).
    pub on_record_done: Vec<Target>,
    pub on_upload_done: Vec<Target>,
    pub timeout: Duration,
    pub retries: u32,
    pub secret: Option<HookSecret>,
}

impl HookOptions {
    pub fn targets(&self, kind: HookKind) -> &[Target] {
        match kind {
            HookKind::Connect => &self.on_connect,
            HookKind::Publish => &self.on_publish,
            HookKind::PublishDone => &self.on_publish_done,
            HookKind::Play => &self.on_play,
            HookKind::PlayDone => &self.on_play_done,
            HookKind::RecordDone => &self.on_record_done,
            HookKind::UploadDone => &self.on_upload_done,
        }
    }
}

/// What a hook is told: the webhook body's and the program environment's fields.
#[derive(Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub kind: HookKind,
    pub app: String,
    pub stream: String,
    /// The raw query string (may carry the client's key): sent, never logged.
    pub query: String,
    pub client_addr: Option<SocketAddr>,
    pub conn_id: Option<u64>,
    /// RFC 3339, UTC.
    pub time: String,
    pub path: Option<PathBuf>,
    pub duration_ms: Option<u64>,
    pub bytes: Option<u64>,
    /// The object's URL (`upload_done`).
    pub url: Option<String>,
}

impl fmt::Debug for HookEvent {
    /// Leaves the query out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookEvent")
            .field("kind", &self.kind)
            .field("app", &self.app)
            .field("stream", &self.stream)
            .field("conn_id", &self.conn_id)
            .finish_non_exhaustive()
    }
}

impl HookEvent {
    /// An event of `kind` now, with no per-event fields yet.
    pub fn new(kind: HookKind, app: &str, stream: &str, query: &str) -> HookEvent {
        HookEvent {
            kind,
            app: app.to_owned(),
            stream: stream.to_owned(),
            query: query.to_owned(),
            client_addr: None,
            conn_id: None,
            time: now_rfc3339(),
            path: None,
            duration_ms: None,
            bytes: None,
            url: None,
        }
    }

    /// `app=… stream=… conn_id=…` for log lines (never the query).
    pub fn label(&self) -> String {
        let conn = self.conn_id.map(|id| format!(" conn_id={id}")).unwrap_or_default();
        format!(
            "event={} app={} stream={}{conn}",
            self.kind.as_str(),
            self.app,
            self.stream
        )
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Why one hook call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// The webhook answered with a status that is not 2xx.
    Status(u16),
    /// No connection, a broken one, or a bad URL.
    Connection(String),
    /// No answer (or no exit) within `--hook-timeout`.
    Timeout,
    /// The program exited with a failure (or was killed by a signal).
    Exit(String),
    /// The program could not be found or started.
    Start(String),
    /// The hook's queue was full.
    QueueFull,
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::Status(code) => write!(f, "status {code}"),
            HookError::Connection(e) => write!(f, "connection failed: {e}"),
            HookError::Timeout => write!(f, "timed out"),
            HookError::Exit(status) => write!(f, "program failed: {status}"),
            HookError::Start(e) => write!(f, "program not started: {e}"),
            HookError::QueueFull => write!(f, "queue full"),
        }
    }
}

impl std::error::Error for HookError {}

/// Runs one target once for `event`: Ok when it allows (2xx, exit 0).
pub fn call(target: &Target, event: &HookEvent, settings: &Settings) -> Result<(), HookError> {
    match target {
        Target::Webhook(url) => webhook::post(&settings.agent, url, event, settings.secret.as_ref()),
        Target::Program(program) => exec::run(program, event, settings.timeout),
    }
}

/// The hooks of a stream by app and stream name: its policy's targets (see `policy`).
pub type TargetsFor = Arc<dyn Fn(&str, &str) -> Arc<HookOptions> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct Settings {
    pub agent: ureq::Agent,
    pub timeout: Duration,
    pub retries: u32,
    pub secret: Option<HookSecret>,
    pub stats: Arc<stats::HookStats>,
}

impl Settings {
    pub fn new(options: &HookOptions, stats: Arc<stats::HookStats>) -> Settings {
        Settings {
            agent: webhook::agent(options.timeout),
            timeout: options.timeout,
            retries: options.retries,
            secret: options.secret.clone(),
            stats,
        }
    }
}

/// At shutdown, decision workers still in a call get this long to end.
pub const DECIDE_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The running hooks, as the server's context holds them.
pub struct Hooks {
    /// `on_publish` / `on_play`: the decision point's later stage.
    pub decider: Option<Arc<dyn crate::decision::Decider>>,
    /// The same decider, to stop its workers at shutdown.
    deciding: Option<Arc<decider::HookDecider>>,
    pub stats: Arc<stats::HookStats>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("decider", &self.decider.is_some())
            .finish_non_exhaustive()
    }
}

impl Hooks {
    /// Starts the notification observer on `events` and the decider. `options` gives the
    /// timeout, retries and secret; `targets_for` each stream's targets (which a reload may
    /// change, so both run even while no stream has any).
    pub fn start(options: &HookOptions, events: &crate::events::EventBus, targets_for: TargetsFor) -> Hooks {
        let stats = Arc::new(stats::HookStats::new());
        let settings = Settings::new(options, Arc::clone(&stats));
        let observer = observer::NotifyObserver::new(Arc::clone(&targets_for), settings.clone());
        if let Err(e) = events.observe(Box::new(observer)) {
            log::error!("event observer not started observer=hooks error=\"{e}\"");
        }
        let deciding = Arc::new(decider::HookDecider::new(targets_for, settings));
        let decider: Arc<dyn crate::decision::Decider> = Arc::clone(&deciding) as Arc<dyn crate::decision::Decider>;
        Hooks {
            decider: Some(decider),
            deciding: Some(deciding),
            stats,
        }
    }

    /// At shutdown, once no connection asks any more: stops the decision workers (bounded
    /// by [`DECIDE_SHUTDOWN_GRACE`]); true when none is left. (The notifications stop with
    /// the event bus.)
    pub fn shutdown(&self) -> bool {
        self.deciding
            .as_ref()
            .is_none_or(|decider| decider.close(DECIDE_SHUTDOWN_GRACE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_webhooks_by_scheme_else_programs() {
        assert_eq!(parse_target("http://h/x"), Ok(Target::Webhook("http://h/x".into())));
        assert_eq!(parse_target("HTTPS://h"), Ok(Target::Webhook("HTTPS://h".into())));
        assert_eq!(parse_target("notify"), Ok(Target::Program("notify".into())));
        assert_eq!(
            parse_target("/bin/http://x"),
            Ok(Target::Program("/bin/http://x".into()))
        );
        assert!(parse_target(" ").is_err());
        assert!(parse_target("http:///hook?token=x").is_err(), "no host");
        assert!(parse_target("http://h ost/").is_err());
        assert!(parse_target("https://u:p@h:8443/a?b=c").is_ok());
    }

    #[test]
    fn the_query_never_shows_in_debug() {
        let event = HookEvent::new(HookKind::Publish, "live", "cam", "key=SECRET");
        assert!(!format!("{event:?}").contains("SECRET"));
        assert!(!event.label().contains("SECRET"));
    }
}
