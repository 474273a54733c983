//! Players: the publisher-side handle that queues shared frames for one player with a drop
//! policy (a slow player never slows anyone), and the player's writer thread that owns the
//! socket's write side and turns shared frames into chunks with its own fmt 0 headers.

use crate::media::{FrameKind, Payload};
use crate::protocol::chunk::shared::{encode_whole, fmt0_header, prechunk_body};
use crate::protocol::chunk::RawMessage;
use crossbeam_channel::{select, Receiver, Sender, TrySendError};
use log::debug;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Most items waiting in one player's queue (the byte budget usually binds first).
pub const PLAYER_QUEUE_ITEMS: usize = 8 * 1024;
/// Default bytes of media that may wait for one player before it drops to the next keyframe.
pub const DEFAULT_PLAYER_QUEUE_BYTES: usize = 8 * 1024 * 1024;
/// Default time a player may stay behind (dropping frames) before it is disconnected.
pub const DEFAULT_PLAYER_MAX_LAG: Duration = Duration::from_secs(10);
/// Most queued items the writer joins into one vectored write.
const WRITE_BATCH_ITEMS: usize = 32;
/// Chunk streams the writer thread uses; the session's own replies use 2, 3 and 5.
const CSID_DATA: u32 = 4;
const CSID_AUDIO: u32 = 6;
const CSID_VIDEO: u32 = 7;
const CSID_NOTICE: u32 = 8;

/// A frame as players receive it: parsed once, on the stream's timeline, its body split into
/// chunks once (lazily, by the first writer that needs it) and shared by every player.
#[derive(Debug)]
pub struct SharedMedia {
    pub kind: FrameKind,
    /// Timestamp on the stream's timeline (monotonic across republishes).
    pub timestamp: u32,
    pub keyframe: bool,
    pub sequence_header: bool,
    pub payload: Payload,
    body: OnceLock<(u32, Vec<u8>)>,
}

impl SharedMedia {
    pub fn new(kind: FrameKind, timestamp: u32, keyframe: bool, sequence_header: bool, payload: Payload) -> Self {
        SharedMedia {
            kind,
            timestamp,
            keyframe,
            sequence_header,
            payload,
            body: OnceLock::new(),
        }
    }

    fn csid(&self) -> u32 {
        match self.kind {
            FrameKind::Audio => CSID_AUDIO,
            FrameKind::Video => CSID_VIDEO,
            FrameKind::Data => CSID_DATA,
        }
    }

    /// The chunked body for `chunk_size` (computed once; another size is computed afresh).
    fn body(&self, chunk_size: u32) -> std::borrow::Cow<'_, [u8]> {
        let (size, body) = self
            .body
            .get_or_init(|| (chunk_size, prechunk_body(self.csid(), chunk_size, &self.payload)));
        if *size == chunk_size {
            std::borrow::Cow::Borrowed(body)
        } else {
            std::borrow::Cow::Owned(prechunk_body(self.csid(), chunk_size, &self.payload))
        }
    }
}

/// What the stream tells a player besides media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamNotice {
    /// The publisher left: StreamEOF and NetStream.Play.UnpublishNotify.
    Unpublished,
    /// A publisher (re)started: StreamBegin and NetStream.Play.PublishNotify.
    Published,
}

#[derive(Debug, Clone)]
pub enum PlayerItem {
    Media(Arc<SharedMedia>),
    Notice(StreamNotice),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Normal,
    /// Joined (or the stream restarted) without a cached keyframe: wait for one.
    WaitKeyframe,
    /// Behind its budget since then; frames are dropped until a keyframe fits.
    Dropping {
        since: Instant,
    },
}

/// What happened to a frame offered to a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Queued,
    Dropped,
    /// The player fell behind for longer than allowed, or its writer is gone: remove it.
    Disconnect,
}

/// Tuning of the per-player queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerLimits {
    pub queue_bytes: usize,
    pub max_lag: Duration,
}

impl Default for PlayerLimits {
    fn default() -> Self {
        PlayerLimits {
            queue_bytes: DEFAULT_PLAYER_QUEUE_BYTES,
            max_lag: DEFAULT_PLAYER_MAX_LAG,
        }
    }
}

/// The publisher side of one player (kept in the stream's player list).
#[derive(Debug)]
pub struct PlayerHandle {
    pub conn_id: u64,
    sender: Sender<PlayerItem>,
    queued_bytes: Arc<AtomicUsize>,
    limits: PlayerLimits,
    delivery: Delivery,
    /// Frames dropped in the current episode, and in all.
    pub dropped_now: u64,
    pub dropped_total: u64,
}

impl PlayerHandle {
    /// Offers media; never blocks. `has_video` says whether keyframes are to be waited for.
    pub fn offer(&mut self, media: &Arc<SharedMedia>, has_video: bool, now: Instant) -> Offer {
        let len = media.payload.len();
        let resume_point = !has_video || (media.kind == FrameKind::Video && media.keyframe);
        let essential = media.sequence_header || media.kind == FrameKind::Data;
        match self.delivery {
            Delivery::WaitKeyframe if !essential && !resume_point => return Offer::Dropped,
            Delivery::WaitKeyframe => {}
            Delivery::Dropping { since } if !essential => {
                let queued = self.queued_bytes.load(Ordering::Relaxed);
                if resume_point && queued <= self.limits.queue_bytes / 2 {
                    self.delivery = Delivery::Normal;
                    self.dropped_now = 0;
                } else if now.saturating_duration_since(since) > self.limits.max_lag {
                    return Offer::Disconnect;
                } else {
                    self.count_drop();
                    return Offer::Dropped;
                }
            }
            _ => {}
        }
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if !essential && queued.saturating_add(len) > self.limits.queue_bytes {
            self.delivery = Delivery::Dropping { since: now };
            self.count_drop();
            return Offer::Dropped;
        }
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        match self.sender.try_send(PlayerItem::Media(Arc::clone(media))) {
            Ok(()) => {
                if resume_point && self.delivery == Delivery::WaitKeyframe {
                    self.delivery = Delivery::Normal;
                }
                Offer::Queued
            }
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                if !matches!(self.delivery, Delivery::Dropping { .. }) {
                    self.delivery = Delivery::Dropping { since: now };
                }
                self.count_drop();
                Offer::Dropped
            }
            Err(TrySendError::Disconnected(_)) => Offer::Disconnect,
        }
    }

    fn count_drop(&mut self) {
        self.dropped_now += 1;
        self.dropped_total += 1;
    }

    /// True while the player drops frames because it is behind.
    pub fn is_behind(&self) -> bool {
        matches!(self.delivery, Delivery::Dropping { .. })
    }

    /// After a republish the player waits for the new publisher's first keyframe.
    pub fn wait_for_keyframe(&mut self) {
        self.delivery = Delivery::WaitKeyframe;
    }

    pub fn notify(&self, notice: StreamNotice) -> bool {
        !matches!(
            self.sender.try_send(PlayerItem::Notice(notice)),
            Err(TrySendError::Disconnected(_))
        )
    }
}

/// The connection's side of a player: its writer thread's inputs.
#[derive(Debug)]
pub struct PlayerWriterInput {
    pub media: Receiver<PlayerItem>,
    /// Session replies (acks, pings, status) to send in order with the media.
    pub control: Receiver<Vec<u8>>,
    pub queued_bytes: Arc<AtomicUsize>,
}

/// Creates a handle (for the stream) and the writer's inputs (for the writer thread).
pub fn player_channel(
    conn_id: u64,
    limits: PlayerLimits,
    control: Receiver<Vec<u8>>,
) -> (PlayerHandle, PlayerWriterInput) {
    let (sender, media) = crossbeam_channel::bounded(PLAYER_QUEUE_ITEMS);
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let handle = PlayerHandle {
        conn_id,
        sender,
        queued_bytes: Arc::clone(&queued_bytes),
        limits,
        delivery: Delivery::WaitKeyframe,
        dropped_now: 0,
        dropped_total: 0,
    };
    (
        handle,
        PlayerWriterInput {
            media,
            control,
            queued_bytes,
        },
    )
}

/// Per-player timestamps: the first frame (or the earliest of the initial burst) is 0.
#[derive(Debug, Clone, Copy)]
struct PlayerClock {
    base: Option<u32>,
}

impl PlayerClock {
    fn out(&mut self, media: &SharedMedia) -> u32 {
        let Some(base) = self.base else {
            if media.sequence_header || media.kind == FrameKind::Data {
                return 0;
            }
            self.base = Some(media.timestamp);
            return 0;
        };
        let offset = media.timestamp.wrapping_sub(base);
        if offset > i32::MAX as u32 {
            0
        } else {
            offset
        }
    }
}

/// The writer thread of one player. Ends when the connection closes its control channel,
/// the stream drops the player, or a write fails or times out; then shuts the socket down so
/// the connection thread's read ends too.
pub fn run_writer(mut socket: TcpStream, input: PlayerWriterInput, stream_id: u32, chunk_size: u32, base: Option<u32>) {
    let mut clock = PlayerClock { base };
    let result = write_loop(&mut socket, &input, stream_id, chunk_size, &mut clock);
    if let Err(e) = result {
        debug!("player writer ended error=\"{e}\"");
    }
    let _ = socket.shutdown(Shutdown::Both);
}

fn write_loop(
    socket: &mut TcpStream,
    input: &PlayerWriterInput,
    stream_id: u32,
    chunk_size: u32,
    clock: &mut PlayerClock,
) -> io::Result<()> {
    let mut scratch = Vec::with_capacity(4096);
    let mut batch: Vec<Arc<SharedMedia>> = Vec::with_capacity(WRITE_BATCH_ITEMS);
    loop {
        let first = select! {
            recv(input.control) -> bytes => match bytes {
                Ok(bytes) => {
                    socket.write_all(&bytes)?;
                    continue;
                }
                Err(_) => return Ok(()),
            },
            recv(input.media) -> item => match item {
                Ok(item) => item,
                Err(_) => return Ok(()),
            },
        };
        // Replies queued meanwhile go first, so a ping never waits behind a burst.
        while let Ok(bytes) = input.control.try_recv() {
            socket.write_all(&bytes)?;
        }
        scratch.clear();
        batch.clear();
        let mut pending = Some(first);
        while let Some(item) = pending.take() {
            match item {
                PlayerItem::Media(media) => {
                    input.queued_bytes.fetch_sub(media.payload.len(), Ordering::Relaxed);
                    batch.push(media);
                }
                PlayerItem::Notice(notice) => {
                    write_batch(socket, &batch, &mut scratch, stream_id, chunk_size, clock)?;
                    batch.clear();
                    socket.write_all(&notice_bytes(notice, stream_id, chunk_size))?;
                }
            }
            if batch.len() < WRITE_BATCH_ITEMS {
                pending = input.media.try_recv().ok();
            }
        }
        write_batch(socket, &batch, &mut scratch, stream_id, chunk_size, clock)?;
    }
}

/// Writes a batch of media with one vectored write: per-player headers from `scratch`,
/// shared chunked bodies by reference.
fn write_batch(
    socket: &mut TcpStream,
    batch: &[Arc<SharedMedia>],
    scratch: &mut Vec<u8>,
    stream_id: u32,
    chunk_size: u32,
    clock: &mut PlayerClock,
) -> io::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    scratch.clear();
    let mut header_ends = Vec::with_capacity(batch.len());
    let mut bodies = Vec::with_capacity(batch.len());
    for media in batch {
        let timestamp = clock.out(media);
        let type_id = media.kind.tag_type();
        if fmt0_header(
            media.csid(),
            timestamp,
            media.payload.len(),
            type_id,
            stream_id,
            scratch,
        ) {
            bodies.push(media.body(chunk_size));
        } else {
            let message = RawMessage {
                csid: media.csid(),
                timestamp,
                type_id,
                stream_id,
                payload: media.payload.to_vec(),
            };
            encode_whole(&message, chunk_size, scratch);
            bodies.push(std::borrow::Cow::Borrowed(&[][..]));
        }
        header_ends.push(scratch.len());
    }
    let mut slices = Vec::with_capacity(batch.len() * 2);
    let mut start = 0;
    for (end, body) in header_ends.iter().zip(&bodies) {
        slices.push(IoSlice::new(scratch.get(start..*end).unwrap_or(&[])));
        slices.push(IoSlice::new(body));
        start = *end;
    }
    write_all_vectored(socket, &mut slices)
}

fn write_all_vectored(socket: &mut TcpStream, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match socket.write_vectored(slices) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "player socket closed")),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// StreamEOF/UnpublishNotify or StreamBegin/PublishNotify, on the writer's own chunk stream.
fn notice_bytes(notice: StreamNotice, stream_id: u32, chunk_size: u32) -> Vec<u8> {
    use crate::protocol::command::on_status;
    use crate::protocol::message::{build_control, ControlMessage, UserControl};
    let (event, code, description) = match notice {
        StreamNotice::Unpublished => (
            UserControl::StreamEof(stream_id),
            "NetStream.Play.UnpublishNotify",
            "Stream unpublished",
        ),
        StreamNotice::Published => (
            UserControl::StreamBegin(stream_id),
            "NetStream.Play.PublishNotify",
            "Stream published",
        ),
    };
    let mut out = Vec::new();
    let mut control = build_control(&ControlMessage::UserControl(event));
    control.csid = CSID_NOTICE;
    encode_whole(&control, chunk_size, &mut out);
    let mut status = on_status(stream_id, "status", code, description);
    status.csid = CSID_NOTICE;
    encode_whole(&status, chunk_size, &mut out);
    out
}

#[cfg(test)]
#[path = "player_tests.rs"]
mod tests;
