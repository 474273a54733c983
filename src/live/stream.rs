//! One live stream: who publishes it (by generation, so a taken-over publisher's late frames
//! are ignored), its timeline (monotonic across republishes), the headers and GOP cache a new
//! player starts from, and its players. The stream's lock guards these fields only, never
//! I/O: each player sits behind a lock of its own, and the publisher's thread offers a frame
//! (a non-blocking send, or a queue push) to each player after releasing the stream's lock.

use super::bitrate::BitrateWindow;
use super::coalesce::Coalescer;
use super::fanout::{fan_out, PlayerSlot};
pub use super::fanout::{DeliveryReport, RemovedPlayer};
use super::player::{PlayerHandle, SharedMedia, StreamNotice};
use crate::media::describe;
use crate::media::gop_cache::GopCache;
use crate::media::timestamp::is_at_or_after;
use crate::media::{Frame, FrameKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A stream's name: its app and stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub app: String,
    pub stream: String,
}

/// What the HTTP API shows of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSnapshot {
    pub app: String,
    pub stream: String,
    pub publisher_conn_id: Option<u64>,
    pub publisher_addr: Option<SocketAddr>,
    /// Unix time (seconds) the current publish started.
    pub started_unix: Option<u64>,
    pub video_codec: Option<u8>,
    pub audio_codec: Option<u8>,
    pub bytes: u64,
    pub frames: u64,
    /// Video frames (not sequence headers) of the current publish; rates come from deltas.
    pub video_frames: u64,
    pub players: usize,
    pub dropped_frames: u64,
    pub recording: bool,
    pub video_codec_name: Option<&'static str>,
    pub audio_codec_name: Option<&'static str>,
    /// Picture width and height from the video sequence header.
    pub picture_size: Option<(u32, u32)>,
    /// Media bits per second over the last few seconds (0 without a publisher).
    pub bitrate: u64,
}

/// Per-publish figures kept for the API.
#[derive(Debug, Default, Clone)]
struct PublishInfo {
    addr: Option<SocketAddr>,
    started_unix: Option<u64>,
    video_codec: Option<u8>,
    audio_codec: Option<u8>,
    bytes: u64,
    frames: u64,
    video_frames: u64,
    video_codec_name: Option<&'static str>,
    audio_codec_name: Option<&'static str>,
    picture_size: Option<(u32, u32)>,
    /// Set when a publish begins.
    rate: Option<BitrateWindow>,
}

#[derive(Debug)]
struct Inner {
    info: PublishInfo,
    publisher: Option<(u64, u64)>,
    next_generation: u64,
    /// Added (wrapping) to the current publisher's timestamps.
    offset: u32,
    /// The first frame of the current publish still has to fix `offset`.
    offset_pending: bool,
    last_timestamp: Option<u32>,
    has_video: bool,
    metadata: Option<Arc<SharedMedia>>,
    video_header: Option<Arc<SharedMedia>>,
    audio_header: Option<Arc<SharedMedia>>,
    gop: GopCache<Arc<SharedMedia>>,
    coalesce: Coalescer,
    /// Shared with a fan-out in progress (which takes it with one reference count, no
    /// copy); joins and leaves copy it only while a fan-out still holds the old list.
    players: Arc<Vec<Arc<PlayerSlot>>>,
}

/// A run-time recording request from the API, taken by the publisher's thread.
const RECORD_REQUEST_NONE: u8 = 0;
const RECORD_REQUEST_START: u8 = 1;
const RECORD_REQUEST_STOP: u8 = 2;

#[derive(Debug)]
pub struct Stream {
    pub key: StreamKey,
    inner: Mutex<Inner>,
    record_request: AtomicU8,
    recording: AtomicBool,
}

impl Stream {
    pub fn new(key: StreamKey, gop_cache_bytes: usize) -> Stream {
        let inner = Inner {
            info: PublishInfo::default(),
            publisher: None,
            next_generation: 1,
            offset: 0,
            offset_pending: true,
            last_timestamp: None,
            has_video: false,
            metadata: None,
            video_header: None,
            audio_header: None,
            gop: GopCache::new(gop_cache_bytes),
            coalesce: Coalescer::default(),
            players: Arc::new(Vec::new()),
        };
        Stream {
            key,
            inner: Mutex::new(inner),
            record_request: AtomicU8::new(RECORD_REQUEST_NONE),
            recording: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The publishing connection, if any.
    pub fn publisher(&self) -> Option<u64> {
        self.lock().publisher.map(|(conn_id, _)| conn_id)
    }

    /// Makes `conn_id` the publisher; returns its generation and the connection it replaced.
    pub fn begin_publish(&self, conn_id: u64) -> (u64, Option<u64>) {
        let mut inner = self.lock();
        let generation = inner.next_generation;
        inner.next_generation += 1;
        let replaced = inner.publisher.replace((conn_id, generation)).map(|(old, _)| old);
        inner.offset_pending = true;
        inner.metadata = None;
        inner.video_header = None;
        inner.audio_header = None;
        inner.has_video = false;
        inner.gop.clear();
        // Players send what they hold before the notice below.
        inner.coalesce.reset();
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
        inner.info = PublishInfo {
            started_unix,
            rate: Some(BitrateWindow::new(Instant::now())),
            ..PublishInfo::default()
        };
        if replaced.is_some() || inner.last_timestamp.is_some() {
            for slot in inner.players.iter() {
                let mut player = slot.lock();
                player.wait_for_keyframe();
                player.notify(StreamNotice::Published);
            }
        }
        (generation, replaced)
    }

    /// Asks the publisher's thread to start (true) or stop (false) recording.
    pub fn request_recording(&self, start: bool) {
        let request = if start {
            RECORD_REQUEST_START
        } else {
            RECORD_REQUEST_STOP
        };
        self.record_request.store(request, Ordering::SeqCst);
    }

    /// The pending recording request, if any (cheap when there is none).
    pub fn take_record_request(&self) -> Option<bool> {
        if self.record_request.load(Ordering::Relaxed) == RECORD_REQUEST_NONE {
            return None;
        }
        match self.record_request.swap(RECORD_REQUEST_NONE, Ordering::SeqCst) {
            RECORD_REQUEST_START => Some(true),
            RECORD_REQUEST_STOP => Some(false),
            _ => None,
        }
    }

    /// Whether the publisher records now (for the API).
    pub fn set_recording(&self, recording: bool) {
        self.recording.store(recording, Ordering::Relaxed);
    }

    /// The cached metadata and sequence headers, for a recording that starts mid-stream.
    pub fn headers(&self) -> Vec<Arc<SharedMedia>> {
        let inner = self.lock();
        [&inner.metadata, &inner.video_header, &inner.audio_header]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Records the publisher's address for the API.
    pub fn set_publisher_addr(&self, generation: u64, addr: SocketAddr) {
        let mut inner = self.lock();
        if inner.publisher.map(|(_, g)| g) == Some(generation) {
            inner.info.addr = Some(addr);
        }
    }

    /// A consistent view of the stream for the API.
    pub fn snapshot(&self) -> StreamSnapshot {
        let inner = self.lock();
        StreamSnapshot {
            app: self.key.app.clone(),
            stream: self.key.stream.clone(),
            publisher_conn_id: inner.publisher.map(|(conn_id, _)| conn_id),
            publisher_addr: inner.publisher.and(inner.info.addr),
            started_unix: inner.publisher.and(inner.info.started_unix),
            video_codec: inner.info.video_codec,
            audio_codec: inner.info.audio_codec,
            bytes: inner.info.bytes,
            frames: inner.info.frames,
            video_frames: inner.info.video_frames,
            players: inner.players.iter().filter(|p| !p.push).count(),
            dropped_frames: inner
                .players
                .iter()
                .filter(|p| !p.push)
                .map(|p| p.lock().dropped_total())
                .sum(),
            recording: self.recording.load(Ordering::Relaxed),
            video_codec_name: inner.info.video_codec_name,
            audio_codec_name: inner.info.audio_codec_name,
            picture_size: inner.info.picture_size,
            bitrate: match (&inner.publisher, &inner.info.rate) {
                (Some(_), Some(rate)) => rate.bits_per_second(Instant::now()),
                _ => 0,
            },
        }
    }

    /// Ends a publish if `generation` is still the current one; players are told.
    pub fn end_publish(&self, generation: u64) -> bool {
        let mut inner = self.lock();
        if inner.publisher.map(|(_, g)| g) != Some(generation) {
            return false;
        }
        inner.publisher = None;
        inner.gop.clear();
        // Players send what they hold before the notice below.
        inner.coalesce.reset();
        for slot in inner.players.iter() {
            slot.lock().notify(StreamNotice::Unpublished);
        }
        true
    }

    /// Offers a published frame to the stream; ignored unless `generation` publishes now.
    pub fn push(&self, generation: u64, frame: &Frame, metadata: bool) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let mut inner = self.lock();
        if inner.publisher.map(|(_, g)| g) != Some(generation) {
            return report;
        }
        if inner.offset_pending {
            inner.offset_pending = false;
            inner.offset = match inner.last_timestamp {
                Some(last) => last.wrapping_add(1).wrapping_sub(frame.timestamp),
                None => 0,
            };
        }
        let timestamp = frame.timestamp.wrapping_add(inner.offset);
        let advanced = match inner.last_timestamp {
            Some(last) => is_at_or_after(timestamp, last),
            None => true,
        };
        if advanced {
            inner.last_timestamp = Some(timestamp);
        }
        let media = Arc::new(SharedMedia::from_frame(frame, timestamp));
        match frame.kind {
            FrameKind::Data if metadata => inner.metadata = Some(Arc::clone(&media)),
            FrameKind::Video if frame.sequence_header => inner.video_header = Some(Arc::clone(&media)),
            FrameKind::Audio if frame.sequence_header => inner.audio_header = Some(Arc::clone(&media)),
            FrameKind::Video | FrameKind::Audio => {
                inner
                    .gop
                    .push(Arc::clone(&media), frame.kind, frame.keyframe, frame.len());
            }
            FrameKind::Data => {}
        }
        inner.has_video |= frame.kind == FrameKind::Video;
        inner.info.bytes += frame.len() as u64;
        inner.info.frames += 1;
        if frame.kind == FrameKind::Video && !frame.sequence_header {
            inner.info.video_frames += 1;
        }
        let now = Instant::now();
        if let Some(rate) = inner.info.rate.as_mut() {
            rate.add(now, frame.len() as u64);
        }
        if frame.sequence_header {
            match frame.kind {
                FrameKind::Video => {
                    inner.info.video_codec = describe::codec_id(frame);
                    inner.info.picture_size = describe::picture_size(frame);
                }
                FrameKind::Audio => inner.info.audio_codec = describe::codec_id(frame),
                FrameKind::Data => {}
            }
        }
        match frame.kind {
            FrameKind::Video if inner.info.video_codec_name.is_none() => {
                inner.info.video_codec_name = describe::video_codec_name(frame);
            }
            FrameKind::Audio if inner.info.audio_codec_name.is_none() => {
                inner.info.audio_codec_name = describe::audio_codec_name(frame);
            }
            _ => {}
        }
        let has_video = inner.has_video;
        let hold = inner.coalesce.hold(&media, now);
        let players = Arc::clone(&inner.players);
        drop(inner);
        fan_out(&players, &mut report, |player| {
            player.offer(&media, has_video, now, hold)
        });
        drop(players);
        self.forget_removed(&report);
        report
    }

    /// Sends what players hold once the coalescing window has passed (the publisher's
    /// thread calls it at `held_deadline`); ignored unless `generation` publishes now.
    pub fn flush_held(&self, generation: u64, now: Instant) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let mut inner = self.lock();
        if inner.publisher.map(|(_, g)| g) != Some(generation) || !inner.coalesce.take_due(now) {
            return report;
        }
        let players = Arc::clone(&inner.players);
        drop(inner);
        fan_out(&players, &mut report, |player| player.flush(now));
        drop(players);
        self.forget_removed(&report);
        report
    }

    /// When players' held frames are due, if they hold any (`play_coalesce`).
    pub fn held_deadline(&self) -> Option<Instant> {
        self.lock().coalesce.deadline()
    }

    /// Sets the coalescing window (`play_coalesce`) of the current publish.
    pub fn set_coalesce(&self, window: Duration) {
        self.lock().coalesce.set_window(window);
    }

    fn forget_removed(&self, report: &DeliveryReport) {
        if !report.removed.is_empty() {
            let removed = &report.removed;
            Arc::make_mut(&mut self.lock().players).retain(|slot| !removed.iter().any(|r| r.conn_id == slot.conn_id));
        }
    }

    /// Adds a player and queues what it starts from: metadata, sequence headers and the
    /// cached GOP. Returns the timestamp its clock should start at (earliest cached frame).
    /// The start is offered after the stream's lock is released, under the player's own lock
    /// (taken before the player joins the list), so the publisher's next frame follows it.
    pub fn add_player(&self, player: PlayerHandle) -> Option<u32> {
        let slot = Arc::new(PlayerSlot {
            conn_id: player.conn_id,
            push: player.push,
            handle: Mutex::new(player),
        });
        let mut player = slot.lock();
        let mut inner = self.lock();
        let has_video = inner.has_video;
        let start: Vec<Arc<SharedMedia>> = [&inner.metadata, &inner.video_header, &inner.audio_header]
            .into_iter()
            .flatten()
            .chain(inner.gop.items())
            .cloned()
            .collect();
        let base =
            inner.gop.items().map(|m| m.timestamp).reduce(
                |earliest, ts| {
                    if is_at_or_after(earliest, ts) {
                        ts
                    } else {
                        earliest
                    }
                },
            );
        Arc::make_mut(&mut inner.players).push(Arc::clone(&slot));
        drop(inner);
        let now = Instant::now();
        for media in &start {
            player.offer(media, has_video, now, false);
        }
        base
    }

    pub fn remove_player(&self, conn_id: u64) {
        let mut inner = self.lock();
        if inner.players.iter().any(|p| p.conn_id == conn_id) {
            Arc::make_mut(&mut inner.players).retain(|p| p.conn_id != conn_id);
        }
    }

    pub fn player_count(&self) -> usize {
        self.lock().players.len()
    }

    /// No publisher and no players: the registry may forget the stream.
    pub fn is_idle(&self) -> bool {
        let inner = self.lock();
        inner.publisher.is_none() && inner.players.is_empty()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
