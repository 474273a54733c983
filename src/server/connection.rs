//! One connection's thread: reads the socket, feeds the sans-IO session, writes its replies
//! (directly, or through the player writer once the connection plays), and dispatches the
//! session's events to the publishing and playing halves (`publishing.rs`, `playing.rs`),
//! whose requests go through the decision point (`decision/`): while one is pending the
//! thread waits for it and reads nothing.
//! On the RTMPS port it first runs the TLS handshake, against the same handshake deadline.

use super::context::ServerContext;
use super::playing::Playback;
use super::publishing::Publication;
use super::transport::ServerTransport;
use crate::ops::metrics::Metrics;
use crate::protocol::handshake::{filler_random, RANDOM_SIZE};
use crate::protocol::session::{ServerSession, SessionConfig, SessionEvent};
use crate::tls::server_stream::{self, TlsAcceptError};
use log::{debug, info, warn};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a playing connection (which rarely sends anything) checks its wait timeout.
pub const PLAYER_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(super) enum CloseReason {
    PeerClosed,
    Timeout(&'static str),
    Io(io::Error),
    Protocol(String),
    Tls(TlsAcceptError),
    Rejected(&'static str),
    Kicked(&'static str),
    Shutdown,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::PeerClosed => write!(f, "peer_closed"),
            CloseReason::Timeout(what) => write!(f, "{what}_timeout"),
            CloseReason::Io(e) => write!(f, "io_error error=\"{e}\""),
            CloseReason::Protocol(e) => write!(f, "protocol_error error=\"{e}\""),
            CloseReason::Tls(e) => write!(f, "tls_error error=\"{e}\""),
            CloseReason::Rejected(why) => write!(f, "rejected error=\"{why}\""),
            CloseReason::Kicked(why) => write!(f, "{why}"),
            CloseReason::Shutdown => write!(f, "server_shutdown"),
        }
    }
}

pub(super) struct Connection {
    pub(super) ctx: Arc<ServerContext>,
    pub(super) socket: ServerTransport,
    pub(super) conn_id: u64,
    pub(super) remote: SocketAddr,
    pub(super) session: ServerSession,
    pub(super) app: String,
    pub(super) publications: HashMap<u32, Publication>,
    pub(super) playback: Option<Playback>,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    /// A reconnect request went out (API or shutdown); see `reconnect.rs`.
    pub(super) reconnect_requested: bool,
}

/// Runs a connection to its end (after the TLS handshake when `tls` is set). Never panics
/// on peer input; every exit is logged.
pub fn serve(
    ctx: Arc<ServerContext>,
    socket: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    conn_id: u64,
    remote: SocketAddr,
) {
    let scheme = if tls.is_some() { " tls=true" } else { "" };
    info!("connection opened conn_id={conn_id} remote={remote}{scheme}");
    Metrics::add(&ctx.metrics.connections_total, 1);
    let started = Instant::now();
    let socket = match tls {
        None => ServerTransport::Plain(socket),
        Some(config) => match tls_handshake(&ctx, socket, config, conn_id, remote, started) {
            Some(stream) => stream,
            None => return,
        },
    };
    let session_config = SessionConfig {
        chunk_size: ctx.config.chunk_size,
        limits: ctx.config.limits.session_limits(),
        ..SessionConfig::default()
    };
    let epoch = ctx.started.elapsed().as_millis() as u32;
    let session = ServerSession::new(session_config, handshake_random(conn_id), epoch);
    let mut connection = Connection {
        ctx,
        socket,
        conn_id,
        remote,
        session,
        app: String::new(),
        publications: HashMap::new(),
        playback: None,
        bytes_in: 0,
        bytes_out: 0,
        reconnect_requested: false,
    };
    let mut reason = connection.run(started);
    if let Some(why) = connection.ctx.take_kick_reason(conn_id) {
        reason = CloseReason::Kicked(why);
    }
    connection.end_all_publications("disconnect");
    connection.end_playback("disconnect");
    connection.socket.close();
    connection.ctx.unregister_socket(conn_id);
    info!(
        "connection closed conn_id={conn_id} remote={remote} reason={reason} bytes_in={} bytes_out={} duration_s={:.1}",
        connection.bytes_in,
        connection.bytes_out,
        started.elapsed().as_secs_f64()
    );
}

/// The TLS handshake within the handshake deadline; on failure logs the close and returns None.
fn tls_handshake(
    ctx: &ServerContext,
    socket: TcpStream,
    config: Arc<rustls::ServerConfig>,
    conn_id: u64,
    remote: SocketAddr,
    started: Instant,
) -> Option<ServerTransport> {
    let deadline = started + ctx.config.limits.handshake_timeout;
    let e = match server_stream::accept(config, socket, deadline) {
        Ok(stream) => return Some(ServerTransport::Tls(Box::new(stream))),
        Err(e) => e,
    };
    let reason = match e {
        _ if ctx.is_shutting_down() => CloseReason::Shutdown,
        TlsAcceptError::Timeout => CloseReason::Timeout("handshake"),
        TlsAcceptError::Closed => CloseReason::PeerClosed,
        e => {
            warn!("TLS handshake failed conn_id={conn_id} remote={remote} error=\"{e}\"");
            CloseReason::Tls(e)
        }
    };
    ctx.unregister_socket(conn_id);
    info!(
        "connection closed conn_id={conn_id} remote={remote} reason={reason} bytes_in=0 bytes_out=0 duration_s={:.1}",
        started.elapsed().as_secs_f64()
    );
    None
}

/// Handshake randomness: not secret, only needs to differ between connections.
fn handshake_random(conn_id: u64) -> [u8; RANDOM_SIZE] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    filler_random(nanos ^ conn_id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Connection {
    fn run(&mut self, started: Instant) -> CloseReason {
        let limits = self.ctx.config.limits.clone();
        if let Err(e) = self.socket.tcp().set_write_timeout(Some(limits.write_timeout)) {
            return CloseReason::Io(e);
        }
        let _ = self.socket.tcp().set_nodelay(true);
        let mut buffer = super::read_buffer::ReadBuffer::default();
        let mut last_input = Instant::now();
        loop {
            // At shutdown a publisher stays (until the server closes it) to be asked to
            // reconnect; everything else ends now.
            if self.ctx.is_shutting_down() && self.publications.is_empty() {
                return CloseReason::Shutdown;
            }
            if let Some(reason) = self.serve_reconnect_requests() {
                return reason;
            }
            if let Some(reason) = self.check_play_wait() {
                return reason;
            }
            let (timeout, phase) = if self.playback.is_some() {
                (PLAYER_POLL_INTERVAL, "play")
            } else if self.session.media_received() {
                (limits.idle_timeout, "idle")
            } else if self.session.handshake_done() {
                (limits.first_packet_timeout, "first_packet")
            } else {
                match limits.handshake_timeout.checked_sub(started.elapsed()) {
                    Some(left) if !left.is_zero() => (left, "handshake"),
                    _ => return CloseReason::Timeout("handshake"),
                }
            };
            // A publisher's read wakes at least every REQUEST_POLL_INTERVAL (its mailbox);
            // its idle time counts from its last input.
            let publishing = !self.publications.is_empty() && self.playback.is_none();
            let timeout = if publishing {
                // Players' held frames (`play_coalesce`) leave when due; the read ends by then.
                self.flush_held_frames();
                match timeout.checked_sub(last_input.elapsed()) {
                    Some(left) if !left.is_zero() => left.min(super::reconnect::REQUEST_POLL_INTERVAL),
                    _ => return CloseReason::Timeout(phase),
                }
            } else {
                timeout
            };
            if let Err(e) = self.socket.tcp().set_read_timeout(Some(timeout)) {
                return CloseReason::Io(e);
            }
            // Held frames due before input comes: the loop's top sends them. (A socket read
            // timeout ticks in scheduler jiffies, 4 ms or more; poll's is precise.)
            if publishing {
                if let Some(deadline) = self.held_deadline() {
                    if !super::delivery::readable_before(self.socket.tcp(), deadline) {
                        continue;
                    }
                }
            }
            // Requests are decided before the next read (`decision`), so the session has room;
            // reading no more than it takes keeps held input within MAX_PENDING_INPUT anyway
            // (with no room, one byte is read and refused: a protocol error that closes).
            let room = self.session.input_room().max(1);
            let space = buffer.space();
            let space_len = space.len().min(room);
            let read = match self.socket.read(space.get_mut(..space_len).unwrap_or_default()) {
                Ok(0) if self.ctx.is_shutting_down() => return CloseReason::Shutdown,
                Ok(0) => return self.player_write_failure().unwrap_or(CloseReason::PeerClosed),
                Ok(n) => n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if self.playback.is_some() {
                        self.collect_player_bytes();
                        continue;
                    }
                    if publishing {
                        continue; // the idle deadline is checked before the next read
                    }
                    return CloseReason::Timeout(phase);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if self.ctx.is_shutting_down() => {
                    debug!("read after shutdown conn_id={} error=\"{e}\"", self.conn_id);
                    return CloseReason::Shutdown;
                }
                Err(e) => return self.player_write_failure().unwrap_or(CloseReason::Io(e)),
            };
            last_input = Instant::now();
            self.bytes_in += read as u64;
            Metrics::add(&self.ctx.metrics.bytes_in, read as u64);
            let input = buffer.filled(read);
            let handled = self.session.handle_input(input);
            if let Err(e) = handled {
                // Replies produced before the error still go out (e.g. an _error result).
                let _ = self.flush_output();
                warn!(
                    "protocol error conn_id={} remote={} error=\"{e}\"",
                    self.conn_id, self.remote
                );
                Metrics::add(&self.ctx.metrics.protocol_errors, 1);
                return CloseReason::Protocol(e.to_string());
            }
            // Events first, replies after: a reply tells the peer that everything it sent
            // before has been handled (recorded, relayed), not only parsed.
            if let Some(reason) = self.handle_events() {
                let _ = self.flush_output();
                return reason;
            }
            if let Err(e) = self.flush_output() {
                return CloseReason::Io(e);
            }
        }
    }

    /// Sends the session's replies: straight to the socket, or (while playing) through the
    /// player writer so they never interleave with media chunks.
    pub(super) fn flush_output(&mut self) -> io::Result<()> {
        if self.session.has_output() {
            let output = self.session.take_output();
            self.bytes_out += output.len() as u64;
            Metrics::add(&self.ctx.metrics.bytes_out, output.len() as u64);
            match &self.playback {
                Some(playback) => playback.send_control(output, self.ctx.config.limits.write_timeout)?,
                None => self.socket.write_all(&output)?,
            }
        }
        Ok(())
    }

    /// Acts on the session's events; returns a reason when the connection must close.
    fn handle_events(&mut self) -> Option<CloseReason> {
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::HandshakeDone { kind } => {
                    debug!("handshake done conn_id={} kind={kind:?}", self.conn_id);
                }
                SessionEvent::Connect {
                    app,
                    tc_url,
                    flash_ver,
                    object_encoding,
                } => {
                    // A query (in the tcUrl or the app) may carry the client's key: never logged.
                    info!(
                        "connect conn_id={} remote={} app={:?} tc_url={:?} flash_ver={flash_ver:?} object_encoding={object_encoding}",
                        self.conn_id,
                        self.remote,
                        query_hidden(&app),
                        query_hidden(&tc_url)
                    );
                    let query = tc_url.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
                    self.ctx.events.emit(crate::events::Event::Connected {
                        app: app.clone(),
                        conn_id: self.conn_id,
                        remote: self.remote,
                        query: crate::events::Query(query),
                    });
                    self.app = app;
                }
                SessionEvent::PublishRequest {
                    stream_id,
                    name,
                    query,
                    publish_type,
                } => {
                    if let Some(reason) = self.on_publish_request(stream_id, name, &query, &publish_type) {
                        return Some(reason);
                    }
                }
                SessionEvent::Unpublish { stream_id } => self.end_publication(stream_id, "unpublish"),
                SessionEvent::Media {
                    stream_id,
                    kind,
                    timestamp,
                    payload,
                    metadata,
                } => {
                    self.on_media(stream_id, kind, timestamp, payload, metadata);
                }
                SessionEvent::PlayRequest { stream_id, name, query } => {
                    if let Some(reason) = self.on_play_request(stream_id, name, &query) {
                        return Some(reason);
                    }
                }
                SessionEvent::PlayStop { .. } => self.end_playback("stop"),
                SessionEvent::UnknownCommand { name } => {
                    info!("unknown command conn_id={} command={name:?}", self.conn_id);
                }
                SessionEvent::PeerChunkSize(size) => {
                    debug!("peer chunk size conn_id={} size={size}", self.conn_id);
                }
            }
        }
        None
    }
}

/// `text` with whatever follows its first `?` replaced by `***` (for the log).
pub(super) fn query_hidden(text: &str) -> std::borrow::Cow<'_, str> {
    match text.split_once('?') {
        Some((before, _)) => format!("{before}?***").into(),
        None => text.into(),
    }
}
