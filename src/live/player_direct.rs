//! Who writes a player's socket next. While the player's writer thread has nothing queued,
//! the publisher's thread sends each frame straight to the socket with one non-blocking
//! vectored send (no thread wake-up per frame per player); when the socket would block, or
//! anything else is queued, the writer thread owns the socket until its queues are empty.
//! One mutex-guarded flag says who writes, so a player's bytes stay in order; the mutex is
//! held for non-blocking sends only, never a blocking one, so a slow player never slows the
//! publisher.

use super::shared_media::SharedMedia;
use crate::media::timestamp::SinceFirst;
use crate::media::FrameKind;
use crate::protocol::chunk::shared::{WireMessage, MAX_FMT0_HEADER};
use rustix::net::{sendmsg, SendAncillaryBuffer, SendFlags};
use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most slices one direct send passes to `sendmsg` (a frame's headers and payload pieces);
/// a frame needing more goes out in several sends.
const DIRECT_SEND_SLICES: usize = 128;

/// Per-player timestamps: the first frame (or the earliest of the initial burst) is 0;
/// sequence headers and data before the first frame are at 0 and do not set the base.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlayerClock {
    since: SinceFirst,
}

impl PlayerClock {
    /// A clock whose 0 is `base` (the earliest cached frame), or the first media frame.
    pub fn starting_at(base: Option<u32>) -> PlayerClock {
        PlayerClock {
            since: base.map_or_else(SinceFirst::new, SinceFirst::from_base),
        }
    }

    pub fn out(&mut self, media: &SharedMedia) -> u32 {
        if !self.since.started() && (media.sequence_header || media.kind == FrameKind::Data) {
            return 0;
        }
        self.since.map(media.timestamp)
    }
}

/// What the publisher's thread needs to send to the player itself (set by the writer
/// thread once it runs, i.e. after Play.Start went out).
#[derive(Debug)]
pub struct DirectSink {
    pub socket: TcpStream,
    pub stream_id: u32,
    pub chunk_size: u32,
}

#[derive(Debug)]
pub struct DirectState {
    /// The writer thread sends (it has something queued or in hand); the publisher queues.
    pub writer_owns: bool,
    /// The clock, kept here while the publisher sends; the writer takes it while it owns.
    pub clock: PlayerClock,
    /// The writer holds the current clock (it took it and has not handed the socket back):
    /// `clock` above is stale until `hand_back` stores it again.
    pub writer_has_clock: bool,
    /// Bytes the publisher sent directly since the connection last collected them.
    pub sent_direct: u64,
    /// Bytes of a frame the publisher sent in part: the writer sends them before anything else.
    pub rest: Option<Rest>,
    pub sink: Option<DirectSink>,
    /// Scratch for the player's chunk headers of the frame being sent.
    head: Vec<u8>,
    continuation: Vec<u8>,
}

/// What a partial direct send left for the writer: the player's headers for the frame (a
/// few bytes) and how far into the frame's wire bytes it got, so nothing of the frame is
/// copied per player.
#[derive(Debug)]
pub struct Rest {
    pub head: Vec<u8>,
    pub continuation: Vec<u8>,
    pub media: Arc<SharedMedia>,
    pub chunk_size: u32,
    pub sent: usize,
}

impl Rest {
    pub fn wire(&self) -> WireMessage<'_> {
        self.media.wire(&self.head, &self.continuation, self.chunk_size)
    }

    /// Bytes still to send.
    pub fn len(&self) -> usize {
        self.wire().len().saturating_sub(self.sent)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ownership state shared by a player's handle and its writer thread.
#[derive(Debug)]
pub struct Direct {
    state: Mutex<DirectState>,
    /// Media bytes the writer thread sent since the connection last collected them.
    pub sent_by_writer: AtomicU64,
    /// The write error that ended the writer thread, stored before it shuts the socket
    /// down, so the connection that then reads EOF can name it without waiting.
    pub writer_error: Mutex<Option<io::Error>>,
}

/// What a direct send did with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// All of it went out.
    Whole,
    /// Part went out; the rest (this many bytes) waits in `rest` for the writer.
    Part(usize),
    /// Nothing went out (not allowed now, the socket is full, or it failed): queue it.
    No,
}

impl Default for Direct {
    fn default() -> Self {
        Direct {
            state: Mutex::new(DirectState {
                writer_owns: true,
                clock: PlayerClock::default(),
                writer_has_clock: false,
                sent_direct: 0,
                rest: None,
                sink: None,
                head: Vec::with_capacity(MAX_FMT0_HEADER),
                continuation: Vec::with_capacity(8),
            }),
            sent_by_writer: AtomicU64::new(0),
            writer_error: Mutex::new(None),
        }
    }
}

impl Direct {
    pub fn lock(&self) -> MutexGuard<'_, DirectState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Media bytes sent to the player (directly or by its writer) since the last call.
    pub fn take_sent(&self) -> u64 {
        let direct = std::mem::take(&mut self.lock().sent_direct);
        direct.saturating_add(self.sent_by_writer.swap(0, Ordering::Relaxed))
    }
}

impl DirectState {
    /// Sends `media` now if the publisher may: nothing queued and the writer running. On
    /// anything but a whole send the writer owns the socket afterwards (the caller queues).
    pub fn try_send(&mut self, media: &Arc<SharedMedia>) -> Sent {
        if self.writer_owns {
            return Sent::No;
        }
        let sent = self.send_now(media);
        if sent != Sent::Whole {
            self.writer_owns = true;
        }
        sent
    }

    fn send_now(&mut self, media: &Arc<SharedMedia>) -> Sent {
        let Some(sink) = self.sink.as_ref() else {
            return Sent::No;
        };
        let mut clock = self.clock;
        let timestamp = clock.out(media);
        media.player_headers(timestamp, sink.stream_id, &mut self.head, &mut self.continuation);
        let wire = media.wire(&self.head, &self.continuation, sink.chunk_size);
        let total = wire.len();
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        let mut sent = 0;
        while sent < total {
            let mut slices = [IoSlice::new(&[]); DIRECT_SEND_SLICES];
            let mut count = 0;
            let mut bytes = 0;
            for (slot, slice) in slices.iter_mut().zip(wire.slices_from(sent)) {
                bytes += slice.len();
                *slot = slice;
                count += 1;
            }
            let Some(slices) = slices.get(..count) else { break };
            match sendmsg(&sink.socket, slices, &mut SendAncillaryBuffer::default(), flags) {
                Err(rustix::io::Errno::INTR) => continue,
                Ok(n) => {
                    sent += n;
                    if n < bytes {
                        break; // the socket is full
                    }
                }
                // Would block, or an error the writer will meet and report: it takes over.
                Err(_) => break,
            }
        }
        if sent == 0 {
            return Sent::No;
        }
        // The frame went out (at least in part): its timestamp counts from now on.
        self.clock = clock;
        self.sent_direct = self.sent_direct.saturating_add(sent as u64);
        if sent >= total {
            return Sent::Whole;
        }
        self.rest = Some(Rest {
            head: self.head.clone(),
            continuation: self.continuation.clone(),
            media: Arc::clone(media),
            chunk_size: sink.chunk_size,
            sent,
        });
        Sent::Part(total - sent)
    }
}
