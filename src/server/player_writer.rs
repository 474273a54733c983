//! A player's writer thread: owns the player's socket whenever the publisher's thread may not
//! send to it directly (see `player_direct`): it sends session replies, notices, queued
//! media (per-player fmt 0 headers, shared chunked bodies, one vectored write per batch) and
//! the rest of a frame the publisher sent in part; with its queues empty it hands the socket
//! back and sleeps until something is queued.

use super::transport::PlayerSocket;
use crate::live::player::{PlayerItem, PlayerWriterInput, SharedMedia, StreamNotice, CSID_NOTICE};
use crate::live::{DirectSink, PlayerClock};
use crate::protocol::chunk::shared::encode_whole;
use crate::vectored::write_all_vectored;
use crossbeam_channel::select;
use log::debug;
use std::io::{self, IoSlice, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Most queued items the writer joins into one vectored write.
const WRITE_BATCH_ITEMS: usize = 32;

/// The writer thread of one player. Ends when the connection closes its control channel,
/// the stream drops the player, or a write fails or times out; then shuts the socket down so
/// the connection thread's read ends too. A write error that ended it is left in
/// `Direct::writer_error` first, for the connection's close reason.
pub fn run_writer<S: PlayerSocket>(
    mut socket: S,
    input: PlayerWriterInput,
    stream_id: u32,
    chunk_size: u32,
    base: Option<u32>,
) {
    {
        let mut state = input.direct.lock();
        state.clock = PlayerClock::starting_at(base);
        // Without a second plain handle (TLS, or a failed clone) the publisher never sends
        // directly: everything is queued for this thread.
        state.sink = socket.direct_handle().map(|socket| DirectSink {
            socket,
            stream_id,
            chunk_size,
        });
    }
    let mut writer = Writer {
        input: &input,
        stream_id,
        chunk_size,
        clock: PlayerClock::starting_at(base),
        scratch: Vec::with_capacity(4096),
        head: Vec::new(),
        continuation: Vec::new(),
        ends: Vec::with_capacity(WRITE_BATCH_ITEMS),
        batch: Vec::with_capacity(WRITE_BATCH_ITEMS),
    };
    let result = writer.run(&mut socket);
    {
        let mut state = input.direct.lock();
        state.writer_owns = true;
        state.sink = None;
    }
    if let Err(e) = result {
        debug!("player writer ended error=\"{e}\"");
        *input.direct.writer_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
    socket.shutdown_both();
}

struct Writer<'a> {
    input: &'a PlayerWriterInput,
    stream_id: u32,
    chunk_size: u32,
    clock: PlayerClock,
    /// A batch's per-player headers, back to back.
    scratch: Vec<u8>,
    /// One frame's headers, before they join `scratch`.
    head: Vec<u8>,
    continuation: Vec<u8>,
    /// Per batched frame: where its head and its continuation header end in `scratch`.
    ends: Vec<(usize, usize)>,
    batch: Vec<Arc<SharedMedia>>,
}

impl Writer<'_> {
    fn run(&mut self, socket: &mut impl Write) -> io::Result<()> {
        let input = self.input;
        loop {
            self.take_over(socket)?;
            // Drain: replies first (a ping never waits behind a burst), then media.
            loop {
                while let Ok(bytes) = input.control.try_recv() {
                    socket.write_all(&bytes)?;
                }
                match input.media.try_recv() {
                    Ok(item) => self.write_items(socket, item)?,
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return Ok(()),
                }
            }
            if !self.hand_back() {
                continue;
            }
            // Sleep until something is queued; take the socket back before writing it.
            select! {
                recv(input.control) -> bytes => match bytes {
                    Ok(bytes) => {
                        self.take_over(socket)?;
                        socket.write_all(&bytes)?;
                    }
                    Err(_) => return Ok(()),
                },
                recv(input.media) -> item => match item {
                    Ok(item) => {
                        self.take_over(socket)?;
                        self.write_items(socket, item)?;
                    }
                    Err(_) => return Ok(()),
                },
            }
        }
    }

    /// Owns the socket from now on: takes the clock and sends the rest of a part-sent frame.
    fn take_over(&mut self, socket: &mut impl Write) -> io::Result<()> {
        let rest = {
            let mut state = self.input.direct.lock();
            state.writer_owns = true;
            // Only a clock the publisher used since the last hand-back is newer than ours.
            if !state.writer_has_clock {
                self.clock = state.clock;
                state.writer_has_clock = true;
            }
            state.rest.take()
        };
        if let Some(rest) = rest {
            let len = rest.len();
            let mut slices: Vec<IoSlice<'_>> = rest.wire().slices_from(rest.sent).collect();
            write_all_vectored(socket, &mut slices)?;
            self.count(len);
            self.input.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Gives the socket back to the publisher if nothing is queued; false if something is.
    fn hand_back(&mut self) -> bool {
        let mut state = self.input.direct.lock();
        if !self.input.media.is_empty() || !self.input.control.is_empty() || state.rest.is_some() {
            return false;
        }
        state.clock = self.clock;
        state.writer_has_clock = false;
        state.writer_owns = false;
        true
    }

    /// Writes `first` and whatever is queued behind it (up to a batch).
    fn write_items(&mut self, socket: &mut impl Write, first: PlayerItem) -> io::Result<()> {
        let input = self.input;
        self.batch.clear();
        let mut pending = Some(first);
        while let Some(item) = pending.take() {
            match item {
                PlayerItem::Media(media) => {
                    input.queued_bytes.fetch_sub(media.payload.len(), Ordering::Relaxed);
                    self.batch.push(media);
                }
                PlayerItem::Notice(notice) => {
                    self.write_batch(socket)?;
                    let notice = notice_bytes(notice, self.stream_id, self.chunk_size);
                    socket.write_all(&notice)?;
                    self.count(notice.len());
                }
                PlayerItem::Wake => {}
            }
            if self.batch.len() < WRITE_BATCH_ITEMS {
                pending = input.media.try_recv().ok();
            }
        }
        self.write_batch(socket)
    }

    /// Media bytes sent (session replies are counted by the connection that made them).
    fn count(&self, bytes: usize) {
        self.input
            .direct
            .sent_by_writer
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Writes the batch with one vectored write: per-player headers from `scratch`, the
    /// shared payloads in place between them.
    fn write_batch(&mut self, socket: &mut impl Write) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let (stream_id, chunk_size) = (self.stream_id, self.chunk_size);
        self.scratch.clear();
        self.ends.clear();
        for media in &self.batch {
            let timestamp = self.clock.out(media);
            media.player_headers(timestamp, stream_id, &mut self.head, &mut self.continuation);
            self.scratch.extend_from_slice(&self.head);
            let head_end = self.scratch.len();
            self.scratch.extend_from_slice(&self.continuation);
            self.ends.push((head_end, self.scratch.len()));
        }
        let mut slices = Vec::with_capacity(self.batch.len() * 3);
        let mut start = 0;
        for (media, &(head_end, end)) in self.batch.iter().zip(&self.ends) {
            let head = self.scratch.get(start..head_end).unwrap_or(&[]);
            let continuation = self.scratch.get(head_end..end).unwrap_or(&[]);
            slices.extend(media.wire(head, continuation, chunk_size).slices_from(0));
            start = end;
        }
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let result = write_all_vectored(socket, &mut slices);
        if result.is_ok() {
            self.count(total);
        }
        drop(slices);
        self.batch.clear();
        result
    }
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
