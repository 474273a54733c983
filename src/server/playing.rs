//! The playing half of a connection: joining a stream (waiting for its publisher if need
//! be), starting the player's writer thread, and leaving the stream.

use super::connection::{CloseReason, Connection};
use super::player_writer::run_writer;
use super::transport::{PlayerSocket, WriteHalf};
use crate::decision::Action;
use crate::events::{Event, Query, SessionEnd, StreamName};
use crate::live::player::PlayerWriterInput;
use crate::live::registry::StreamKey;
use crate::live::subscription::{Membership, Subscriber, Subscription};
use crate::live::Direct;
use crate::threads::ThreadTracker;
use crossbeam_channel::{SendTimeoutError, Sender};
use log::{info, warn};
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most session replies waiting for the player writer (it sends them before any media, so
/// few ever wait; a bounded channel allocates every slot up front, for every player). When it
/// is full the connection's thread waits for room up to the write timeout, then closes the
/// connection: a reply is never dropped, because the chunk headers that follow it are
/// compressed against it and the peer would be desynchronised for good.
const CONTROL_QUEUE: usize = 64;

/// The stream this connection plays and its writer thread.
pub(super) struct Playback {
    key: StreamKey,
    /// The player's place in the stream; dropping it leaves the stream.
    membership: Membership,
    control: Sender<Vec<u8>>,
    writer: Option<JoinHandle<()>>,
    /// The player's shared send state: media bytes sent (collected into bytes_out and
    /// metrics) and the error that ended its writer.
    sent: Arc<Direct>,
    /// Since when the stream has had no publisher (for --play-wait-timeout).
    waiting_since: Option<Instant>,
    /// The play request's query, start and the connection's bytes_out then (for play_done).
    query: String,
    started: Instant,
    bytes_out_before: u64,
    /// `play_wait_timeout` of the stream's policy.
    wait_timeout: Duration,
}

impl Playback {
    /// Queues session replies for the writer, waiting up to `timeout` for room. Fails when
    /// the writer cannot take them in time (the peer does not read) or is gone.
    pub(super) fn send_control(&self, bytes: Vec<u8>, timeout: Duration) -> io::Result<()> {
        self.control.send_timeout(bytes, timeout).map_err(|e| match e {
            SendTimeoutError::Timeout(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                "player does not read: session replies could not be queued",
            ),
            SendTimeoutError::Disconnected(_) => io::Error::new(io::ErrorKind::BrokenPipe, "player writer has ended"),
        })
    }
}

impl Connection {
    pub(super) fn on_play_request(&mut self, stream_id: u32, name: String, query: &str) -> Option<CloseReason> {
        if self.playback.is_some() {
            let description = "One play per connection";
            return self
                .session
                .reject_play(stream_id, "NetStream.Play.Failed", description)
                .err()
                .map(protocol);
        }
        let key = StreamKey {
            app: self.app.clone(),
            stream: name,
        };
        let stream_policy = match self.policy_for(Action::Play, stream_id, &key) {
            Ok(policy) => policy,
            Err(reason) => return Some(reason),
        };
        let outcome = self.decide(Action::Play, &key, query, &stream_policy);
        if let Some(reason) = self.refuse_unless_allowed(Action::Play, stream_id, &key, outcome) {
            return Some(reason);
        }
        if let Err(e) = self.session.accept_play(stream_id) {
            return Some(protocol(e));
        }
        let writer_socket = match self.socket.write_half() {
            Ok(socket) => socket,
            Err(e) => return Some(CloseReason::Io(e)),
        };
        // The player joins the stream before the peer sees Play.Start, so every frame
        // published after Play.Start reaches it; frames wait in its queue until the writer
        // starts, after Play.Start went out, so replies still precede media.
        let stream = self.ctx.registry.stream_for_play(&key);
        let (control, control_rx) = crossbeam_channel::bounded(CONTROL_QUEUE);
        let subscriber = Subscriber::Player { control: control_rx };
        let policy = self.ctx.config.play.player;
        let Subscription {
            input,
            membership,
            base,
        } = Subscription::join(&self.ctx.registry, &stream, self.conn_id, policy, subscriber);
        let sent = Arc::clone(&input.direct);
        // Until the writer starts, replies go straight to the socket (no playback yet).
        if let Err(e) = self.flush_output() {
            return Some(CloseReason::Io(e));
        }
        let chunk_size = self.session.out_chunk_size();
        let threads = &self.ctx.connection_threads;
        let name = format!("play-{}", self.conn_id);
        let spawned = match writer_socket {
            WriteHalf::Plain(socket) => spawn_writer(threads, name, socket, input, stream_id, chunk_size, base),
            WriteHalf::Tls(socket) => spawn_writer(threads, name, socket, input, stream_id, chunk_size, base),
        };
        let writer = match spawned {
            Ok(writer) => writer,
            Err(e) => return Some(CloseReason::Io(e)),
        };
        crate::ops::metrics::Metrics::add(&self.ctx.metrics.plays_total, 1);
        let waiting = stream.publisher().is_none();
        info!(
            "play conn_id={} remote={} app={} stream={} waiting_for_publisher={waiting}",
            self.conn_id, self.remote, key.app, key.stream
        );
        self.ctx.events.emit(Event::PlayStarted {
            name: StreamName::new(&key.app, &key.stream),
            conn_id: self.conn_id,
            remote: self.remote,
            query: Query(query.to_owned()),
        });
        let waiting_since = waiting.then(Instant::now);
        self.playback = Some(Playback {
            key,
            membership,
            control,
            writer: Some(writer),
            sent,
            waiting_since,
            query: query.to_owned(),
            started: Instant::now(),
            bytes_out_before: self.bytes_out,
            wait_timeout: stream_policy.play_wait_timeout,
        });
        None
    }

    /// With --play-wait-timeout, closes a player whose stream has had no publisher for that long.
    pub(super) fn check_play_wait(&mut self) -> Option<CloseReason> {
        let playback = self.playback.as_mut()?;
        let limit = playback.wait_timeout;
        if playback.membership.stream().publisher().is_some() {
            playback.waiting_since = None;
            return None;
        }
        let since = *playback.waiting_since.get_or_insert_with(Instant::now);
        if !limit.is_zero() && since.elapsed() >= limit {
            warn!(
                "player waited too long for a publisher conn_id={} app={} stream={} wait_s={}",
                self.conn_id,
                playback.key.app,
                playback.key.stream,
                limit.as_secs()
            );
            return Some(CloseReason::Timeout("play_wait"));
        }
        None
    }

    /// Leaves the stream and stops the writer thread.
    pub(super) fn end_playback(&mut self, why: &str) {
        let Some(playback) = self.playback.take() else {
            return;
        };
        let Playback {
            key,
            membership,
            control,
            writer,
            sent,
            query,
            started,
            bytes_out_before,
            ..
        } = playback;
        // Leaves the stream first, so no frame is offered to a player that is ending.
        drop(membership);
        info!(
            "play stopped conn_id={} app={} stream={} reason={why}",
            self.conn_id, key.app, key.stream
        );
        drop(control);
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.count_sent(&sent);
        self.ctx.events.emit(Event::PlayStopped {
            name: StreamName::new(&key.app, &key.stream),
            end: SessionEnd {
                conn_id: self.conn_id,
                reason: why.to_owned(),
                remote: self.remote,
                query: Query(query),
                duration_ms: started.elapsed().as_millis() as u64,
                bytes: self.bytes_out.saturating_sub(bytes_out_before),
            },
        });
    }

    /// Adds the media bytes sent to the player since the last call to bytes_out and /metrics
    /// (its writer and the publisher's direct sends write them, not this thread).
    pub(super) fn collect_player_bytes(&mut self) {
        if let Some(sent) = self.playback.as_ref().map(|p| Arc::clone(&p.sent)) {
            self.count_sent(&sent);
        }
    }

    fn count_sent(&mut self, sent: &Direct) {
        let bytes = sent.take_sent();
        if bytes > 0 {
            self.bytes_out = self.bytes_out.saturating_add(bytes);
            crate::ops::metrics::Metrics::add(&self.ctx.metrics.bytes_out, bytes);
        }
    }

    /// After the player's socket ended: the write error, when the writer thread ended it
    /// (a write timeout or reset) rather than the peer closing. The writer stores it before
    /// shutting the socket down, so it is there by the time this thread reads EOF.
    pub(super) fn player_write_failure(&mut self) -> Option<CloseReason> {
        let playback = self.playback.as_ref()?;
        let error = playback
            .sent
            .writer_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        Some(match error.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => CloseReason::Timeout("write"),
            _ => CloseReason::Io(error),
        })
    }
}

/// Starts the writer thread, monomorphised per socket kind (plain TCP keeps its own code).
fn spawn_writer<S: PlayerSocket + Send + 'static>(
    threads: &ThreadTracker,
    name: String,
    socket: S,
    input: PlayerWriterInput,
    stream_id: u32,
    chunk_size: u32,
    base: Option<u32>,
) -> std::io::Result<JoinHandle<()>> {
    threads.spawn(name, move || run_writer(socket, input, stream_id, chunk_size, base))
}

fn protocol(e: crate::protocol::session::SessionError) -> CloseReason {
    CloseReason::Protocol(e.to_string())
}
