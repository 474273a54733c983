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
    /// Scratch of a send of several frames: their headers back to back, and per frame where
    /// its head and continuation end in `heads`, its wire length and the clock after it.
    heads: Vec<u8>,
    frames: Vec<FrameOnWire>,
}

#[derive(Debug, Clone, Copy)]
struct FrameOnWire {
    head_end: usize,
    end: usize,
    len: usize,
    clock: PlayerClock,
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

/// What a direct send did with its frames (in order: the first `whole` went out whole, the
/// next one in part when `part` says so, and the rest not at all: the caller queues them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub whole: usize,
    /// Bytes of frame `whole` still to send; they wait in `rest` for the writer.
    pub part: Option<usize>,
}

impl Sent {
    const NOTHING: Sent = Sent { whole: 0, part: None };
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
                heads: Vec::new(),
                frames: Vec::new(),
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
    /// Sends `frames` now, in one vectored send where they fit, if the publisher may: nothing
    /// queued and the writer running. Unless all went out whole, the writer owns the socket
    /// afterwards (the caller queues what was not sent).
    pub fn try_send(&mut self, frames: &[Arc<SharedMedia>]) -> Sent {
        if self.writer_owns {
            return Sent::NOTHING;
        }
        let sent = self.send_now(frames);
        if sent.whole < frames.len() {
            self.writer_owns = true;
        }
        sent
    }

    /// True while the publisher may send to the socket itself.
    pub fn publisher_sends(&self) -> bool {
        !self.writer_owns && self.sink.is_some()
    }

    fn send_now(&mut self, frames: &[Arc<SharedMedia>]) -> Sent {
        let Some(sink) = self.sink.as_ref() else {
            return Sent::NOTHING;
        };
        let (stream_id, chunk_size) = (sink.stream_id, sink.chunk_size);
        // Each frame's headers for this player, with the clock as it stands after the frame.
        self.heads.clear();
        self.frames.clear();
        let mut clock = self.clock;
        for media in frames {
            let timestamp = clock.out(media);
            media.player_headers(timestamp, stream_id, &mut self.head, &mut self.continuation);
            self.heads.extend_from_slice(&self.head);
            let head_end = self.heads.len();
            self.heads.extend_from_slice(&self.continuation);
            let len = media.wire(&self.head, &self.continuation, chunk_size).len();
            self.frames.push(FrameOnWire {
                head_end,
                end: self.heads.len(),
                len,
                clock,
            });
        }
        let heads = &self.heads;
        let wire_of = |index: usize| -> Option<WireMessage<'_>> {
            let media = frames.get(index)?;
            let start = match index.checked_sub(1) {
                Some(previous) => self.frames.get(previous)?.end,
                None => 0,
            };
            let on_wire = self.frames.get(index)?;
            let head = heads.get(start..on_wire.head_end)?;
            let continuation = heads.get(on_wire.head_end..on_wire.end)?;
            Some(media.wire(head, continuation, chunk_size))
        };
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        // Where the send stands: frame `index`, `offset` bytes into its wire bytes.
        let (mut index, mut offset) = (0, 0);
        let mut sent_total = 0u64;
        'sending: while index < frames.len() {
            let mut slices = [IoSlice::new(&[]); DIRECT_SEND_SLICES];
            let mut count = 0;
            let mut bytes = 0;
            let mut from = (index, offset);
            'filling: while let Some(wire) = wire_of(from.0) {
                for slice in wire.slices_from(from.1) {
                    let Some(slot) = slices.get_mut(count) else {
                        break 'filling;
                    };
                    bytes += slice.len();
                    *slot = slice;
                    count += 1;
                }
                from = (from.0 + 1, 0);
            }
            let Some(slices) = slices.get(..count) else { break };
            let accepted = loop {
                match sendmsg(&sink.socket, slices, &mut SendAncillaryBuffer::default(), flags) {
                    Err(rustix::io::Errno::INTR) => continue,
                    Ok(n) => break n,
                    // Would block, or an error the writer will meet and report: it takes over.
                    Err(_) => break 'sending,
                }
            };
            sent_total += accepted as u64;
            let mut n = accepted;
            while n > 0 {
                let Some(on_wire) = self.frames.get(index) else { break };
                let left = on_wire.len - offset;
                if n < left {
                    offset += n;
                    n = 0;
                } else {
                    n -= left;
                    (index, offset) = (index + 1, 0);
                }
            }
            if accepted < bytes || bytes == 0 {
                break; // the socket is full
            }
        }
        if sent_total == 0 {
            return Sent::NOTHING;
        }
        self.sent_direct = self.sent_direct.saturating_add(sent_total);
        // The frames that went out (at least in part) count on the clock from now on.
        let last_touched = if offset > 0 { index } else { index.saturating_sub(1) };
        if let Some(on_wire) = self.frames.get(last_touched) {
            self.clock = on_wire.clock;
        }
        if offset == 0 {
            return Sent {
                whole: index,
                part: None,
            };
        }
        let (Some(media), Some(on_wire)) = (frames.get(index), self.frames.get(index)) else {
            return Sent {
                whole: index,
                part: None,
            };
        };
        let start = index
            .checked_sub(1)
            .and_then(|p| self.frames.get(p))
            .map_or(0, |f| f.end);
        self.rest = Some(Rest {
            head: self.heads.get(start..on_wire.head_end).unwrap_or_default().to_vec(),
            continuation: self
                .heads
                .get(on_wire.head_end..on_wire.end)
                .unwrap_or_default()
                .to_vec(),
            media: Arc::clone(media),
            chunk_size,
            sent: offset,
        });
        Sent {
            whole: index,
            part: Some(on_wire.len - offset),
        }
    }
}
