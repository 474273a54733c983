//! The HLS threads and shared state: a feeder thread per live stream with HLS on (a
//! subscription like a push relay's: it never slows ingest; after an eviction it subscribes
//! again and resumes at a keyframe), the stores the HTTP routes read, and the viewer
//! sessions with a reaper thread that ends idle ones (`play_stopped`, so `on_play_done`
//! hooks and metrics see them).

use super::segmenter::{CutTargets, Segmenter};
use super::sessions::{Full, Session, Sessions, MAX_SESSIONS};
use super::store::Store;
use super::HlsOptions;
use crate::events::{Event, EventBus, Query, SessionEnd, StreamName};
use crate::live::drop_policy::DropPolicy;
use crate::live::registry::{Registry, StreamKey};
use crate::live::shared_media::SharedMedia;
use crate::live::stream::Stream;
use crate::live::subscription::{Subscriber, Subscription, SubscriptionEvent};
use crate::threads::ThreadTracker;
use crossbeam_channel::{Receiver, Sender};
use log::{info, warn};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// How long a feeder waits for a frame before it checks for its stop.
const FEED_POLL: Duration = Duration::from_millis(500);
/// A feeder's queue never evicts it for lag (it is fast; drops go to the next keyframe).
const FEED_MAX_LAG: Duration = Duration::from_secs(3600);
/// How long an ended stream's playlist and segments stay (players read to its end).
const ENDED_KEEP: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Running {
    stream: Arc<Stream>,
    store: Arc<Store>,
    /// Dropped to stop the feeder.
    stop: Option<Sender<()>>,
    ended_at: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    options: HlsOptions,
    registry: Arc<Registry>,
    events: Arc<EventBus>,
    policy: DropPolicy,
    streams: Mutex<HashMap<StreamKey, Running>>,
    sessions: Mutex<Sessions>,
    threads: ThreadTracker,
}

/// Why a viewer gets no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// HLS is not on for the stream, or nothing is published there.
    NoStream,
    /// [`MAX_SESSIONS`] viewers already.
    Full,
}

/// HLS for every stream that has it on.
#[derive(Debug)]
pub struct HlsService {
    inner: Arc<Inner>,
}

impl HlsService {
    /// The service; its session reaper runs while the service exists.
    pub fn new(options: HlsOptions, registry: Arc<Registry>, policy: DropPolicy, events: Arc<EventBus>) -> HlsService {
        let inner = Arc::new(Inner {
            options,
            registry,
            events,
            policy: DropPolicy {
                max_lag: FEED_MAX_LAG,
                ..policy
            },
            streams: Mutex::new(HashMap::new()),
            sessions: Mutex::new(Sessions::default()),
            threads: ThreadTracker::new(),
        });
        let weak = Arc::downgrade(&inner);
        let tick = (options.session_idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        if let Err(e) = std::thread::Builder::new()
            .name("hls-reaper".into())
            .spawn(move || reap(&weak, tick))
        {
            warn!("HLS session reaper not started error=\"{e}\"");
        }
        HlsService { inner }
    }

    pub fn options(&self) -> &HlsOptions {
        &self.inner.options
    }

    /// A stream was published (on the publisher's thread, before its first frame): starts
    /// its feeder when `enabled`, unless one runs for this stream already (a takeover).
    pub fn stream_published(&self, key: &StreamKey, stream: &Arc<Stream>, enabled: bool) {
        if !enabled {
            return;
        }
        let inner = &self.inner;
        let mut streams = inner.streams();
        if let Some(existing) = streams.get(key) {
            if Arc::ptr_eq(&existing.stream, stream) && existing.stop.is_some() {
                return;
            }
        }
        let options = inner.options;
        let store = Arc::new(Store::new(options.window, options.max_stream_bytes));
        let conn_id = inner.registry.next_id();
        let subscription = Subscription::join(&inner.registry, stream, conn_id, inner.policy, Subscriber::Push);
        let (stop, stop_rx) = crossbeam_channel::bounded(0);
        let feeder = Feeder {
            registry: Arc::clone(&inner.registry),
            stream: Arc::clone(stream),
            policy: inner.policy,
            store: Arc::clone(&store),
            targets: CutTargets {
                segment_ms: options.segment.as_millis() as u64,
                part_ms: options.part.as_millis() as u64,
            },
            stop: stop_rx,
        };
        let name = format!("hls-{conn_id}");
        if let Err(e) = inner.threads.spawn(name, move || feeder.run(subscription)) {
            warn!("HLS not started app={} stream={} error=\"{e}\"", key.app, key.stream);
            return;
        }
        info!("HLS started app={} stream={}", key.app, key.stream);
        streams.insert(
            key.clone(),
            Running {
                stream: Arc::clone(stream),
                store,
                stop: Some(stop),
                ended_at: None,
            },
        );
    }

    /// A publish ended: stops the stream's feeder unless a new publisher took over; the
    /// playlist ends and stays a while for the players reading it.
    pub fn stream_ended(&self, stream: &Arc<Stream>) {
        let mut streams = self.inner.streams();
        if let Some(running) = streams.get_mut(&stream.key) {
            if Arc::ptr_eq(&running.stream, stream) && stream.publisher().is_none() {
                running.stop = None;
                running.ended_at = Some(Instant::now());
            }
        }
    }

    /// The store of app/stream, if HLS runs (or ran lately) for it.
    pub fn store(&self, key: &StreamKey) -> Option<Arc<Store>> {
        self.inner.streams().get(key).map(|r| Arc::clone(&r.store))
    }

    /// Opens a session for an allowed viewer of a stream with HLS (its id goes in every URI).
    pub fn open_session(
        &self,
        key: &StreamKey,
        conn_id: u64,
        remote: SocketAddr,
        query: &str,
    ) -> Result<String, SessionRefusal> {
        if self.store(key).is_none() {
            return Err(SessionRefusal::NoStream);
        }
        let id = session_id(conn_id);
        let now = Instant::now();
        let session = Session {
            app: key.app.clone(),
            stream: key.stream.clone(),
            conn_id,
            remote,
            query: query.to_owned(),
            started: now,
            last_seen: now,
            bytes: 0,
        };
        self.inner
            .sessions()
            .open(id.clone(), session, MAX_SESSIONS)
            .map_err(|Full| SessionRefusal::Full)?;
        info!(
            "hls play conn_id={conn_id} remote={remote} app={} stream={}",
            key.app, key.stream
        );
        self.inner.events.emit(Event::PlayStarted {
            name: StreamName::new(&key.app, &key.stream),
            conn_id,
            remote,
            query: Query(query.to_owned()),
        });
        Ok(id)
    }

    /// Marks the session `id` of app/stream seen (`bytes` more sent); false if unknown.
    pub fn touch(&self, id: &str, key: &StreamKey, bytes: u64) -> bool {
        self.inner
            .sessions()
            .touch(id, &key.app, &key.stream, Instant::now(), bytes)
            .is_some()
    }

    /// Whether app/stream is served as HLS now (its feeder runs).
    pub fn serving(&self, app: &str, stream: &str) -> bool {
        let key = StreamKey {
            app: app.to_owned(),
            stream: stream.to_owned(),
        };
        self.inner.streams().get(&key).is_some_and(|r| r.stop.is_some())
    }

    /// Sessions watching app/stream (each counts as one player).
    pub fn players(&self, app: &str, stream: &str) -> usize {
        self.inner.sessions().count(app, stream)
    }

    /// Sessions of every stream.
    pub fn sessions(&self) -> usize {
        self.inner.sessions().len()
    }

    /// Ends every session (shutdown).
    pub fn end_all(&self) {
        let gone = self.inner.sessions().drain();
        self.inner.ended(gone, "shutdown");
    }
}

impl Inner {
    fn streams(&self) -> MutexGuard<'_, HashMap<StreamKey, Running>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ended(&self, sessions: Vec<Session>, reason: &str) {
        for s in sessions {
            info!(
                "hls play ended conn_id={} app={} stream={} reason=\"{reason}\" bytes={}",
                s.conn_id, s.app, s.stream, s.bytes
            );
            self.events.emit(Event::PlayStopped {
                name: StreamName::new(&s.app, &s.stream),
                end: SessionEnd {
                    conn_id: s.conn_id,
                    reason: reason.to_owned(),
                    remote: s.remote,
                    query: Query(s.query),
                    duration_ms: s.last_seen.saturating_duration_since(s.started).as_millis() as u64,
                    bytes: s.bytes,
                },
            });
        }
    }
}

/// Ends idle sessions and forgets ended streams, every `tick`, while the service exists.
fn reap(inner: &Weak<Inner>, tick: Duration) {
    loop {
        std::thread::sleep(tick);
        let Some(inner) = inner.upgrade() else { return };
        let now = Instant::now();
        let gone = inner.sessions().expire(now, inner.options.session_idle);
        inner.ended(gone, "idle");
        inner.streams().retain(|_, r| {
            r.ended_at
                .is_none_or(|at| now.saturating_duration_since(at) < ENDED_KEEP)
        });
    }
}

/// 128 unguessable bits (the kernel's random source) as hex; the connection id and the
/// time if it cannot be read (never expected on Linux).
fn session_id(conn_id: u64) -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        use sha2::Digest;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let digest = sha2::Sha256::digest(format!("{conn_id}:{nanos}:{:p}", &bytes).as_bytes());
        bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One stream's feeder: subscription in, store out.
struct Feeder {
    registry: Arc<Registry>,
    stream: Arc<Stream>,
    policy: DropPolicy,
    store: Arc<Store>,
    targets: CutTargets,
    stop: Receiver<()>,
}

impl Feeder {
    fn run(self, mut subscription: Subscription) {
        let mut segmenter = Segmenter::new(self.targets);
        let mut out = Vec::new();
        // After a new subscription, frames up to here were segmented already.
        let mut seen_until: Option<u32> = None;
        let mut last = None;
        let mut take =
            |media: &SharedMedia, segmenter: &mut Segmenter, seen_until: &mut Option<u32>, last: &mut Option<u32>| {
                if !media.sequence_header && seen_until.is_some_and(|t| media.timestamp <= t) {
                    return;
                }
                *seen_until = None;
                let frame = media.frame();
                if !frame.sequence_header {
                    *last = Some(frame.timestamp);
                }
                segmenter.push(&frame, &mut out);
                self.store.apply(out.drain(..));
            };
        while let Some(event) = subscription.next_event_or_stop(&self.stop, FEED_POLL) {
            match event {
                SubscriptionEvent::Media(media) => take(&media, &mut segmenter, &mut seen_until, &mut last),
                SubscriptionEvent::Evicted(reason) => {
                    warn!(
                        "HLS subscribes again app={} stream={} reason={}",
                        self.stream.key.app,
                        self.stream.key.stream,
                        reason.as_str()
                    );
                    let mut held = Vec::new();
                    segmenter.discontinuity(&mut held);
                    self.store.apply(held);
                    seen_until = last;
                    // A new id: the old membership leaves the stream by its own id when dropped.
                    let id = self.registry.next_id();
                    subscription = Subscription::join(&self.registry, &self.stream, id, self.policy, Subscriber::Push);
                }
                SubscriptionEvent::Ended => break,
                SubscriptionEvent::Idle | SubscriptionEvent::Published | SubscriptionEvent::Unpublished => {}
            }
        }
        // Stopped: what the stream delivered before its end still goes in.
        while let Some(SubscriptionEvent::Media(media)) = subscription.try_next_event() {
            take(&media, &mut segmenter, &mut seen_until, &mut last);
        }
        let mut held = Vec::new();
        segmenter.finish(&mut held);
        self.store.apply(held);
        self.store.end();
        info!(
            "HLS ended app={} stream={}",
            self.stream.key.app, self.stream.key.stream
        );
    }
}
