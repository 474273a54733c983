//! State shared by the listener and every connection thread: configuration, the stream
//! registry, the shutdown flag, open sockets (to close them on shutdown) and thread counts.

use super::reconnect::{ReconnectMailbox, ReconnectOrder, ReconnectRefusal};
use crate::config::Config;
use crate::events::recent::{RecentEvents, RecentEventsObserver};
use crate::events::{Event, EventBus};
use crate::live::registry::Registry;
use crate::ops::event_counts::{EventCounts, EventCountsObserver};
use crate::policy::{Policies, PolicySwitch};
use crate::record::manager::RecordManager;
use crate::threads::ThreadTracker;
use std::collections::HashMap;
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use time::UtcOffset;

/// Starts the observer that keeps the latest events for the API.
fn observe_recent(events: &EventBus) -> Arc<RecentEvents> {
    let recent = RecentEvents::new();
    if let Err(e) = events.observe(Box::new(RecentEventsObserver(Arc::clone(&recent)))) {
        log::error!("event observer not started observer=recent error=\"{e}\"");
    }
    recent
}

/// Starts the uploader when some policy uploads (a reload that adds the first needs a restart).
fn start_uploads(
    config: &Config,
    policies: &Arc<PolicySwitch>,
    events: &Arc<EventBus>,
) -> Option<crate::upload::Uploader> {
    if policies.current().upload_settings().is_empty() {
        return None;
    }
    let settings_for: crate::upload::SettingsFor = {
        let policies = Arc::clone(policies);
        Arc::new(move |app: &str, stream: &str| crate::policy::upload_settings(&policies, app, stream))
    };
    let all: crate::upload::AllSettings = {
        let policies = Arc::clone(policies);
        Arc::new(move || policies.current().upload_settings())
    };
    Some(crate::upload::Uploader::start(
        &config.record_dir,
        events,
        settings_for,
        all,
    ))
}

#[derive(Debug)]
pub struct ServerContext {
    pub config: Config,
    pub registry: Arc<Registry>,
    pub metrics: crate::ops::metrics::Metrics,
    pub started: Instant,
    /// Offset used for wall-clock file names (local time when known, else UTC).
    pub local_offset: UtcOffset,
    pub connection_threads: ThreadTracker,
    pub recorder_threads: ThreadTracker,
    /// Which streams record, and recordings parked across reconnects.
    pub recordings: RecordManager,
    /// What applies to each stream: the top level's and the `[[app]]` tables' settings,
    /// key files included (replaced on SIGHUP).
    pub policies: Arc<PolicySwitch>,
    /// The HTTP API's bearer token (reloaded on SIGHUP).
    pub http_token: crate::ops::token::HttpToken,
    /// Marks the accept loop's trips into accept() (for the systemd watchdog).
    pub accept_heartbeat: crate::ops::watchdog::AcceptHeartbeat,
    /// `--push` relays of live streams.
    pub pushes: crate::push::PushManager,
    /// `--hls`: segments, playlists and viewer sessions of the streams with HLS on.
    pub hls: crate::hls::HlsService,
    /// What happened (publishes, plays, recordings, pushes, kicks), for the observers.
    pub events: Arc<EventBus>,
    /// The latest events, for the API.
    pub recent_events: Arc<RecentEvents>,
    /// Events counted by kind, for /metrics.
    pub event_counts: Arc<EventCounts>,
    /// Webhooks and programs (`--on-*`): the publish/play decider and the notifications.
    pub hooks: crate::hooks::Hooks,
    /// Supervised source commands (`[[source]]`), started by the binary.
    pub sources: crate::sources::Sources,
    /// Uploads of finished recordings (`--upload`), when some policy has them at start.
    pub uploads: Option<crate::upload::Uploader>,
    shutting_down: AtomicBool,
    sockets: Mutex<HashMap<u64, (TcpStream, IpAddr)>>,
    kick_reasons: Mutex<HashMap<u64, &'static str>>,
    /// Reconnect requests waiting for their publisher's thread.
    pub(super) reconnects: ReconnectMailbox,
}

impl ServerContext {
    pub fn new(config: Config, local_offset: UtcOffset) -> Self {
        let recorder_threads = ThreadTracker::new();
        let events = Arc::new(EventBus::new());
        let recent_events = observe_recent(&events);
        let event_counts = EventCounts::new();
        if let Err(e) = events.observe(Box::new(EventCountsObserver(Arc::clone(&event_counts)))) {
            log::error!("event observer not started observer=metrics error=\"{e}\"");
        }
        let policies = Arc::new(PolicySwitch::new(Policies::build(&config).unwrap_or_else(|e| {
            log::error!("key file unreadable, key checks fail until a reload error=\"{e}\"");
            Policies::fail_closed(&config)
        })));
        let targets_for: crate::hooks::TargetsFor = {
            let policies = Arc::clone(&policies);
            Arc::new(move |app: &str, stream: &str| crate::policy::hook_targets(&policies, app, stream))
        };
        let hooks = crate::hooks::Hooks::start(&config.hooks, &events, targets_for);
        // The record-done pool runs when some policy has a program at start (a reload that
        // adds the first one needs a restart).
        let program_for: Option<crate::record::hook::ProgramFor> =
            policies.current().any_record_done_program().then(|| {
                let policies = Arc::clone(&policies);
                let program_for: crate::record::hook::ProgramFor =
                    Arc::new(move |app: &str, stream: &str| crate::policy::record_done_program(&policies, app, stream));
                program_for
            });
        let sources = crate::sources::Sources::new(config.sources.clone());
        if let Err(e) = events.observe(sources.observer()) {
            log::error!("event observer not started observer=sources error=\"{e}\"");
        }
        let recordings = RecordManager::new(
            config.record_dir.clone(),
            config.recording.clone(),
            local_offset,
            config.limits.record_queue_bytes,
            recorder_threads.clone(),
            Arc::clone(&events),
            program_for,
        );
        let uploads = start_uploads(&config, &policies, &events);
        if let Some(uploads) = &uploads {
            let uploads = uploads.clone();
            let guard =
                crate::record::retention::DeleteGuard(Arc::new(move |path: &std::path::Path| uploads.may_delete(path)));
            let _ = recordings.shared().delete_guard.set(guard);
        }
        // Without the HTTP API the token file has nothing to guard: never read.
        let token_file = config.http_listen.and_then(|_| config.ops.http_token_file.clone());
        let http_token = crate::ops::token::HttpToken::new(token_file);
        let registry = Arc::new(Registry::new(config.play.gop_cache_bytes));
        let pushes = crate::push::PushManager::new(
            config.tls.push_ca.as_deref(),
            Arc::clone(&registry),
            config.play.player,
            Arc::clone(&events),
        );
        let hls = crate::hls::HlsService::new(
            config.hls_options,
            Arc::clone(&registry),
            config.play.player,
            Arc::clone(&events),
        );
        ServerContext {
            config,
            hls,
            registry,
            metrics: crate::ops::metrics::Metrics::default(),
            started: Instant::now(),
            local_offset,
            connection_threads: ThreadTracker::new(),
            recorder_threads,
            recordings,
            policies,
            http_token,
            accept_heartbeat: Default::default(),
            pushes,
            recent_events,
            event_counts,
            hooks,
            sources,
            uploads,
            events,
            shutting_down: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            kick_reasons: Mutex::new(HashMap::new()),
            reconnects: ReconnectMailbox::default(),
        }
    }

    /// One watchdog check of the running server: its shared locks can be taken (this blocks
    /// if they are deadlocked) and its accept loop is alive.
    pub fn alive(&self, liveness: &mut crate::ops::watchdog::Liveness) -> bool {
        let _ = self.open_connections();
        let _ = self.registry.stream_count();
        liveness.check(&self.accept_heartbeat, self.is_shutting_down())
    }

    pub fn next_conn_id(&self) -> u64 {
        self.registry.next_id()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Marks shutdown; returns false if it was already marked.
    pub fn begin_shutdown(&self) -> bool {
        !self.shutting_down.swap(true, Ordering::SeqCst)
    }

    pub fn open_connections(&self) -> usize {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Open connections from this address (for --max-connections-per-ip).
    pub fn connections_from(&self, ip: IpAddr) -> usize {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.values().filter(|(_, from)| *from == ip).count()
    }

    /// Keeps a handle of the connection's socket so shutdown can close it.
    pub fn register_socket(&self, conn_id: u64, socket: TcpStream, remote: IpAddr) {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn_id, (socket, remote));
    }

    /// Closes another connection (taken-over publisher, player too far behind); its thread
    /// ends and logs `reason`. An id without a socket (gone already, or a push) is ignored,
    /// so no reason is kept for a connection that will never take it.
    pub fn kick(&self, conn_id: u64, reason: &'static str) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let Some((socket, _)) = sockets.get(&conn_id) else {
            return;
        };
        self.kick_reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn_id, reason);
        let _ = socket.shutdown(Shutdown::Both);
        drop(sockets);
        self.events.emit(Event::Kicked { conn_id, reason });
    }

    /// Why this connection was kicked, if it was.
    pub fn take_kick_reason(&self, conn_id: u64) -> Option<&'static str> {
        self.kick_reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn_id)
    }

    pub fn unregister_socket(&self, conn_id: u64) {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.remove(&conn_id);
        // Under the sockets lock: `request_reconnect` posts only for registered connections.
        let _ = self.reconnects.take(conn_id);
    }

    /// Asks publishing connection `conn_id` to reconnect (Enhanced RTMP v2); its thread
    /// sends the request between two reads, at most `REQUEST_POLL_INTERVAL` later.
    pub fn request_reconnect(&self, conn_id: u64, order: ReconnectOrder) -> Result<(), ReconnectRefusal> {
        let publishing = self.registry.publishers().contains(&conn_id);
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if !sockets.contains_key(&conn_id) {
            return Err(ReconnectRefusal::NoSuchConnection);
        }
        if !publishing {
            return Err(ReconnectRefusal::NotPublishing);
        }
        self.reconnects.post(conn_id, order);
        Ok(())
    }

    /// Shuts down every open socket's read side so connection threads see end-of-stream
    /// and finish (finalizing their recordings).
    pub fn close_all_sockets(&self) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        for (socket, _) in sockets.values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
