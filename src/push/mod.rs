//! Push relay (`--push URL`): every published stream is also sent to each upstream URL by a
//! push thread of its own that reads the stream like a player (shared frames, bounded queue,
//! keyframe-aware drop), so ingest, recording, players and other pushes never wait for it.
//! Pushes start when a stream is published, survive a publisher takeover (the stream's
//! timeline continues) and stop when the stream ends, the way it ended: a clean unpublish
//! is passed upstream (FCUnpublish, deleteStream), a lost publisher only closes the upstream
//! connection, so an upstream that parks recordings for reconnects (as this server does) can
//! continue its file when the publisher returns. `backoff`, `timeline` and `options`
//! are pure; `pusher` is the thread; `status` feeds the API and /metrics.

pub mod backoff;
pub mod options;
mod pusher;
pub mod status;
pub mod timeline;

use crate::events::EventBus;
use crate::live::drop_policy::DropPolicy;
use crate::live::registry::{Registry, StreamKey};
use crate::live::stream::Stream;
use crate::threads::ThreadTracker;
use crossbeam_channel::Sender;
use log::warn;
use options::PushOptions;
use status::{PushSnapshot, PushStatus};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use pusher::PUSH_TIMEOUT;

/// How long shutdown waits for pushes to send what they hold and unpublish.
pub const PUSH_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// One running push of a stream.
#[derive(Debug)]
struct RunningPush {
    status: Arc<PushStatus>,
    /// Dropped to stop the push.
    stop: Sender<()>,
    /// Set before the stop: the publisher unpublished cleanly.
    clean_end: Arc<AtomicBool>,
}

#[derive(Debug)]
struct StreamPushes {
    stream: Arc<Stream>,
    pushes: Vec<RunningPush>,
}

/// The pushes of every live stream. Lock order: this lock, then the registry's, then a
/// stream's; nothing takes this lock while holding those.
#[derive(Debug)]
pub struct PushManager {
    registry: Arc<Registry>,
    /// The queue budget of each push's subscription.
    policy: DropPolicy,
    /// Told when a push connects to or loses its upstream.
    events: Arc<EventBus>,
    /// `--push-ca`, for rtmps:// targets.
    push_ca: Option<std::path::PathBuf>,
    /// Verifies rtmps:// targets (system roots plus --push-ca), made at the first one; None
    /// inside when the roots could not be loaded (logged).
    tls: std::sync::OnceLock<Option<Arc<rustls::ClientConfig>>>,
    running: Mutex<HashMap<StreamKey, StreamPushes>>,
    threads: ThreadTracker,
}

impl PushManager {
    pub fn new(
        push_ca: Option<&std::path::Path>,
        registry: Arc<Registry>,
        policy: DropPolicy,
        events: Arc<EventBus>,
    ) -> PushManager {
        PushManager {
            push_ca: push_ca.map(std::path::Path::to_path_buf),
            registry,
            policy,
            events,
            tls: std::sync::OnceLock::new(),
            running: Mutex::new(HashMap::new()),
            threads: ThreadTracker::new(),
        }
    }

    /// The client configuration rtmps:// pushes verify their upstream with.
    pub fn tls_config(&self) -> Option<&Arc<rustls::ClientConfig>> {
        self.tls
            .get_or_init(|| match crate::tls::client_config(self.push_ca.as_deref()) {
                Ok(config) => Some(config),
                Err(e) => {
                    log::error!("rtmps:// pushes cannot verify their upstream error=\"{e}\"");
                    None
                }
            })
            .as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<StreamKey, StreamPushes>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stream was published: starts its pushes, unless they already run (a takeover or
    /// republish of a stream whose pushes never stopped). Called before its first frame.
    /// `options`: the push targets of the stream's policy.
    pub fn stream_published(&self, key: &StreamKey, stream: &Arc<Stream>, options: &PushOptions) {
        if options.targets.is_empty() {
            return;
        }
        let mut running = self.lock();
        if let Some(existing) = running.get(key) {
            if Arc::ptr_eq(&existing.stream, stream) {
                return;
            }
        }
        if let Some(stale) = running.remove(key) {
            stop_all(stale, true);
        }
        let pushes = options
            .targets
            .iter()
            .filter_map(|target| {
                let url = match target.url_for(&key.app, &key.stream) {
                    Ok(url) => url,
                    Err(e) => {
                        warn!(
                            "push not started app={} stream={} error=\"URL after substitution: {e}\"",
                            key.app, key.stream
                        );
                        return None;
                    }
                };
                self.spawn(key, stream, url, target.show_stream)
            })
            .collect();
        running.insert(
            key.clone(),
            StreamPushes {
                stream: Arc::clone(stream),
                pushes,
            },
        );
    }

    fn spawn(
        &self,
        key: &StreamKey,
        stream: &Arc<Stream>,
        url: crate::client::url::RtmpUrl,
        show_stream: bool,
    ) -> Option<RunningPush> {
        let conn_id = self.registry.next_id();
        let url_is_tls = url.tls;
        let status = Arc::new(PushStatus::new(&key.app, &key.stream, url.redacted(show_stream)));
        let (stop, stop_rx) = crossbeam_channel::bounded(0);
        let clean_end = Arc::new(AtomicBool::new(false));
        // Subscribed now, on the publisher's thread, so no frame is published before it.
        let subscription = pusher::subscribe(&self.registry, stream, conn_id, self.policy);
        let pusher = pusher::Pusher {
            registry: Arc::clone(&self.registry),
            stream: Arc::clone(stream),
            policy: self.policy,
            tls: if url_is_tls { self.tls_config().cloned() } else { None },
            events: Arc::clone(&self.events),
            conn_id,
            url,
            status: Arc::clone(&status),
            stop: stop_rx,
            clean_end: Arc::clone(&clean_end),
        };
        match self
            .threads
            .spawn(format!("push-{conn_id}"), move || pusher.run(subscription))
        {
            Ok(_) => Some(RunningPush {
                status,
                stop,
                clean_end,
            }),
            Err(e) => {
                // The closure (and the subscription in it) is gone: the push left the stream.
                warn!(
                    "push not started app={} stream={} url={} error=\"{e}\"",
                    key.app, key.stream, status.url
                );
                None
            }
        }
    }

    /// A publish ended (`clean`: by unpublish): stops the stream's pushes unless a new
    /// publisher took over. Each sends what it holds, unpublishes upstream if `clean`, ends.
    pub fn stream_ended(&self, stream: &Arc<Stream>, clean: bool) {
        let mut running = self.lock();
        let ours = running
            .get(&stream.key)
            .is_some_and(|pushes| Arc::ptr_eq(&pushes.stream, stream));
        if ours && stream.publisher().is_none() {
            if let Some(pushes) = running.remove(&stream.key) {
                stop_all(pushes, clean);
            }
        }
    }

    /// Every push's status, by app, stream and URL.
    pub fn snapshot(&self) -> Vec<PushSnapshot> {
        let mut all: Vec<PushSnapshot> = self
            .lock()
            .values()
            .flat_map(|s| s.pushes.iter().map(|p| p.status.snapshot()))
            .collect();
        all.sort_by(|a, b| (&a.app, &a.stream, &a.url).cmp(&(&b.app, &b.stream, &b.url)));
        all
    }

    /// At shutdown (after the connections ended, which stopped every push): waits a little
    /// for pushes to unpublish upstream. True if all ended.
    pub fn wait_stopped(&self) -> bool {
        self.threads.wait_idle(PUSH_SHUTDOWN_GRACE)
    }
}

fn stop_all(pushes: StreamPushes, clean: bool) {
    for push in pushes.pushes {
        push.clean_end.store(clean, Ordering::SeqCst);
        // Wakes the push: it sends what is queued, leaves the stream and ends.
        drop(push.stop);
    }
}
