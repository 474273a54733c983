//! The blocking HTTP server's socket glue: an acceptor thread admits connections through the
//! connection table (evicting or refusing at the caps), and each admitted connection gets one
//! tracked thread that reads requests under the timeouts, calls the handler (CORS preflights
//! on viewer paths are answered here) and writes the response, keeping the connection alive
//! between requests when the client asks, up to `MAX_REQUESTS_PER_CONNECTION`.

use super::cors;
use super::options::HttpOptions;
use super::request::{Method, Request, RequestBuffer, RequestError};
use super::response::Response;
use super::slots::{Admission, Cap, ConnTable, Phase};
use super::stats::{DropReason, HttpStats};
use crate::threads::ThreadTracker;
use log::{debug, warn};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What answers each request.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// What the server serves: the handler, which paths are for viewers (CORS applies to
/// them), and where the counters go.
pub struct Service {
    pub handler: Arc<Handler>,
    /// True for a path (without query) whose responses get the `--http-cors-origin` headers.
    pub cors_paths: fn(&str) -> bool,
    pub stats: Arc<HttpStats>,
}

/// A keep-alive connection is closed after answering this many requests (the last response
/// says `Connection: close`), so no one connection holds its thread forever.
pub const MAX_REQUESTS_PER_CONNECTION: u32 = 1000;

/// Bytes asked for per socket read.
const READ_CHUNK: usize = 4096;
/// After a closing response, unread request bytes are drained (so the close does not reset
/// the connection and destroy the response) for at most this long...
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);
/// ...and at most this many bytes; then the socket is closed regardless.
const LINGER_MAX_BYTES: usize = 256 * 1024;
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// When only evicted connections (still ending) stand in the way, the acceptor waits this
/// long for one to end before it refuses the newcomer with 503.
const EVICTION_WAIT: Duration = Duration::from_secs(5);
/// The acceptor gives a refused connection's 503 at most this long to go out.
const REFUSE_WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// State shared by the acceptor and the connection threads.
struct Shared {
    table: Mutex<ConnTable<Arc<TcpStream>>>,
    /// Signalled whenever a connection leaves the table.
    freed: Condvar,
    options: HttpOptions,
    service: Service,
    threads: ThreadTracker,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, ConnTable<Arc<TcpStream>>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, id: u64, phase: Phase) -> bool {
        self.table().set_phase(id, phase, Instant::now())
    }
}

/// Binds `addr` and serves `service` on it from a background thread; returns the bound
/// address.
pub fn start(addr: SocketAddr, options: HttpOptions, service: Service) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let shared = Arc::new(Shared {
        table: Mutex::new(ConnTable::new(options.max_connections, options.max_connections_per_ip)),
        freed: Condvar::new(),
        options,
        service,
        threads: ThreadTracker::new(),
    });
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || accept_loop(&listener, &shared))?;
    Ok(bound)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        match listener.accept() {
            Ok((stream, remote)) => admit(stream, remote, shared),
            Err(e) => {
                warn!("HTTP accept failed error=\"{e}\"");
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
            }
        }
    }
}

/// Admits one accepted connection: evicts a waiting one at the cap, or refuses with 503.
fn admit(stream: TcpStream, remote: SocketAddr, shared: &Arc<Shared>) {
    // Shared with the table (no second descriptor) so an eviction can shut it down.
    let stream = Arc::new(stream);
    let now = Instant::now();
    let (admission, warn_cap, open) = {
        let mut table = shared.table();
        let give_up = now + EVICTION_WAIT;
        let mut admission = table.admit(remote.ip(), Arc::clone(&stream), now);
        while admission == Admission::Wait {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                admission = Admission::Refuse(Cap::Total);
                break;
            }
            table = match shared.freed.wait_timeout(table, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
            admission = table.admit(remote.ip(), Arc::clone(&stream), Instant::now());
        }
        if let Admission::Admit {
            evict: Some((victim, cap)),
            ..
        } = admission
        {
            if let Some(socket) = table.handle(victim) {
                let who = socket.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                debug!("HTTP connection evicted at the cap remote={who} cap={}", cap_name(cap));
                // Wakes the victim's thread from its read; it sees the close and ends.
                let _ = socket.shutdown(Shutdown::Both);
                shared.service.stats.dropped(DropReason::Evicted);
            }
        }
        shared.service.stats.set_open(table.open());
        let hit = match admission {
            Admission::Admit { evict, .. } => evict.map(|(_, cap)| cap),
            Admission::Refuse(cap) => Some(cap),
            Admission::Wait => Some(Cap::Total),
        };
        (admission, table.cap_warning_due(now, hit), table.open())
    };
    if let Some(cap) = warn_cap {
        let max = match cap {
            Cap::Total => shared.options.max_connections,
            Cap::PerIp => shared.options.max_connections_per_ip,
        };
        warn!(
            "HTTP connection cap reached, connections without a whole request are evicted (503 while all are busy) open={open} cap={} max={max} remote={remote}",
            cap_name(cap)
        );
    }
    let id = match admission {
        Admission::Admit { id, .. } => id,
        Admission::Wait | Admission::Refuse(_) => {
            let cap = match admission {
                Admission::Refuse(Cap::PerIp) => Cap::PerIp,
                _ => Cap::Total,
            };
            debug!(
                "HTTP connection refused, every connection under the cap is busy remote={remote} cap={}",
                cap_name(cap)
            );
            shared.service.stats.dropped(match cap {
                Cap::PerIp => DropReason::IpCap,
                Cap::Total => DropReason::Cap,
            });
            refuse(&stream);
            return;
        }
    };
    let worker = Arc::clone(shared);
    let spawned = shared
        .threads
        .spawn("http-conn".into(), move || serve(&stream, remote, id, &worker));
    if let Err(e) = spawned {
        warn!("HTTP connection thread not started remote={remote} error=\"{e}\"");
        let mut table = shared.table();
        table.remove(id);
        shared.service.stats.set_open(table.open());
        drop(table);
        shared.freed.notify_all();
    }
}

/// The flag that sets a cap, for log lines.
fn cap_name(cap: Cap) -> &'static str {
    match cap {
        Cap::Total => "http_max_connections",
        Cap::PerIp => "http_max_connections_per_ip",
    }
}

/// Answers 503 (best effort, briefly) and closes.
fn refuse(mut stream: &TcpStream) {
    let _ = stream.set_write_timeout(Some(REFUSE_WRITE_TIMEOUT));
    let bytes = Response::error(503, "too many HTTP connections").encode(false, false, OffsetDateTime::now_utc());
    let _ = stream.write_all(&bytes);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Forgets the connection in the table when its thread ends, however it ends.
struct SlotGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut table = self.shared.table();
        table.remove(self.id);
        self.shared.service.stats.set_open(table.open());
        drop(table);
        self.shared.freed.notify_all();
    }
}

/// Why no request was read.
enum ReadEnd {
    /// The peer closed, the socket failed, or the connection was evicted.
    Closed,
    /// The timeout passed with no byte of a request.
    Idle,
    /// The timeout passed with part of a request in.
    Slow,
    /// The bytes are not an acceptable request.
    Refused(RequestError),
}

/// One connection's life: requests in, responses out, until close, timeout, eviction or
/// `MAX_REQUESTS_PER_CONNECTION`.
fn serve(socket: &TcpStream, remote: SocketAddr, id: u64, shared: &Shared) {
    let _slot = SlotGuard { shared, id };
    let mut stream = socket;
    let timeout = shared.options.timeout;
    let stats = &shared.service.stats;
    if stream.set_write_timeout(Some(timeout)).is_err() {
        return;
    }
    let mut buffer = RequestBuffer::new();
    for served in 1..=MAX_REQUESTS_PER_CONNECTION {
        let request = match read_request(&mut stream, &mut buffer, remote, timeout) {
            Ok(request) => request,
            Err(ReadEnd::Closed) => return,
            Err(ReadEnd::Idle) => {
                debug!("HTTP idle connection closed remote={remote}");
                return;
            }
            Err(ReadEnd::Slow) => {
                warn!(
                    "HTTP request timed out, connection closed remote={remote} timeout_ms={}",
                    timeout.as_millis()
                );
                stats.dropped(DropReason::RequestTimeout);
                finish(stream, Some(&Response::error(408, "request timeout")), shared, id);
                return;
            }
            Err(ReadEnd::Refused(e)) => {
                warn!(
                    "HTTP bad request, connection closed remote={remote} status={} error=\"{e}\"",
                    e.status()
                );
                stats.dropped(match e {
                    RequestError::HeadTooLarge | RequestError::TooManyHeaders => DropReason::HeadTooLarge,
                    RequestError::BodyTooLarge(_) => DropReason::BodyTooLarge,
                    _ => DropReason::BadRequest,
                });
                finish(stream, Some(&Response::error(e.status(), &e.to_string())), shared, id);
                return;
            }
        };
        if !shared.set_phase(id, Phase::Busy) {
            return;
        }
        let response = answer(&request, shared);
        let keep_alive = request.keep_alive() && response.stream.is_none() && served < MAX_REQUESTS_PER_CONNECTION;
        let head_only = request.method == Method::Head;
        let bytes = response.encode(keep_alive, head_only, OffsetDateTime::now_utc());
        if let Err(e) = stream.write_all(&bytes) {
            send_failed(stats, remote, "response", &e);
            return;
        }
        if let (Some(body), false) = (response.stream.as_ref().and_then(|s| s.take()), head_only) {
            let mut out: &TcpStream = stream;
            if let Err(e) = body(&mut out) {
                send_failed(stats, remote, "streamed body", &e);
            }
        }
        if let (Some(range), false) = (&response.file, head_only) {
            // The head is out: a file that cannot be read now ends the connection (the
            // client sees a short body), as does a reader slower than the write timeout.
            if let Err(e) = send_file(&mut stream, range) {
                send_failed(stats, remote, "file body", &e);
                return;
            }
        }
        if !keep_alive {
            finish(stream, None, shared, id);
            return;
        }
        if !shared.set_phase(id, Phase::Waiting) {
            return;
        }
    }
}

/// The handler's response, with CORS on viewer paths when `--http-cors-origin` is set (a
/// preflight there is answered without the handler).
fn answer(request: &Request, shared: &Shared) -> Response {
    let cors = &shared.options.cors;
    if cors.is_off() || !(shared.service.cors_paths)(request.path()) {
        return (shared.service.handler)(request);
    }
    if cors::is_preflight(request) {
        return cors::preflight(cors, request);
    }
    cors::decorate(cors, request, (shared.service.handler)(request))
}

/// Logs a failed send; a write that timed out is a slow reader, dropped.
fn send_failed(stats: &HttpStats, remote: SocketAddr, what: &str, e: &io::Error) {
    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        stats.dropped(DropReason::SlowReader);
        debug!("HTTP slow reader dropped remote={remote} sending={what:?}");
    } else {
        debug!("HTTP {what} not sent remote={remote} error=\"{e}\"");
    }
}

/// Reads until `buffer` yields a whole request. With no byte of one yet, waits `timeout`
/// (Idle after); from its first byte the whole request must arrive within `timeout` (Slow
/// after), however slowly the bytes trickle in.
fn read_request(
    stream: &mut &TcpStream,
    buffer: &mut RequestBuffer,
    remote: SocketAddr,
    timeout: Duration,
) -> Result<Request, ReadEnd> {
    let mut chunk = [0u8; READ_CHUNK];
    let mut deadline = Instant::now() + timeout;
    let mut started = buffer.has_partial();
    loop {
        match buffer.next_request(remote) {
            Ok(Some(request)) => return Ok(request),
            Ok(None) => {}
            Err(e) => return Err(ReadEnd::Refused(e)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(if buffer.has_partial() {
                ReadEnd::Slow
            } else {
                ReadEnd::Idle
            });
        }
        stream.set_read_timeout(Some(left)).map_err(|_| ReadEnd::Closed)?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadEnd::Closed),
            Ok(n) => {
                if !started {
                    started = true;
                    deadline = Instant::now() + timeout;
                }
                buffer.feed(chunk.get(..n).unwrap_or_default());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(ReadEnd::Closed),
        }
    }
}

/// Closes the connection: writes `response` if given (None: the response already went out),
/// then shuts the write side and drains what the client still sends, briefly, so the close
/// does not reset the connection before the client read the response. The connection may be
/// evicted meanwhile.
fn finish(mut stream: &TcpStream, response: Option<&Response>, shared: &Shared, id: u64) {
    if !shared.set_phase(id, Phase::Waiting) {
        return;
    }
    if let Some(response) = response {
        if stream
            .write_all(&response.encode(false, false, OffsetDateTime::now_utc()))
            .is_err()
        {
            return;
        }
    }
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER_TIMEOUT;
    let mut drained = 0usize;
    let mut chunk = [0u8; READ_CHUNK];
    while drained < LINGER_MAX_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => drained += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Copies `range` of its file to the socket.
fn send_file(stream: &mut &TcpStream, range: &crate::http::response::FileRange) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(&range.path)?;
    file.seek(SeekFrom::Start(range.offset))?;
    let copied = io::copy(&mut file.take(range.length), stream)?;
    if copied < range.length {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shorter than announced",
        ));
    }
    Ok(())
}
