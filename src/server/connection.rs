//! One connection's thread: reads the socket, feeds the sans-IO session, writes its replies,
//! and acts on its events (registry claims, recorders, statistics, logs).

use super::context::ServerContext;
use super::registry::StreamKey;
use super::stats::MediaStats;
use crate::media::{Frame, FrameKind};
use crate::protocol::handshake::RANDOM_SIZE;
use crate::protocol::session::{ServerSession, SessionConfig, SessionEvent};
use crate::record::recorder::Recorder;
use log::{debug, info, warn};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

/// Bytes read from the socket at a time.
pub const READ_BUFFER_SIZE: usize = 64 * 1024;

/// Why a connection ended, for the log.
#[derive(Debug)]
enum CloseReason {
    PeerClosed,
    Timeout(&'static str),
    Io(io::Error),
    Protocol(String),
    Rejected(&'static str),
    Shutdown,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::PeerClosed => write!(f, "peer_closed"),
            CloseReason::Timeout(what) => write!(f, "{what}_timeout"),
            CloseReason::Io(e) => write!(f, "io_error error=\"{e}\""),
            CloseReason::Protocol(e) => write!(f, "protocol_error error=\"{e}\""),
            CloseReason::Rejected(why) => write!(f, "rejected error=\"{why}\""),
            CloseReason::Shutdown => write!(f, "server_shutdown"),
        }
    }
}

/// A stream this connection publishes.
struct Publication {
    key: StreamKey,
    recorder: Option<Recorder>,
    stats: MediaStats,
}

struct Connection {
    ctx: Arc<ServerContext>,
    socket: TcpStream,
    conn_id: u64,
    remote: SocketAddr,
    session: ServerSession,
    app: String,
    publications: HashMap<u32, Publication>,
    bytes_in: u64,
    bytes_out: u64,
}

/// Runs a connection to its end. Never panics on peer input; every exit is logged.
pub fn serve(ctx: Arc<ServerContext>, socket: TcpStream, conn_id: u64, remote: SocketAddr) {
    info!("connection opened conn_id={conn_id} remote={remote}");
    let started = Instant::now();
    let session_config = SessionConfig {
        chunk_size: ctx.config.chunk_size,
        limits: ctx.config.limits.clone(),
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
        bytes_in: 0,
        bytes_out: 0,
    };
    let reason = connection.run(started);
    connection.end_all_publications("disconnect");
    connection.ctx.unregister_socket(conn_id);
    info!(
        "connection closed conn_id={conn_id} remote={remote} reason={reason} bytes_in={} bytes_out={} duration_s={:.1}",
        connection.bytes_in,
        connection.bytes_out,
        started.elapsed().as_secs_f64()
    );
}

/// Handshake randomness: not secret, only needs to differ between connections.
fn handshake_random(conn_id: u64) -> [u8; RANDOM_SIZE] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut state = nanos ^ conn_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut random = [0u8; RANDOM_SIZE];
    for byte in random.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    random
}

impl Connection {
    fn run(&mut self, started: Instant) -> CloseReason {
        let limits = self.ctx.config.limits.clone();
        if let Err(e) = self.socket.set_write_timeout(Some(limits.write_timeout)) {
            return CloseReason::Io(e);
        }
        let _ = self.socket.set_nodelay(true);
        let mut buffer = vec![0u8; READ_BUFFER_SIZE];
        loop {
            if self.ctx.is_shutting_down() {
                return CloseReason::Shutdown;
            }
            let (timeout, phase) = if self.session.handshake_done() {
                (limits.idle_timeout, "idle")
            } else {
                match limits.handshake_timeout.checked_sub(started.elapsed()) {
                    Some(left) if !left.is_zero() => (left, "handshake"),
                    _ => return CloseReason::Timeout("handshake"),
                }
            };
            if let Err(e) = self.socket.set_read_timeout(Some(timeout)) {
                return CloseReason::Io(e);
            }
            let read = match self.socket.read(&mut buffer) {
                Ok(0) if self.ctx.is_shutting_down() => return CloseReason::Shutdown,
                Ok(0) => return CloseReason::PeerClosed,
                Ok(n) => n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return CloseReason::Timeout(phase);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if self.ctx.is_shutting_down() => {
                    debug!("read after shutdown conn_id={} error=\"{e}\"", self.conn_id);
                    return CloseReason::Shutdown;
                }
                Err(e) => return CloseReason::Io(e),
            };
            self.bytes_in += read as u64;
            let input = buffer.get(..read).unwrap_or(&[]);
            let handled = self.session.handle_input(input);
            // Replies produced before an error still go out (e.g. an _error result).
            if let Err(e) = self.flush_output() {
                return CloseReason::Io(e);
            }
            if let Err(e) = handled {
                warn!(
                    "protocol error conn_id={} remote={} error=\"{e}\"",
                    self.conn_id, self.remote
                );
                return CloseReason::Protocol(e.to_string());
            }
            if let Some(reason) = self.handle_events() {
                let _ = self.flush_output();
                return reason;
            }
            if let Err(e) = self.flush_output() {
                return CloseReason::Io(e);
            }
        }
    }

    fn flush_output(&mut self) -> io::Result<()> {
        if self.session.has_output() {
            let output = self.session.take_output();
            self.socket.write_all(&output)?;
            self.bytes_out += output.len() as u64;
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
                    info!(
                        "connect conn_id={} remote={} app={app} tc_url={tc_url} flash_ver=\"{flash_ver}\" object_encoding={object_encoding}",
                        self.conn_id, self.remote
                    );
                    self.app = app;
                }
                SessionEvent::PublishRequest {
                    stream_id,
                    name,
                    publish_type,
                    ..
                } => {
                    if let Some(reason) = self.on_publish_request(stream_id, name, &publish_type) {
                        return Some(reason);
                    }
                }
                SessionEvent::Unpublish { stream_id } => self.end_publication(stream_id, "unpublish"),
                SessionEvent::Media {
                    stream_id,
                    kind,
                    timestamp,
                    payload,
                    ..
                } => {
                    self.on_media(stream_id, kind, timestamp, payload);
                }
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

    fn on_publish_request(&mut self, stream_id: u32, name: String, publish_type: &str) -> Option<CloseReason> {
        let key = StreamKey {
            app: self.app.clone(),
            stream: name,
        };
        if let Err(conflict) = self.ctx.registry.claim(&key, self.conn_id) {
            warn!(
                "publish rejected conn_id={} remote={} app={} stream={} error=\"already publishing\" holder_conn_id={}",
                self.conn_id, self.remote, key.app, key.stream, conflict.by_conn_id
            );
            let _ = self
                .session
                .reject_publish(stream_id, "NetStream.Publish.BadName", "Stream already publishing");
            return Some(CloseReason::Rejected("stream already publishing"));
        }
        info!(
            "publish conn_id={} remote={} app={} stream={} type={publish_type}",
            self.conn_id, self.remote, key.app, key.stream
        );
        let recorder = self.start_recorder(&key);
        let publication = Publication {
            key,
            recorder,
            stats: MediaStats::new(Instant::now()),
        };
        if let Some(previous) = self.publications.insert(stream_id, publication) {
            self.ctx.registry.release(&previous.key, self.conn_id);
        }
        // Accepting resumes the input held since the request; its media follows as events.
        match self.session.accept_publish(stream_id) {
            Ok(()) => None,
            Err(e) => Some(CloseReason::Protocol(e.to_string())),
        }
    }

    /// The recording manager decides: patterns, a parked recording to continue, or a new one.
    fn start_recorder(&self, key: &StreamKey) -> Option<Recorder> {
        self.ctx.recordings.start(&key.app, &key.stream, self.conn_id)
    }

    fn on_media(&mut self, stream_id: u32, kind: FrameKind, timestamp: u32, payload: Vec<u8>) {
        let Some(publication) = self.publications.get_mut(&stream_id) else {
            return;
        };
        publication.stats.count(kind, payload.len());
        let frame = Frame::new(kind, timestamp, Arc::from(payload));
        if let Some(recorder) = publication.recorder.as_mut() {
            if !recorder.send(&frame) {
                warn!(
                    "recording stopped, ingest continues conn_id={} app={} stream={}",
                    self.conn_id, publication.key.app, publication.key.stream
                );
                publication.recorder = None;
            }
        }
        if let Some(report) = publication.stats.due_report(Instant::now()) {
            log_stats(self.conn_id, &publication.key, report);
        }
    }

    fn end_publication(&mut self, stream_id: u32, why: &str) {
        let Some(mut publication) = self.publications.remove(&stream_id) else {
            return;
        };
        // A clean unpublish finalizes at once; a lost publisher's recording waits for the
        // reconnect gap (the manager decides; its writer drains, finalizes and logs).
        if let Some(recorder) = publication.recorder.take() {
            let key = &publication.key;
            self.ctx
                .recordings
                .finish(recorder, &key.app, &key.stream, why == "unpublish");
        }
        self.ctx.registry.release(&publication.key, self.conn_id);
        info!(
            "unpublish conn_id={} app={} stream={} reason={why}",
            self.conn_id, publication.key.app, publication.key.stream
        );
        log_stats(self.conn_id, &publication.key, publication.stats.report(Instant::now()));
    }

    fn end_all_publications(&mut self, why: &str) {
        let ids: Vec<u32> = self.publications.keys().copied().collect();
        for stream_id in ids {
            self.end_publication(stream_id, why);
        }
    }
}

fn log_stats(conn_id: u64, key: &StreamKey, report: super::stats::StatsReport) {
    info!(
        "media statistics conn_id={conn_id} app={} stream={} audio_packets={} video_packets={} bytes={} bitrate_kbps={:.0}",
        key.app, key.stream, report.audio_packets, report.video_packets, report.bytes, report.bitrate_kbps
    );
}
