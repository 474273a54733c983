//! The blocking HTTP server's socket glue: an acceptor thread admits connections through the
//! connection table (evicting or refusing at the cap), and each admitted connection gets one
//! tracked thread that reads requests under the timeout, calls the handler and writes the
//! response, keeping the connection alive between requests when the client asks.

use super::options::HttpOptions;
use super::request::{Method, Request, RequestBuffer, RequestError};
use super::response::Response;
use super::slots::{Admission, ConnTable, Phase};
use crate::threads::ThreadTracker;
use log::{debug, warn};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What answers each request.
pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

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
    handler: Arc<Handler>,
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

/// Binds `addr` and serves `handler` on it from a background thread; returns the bound
/// address.
pub fn start(addr: SocketAddr, options: HttpOptions, handler: Arc<Handler>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let shared = Arc::new(Shared {
        table: Mutex::new(ConnTable::new(options.max_connections)),
        freed: Condvar::new(),
        options,
        handler,
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
        let mut admission = table.admit(Arc::clone(&stream), now);
        while admission == Admission::Wait {
            let left = give_up.saturating_duration_since(Instant::now());
            if left.is_zero() {
                admission = Admission::Refuse;
                break;
            }
            table = match shared.freed.wait_timeout(table, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
            admission = table.admit(Arc::clone(&stream), Instant::now());
        }
        if let Admission::Admit {
            evict: Some(victim), ..
        } = admission
        {
            if let Some(socket) = table.handle(victim) {
                let who = socket.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                debug!("HTTP connection evicted at the cap remote={who}");
                // Wakes the victim's thread from its read; it sees the close and ends.
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        (admission, table.cap_warning_due(now), table.open())
    };
    if warn_cap {
        warn!(
            "HTTP connection cap reached, connections without a whole request are evicted (503 while all are busy) open={open} max={}",
            shared.options.max_connections
        );
    }
    let id = match admission {
        Admission::Admit { id, .. } => id,
        Admission::Wait | Admission::Refuse => {
            debug!("HTTP connection refused, every connection is busy remote={remote}");
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
        shared.table().remove(id);
        shared.freed.notify_all();
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
        self.shared.table().remove(self.id);
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

/// One connection's life: requests in, responses out, until close, timeout or eviction.
fn serve(socket: &TcpStream, remote: SocketAddr, id: u64, shared: &Shared) {
    let _slot = SlotGuard { shared, id };
    let mut stream = socket;
    let timeout = shared.options.timeout;
    if stream.set_write_timeout(Some(timeout)).is_err() {
        return;
    }
    let mut buffer = RequestBuffer::new();
    loop {
        let deadline = Instant::now() + timeout;
        let request = match read_request(&mut stream, &mut buffer, remote, deadline) {
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
                finish(stream, Some(&Response::error(408, "request timeout")), shared, id);
                return;
            }
            Err(ReadEnd::Refused(e)) => {
                warn!(
                    "HTTP bad request, connection closed remote={remote} status={} error=\"{e}\"",
                    e.status()
                );
                finish(stream, Some(&Response::error(e.status(), &e.to_string())), shared, id);
                return;
            }
        };
        if !shared.set_phase(id, Phase::Busy) {
            return;
        }
        let response = (shared.handler)(&request);
        let keep_alive = request.keep_alive() && response.stream.is_none();
        let head_only = request.method == Method::Head;
        let bytes = response.encode(keep_alive, head_only, OffsetDateTime::now_utc());
        if let Err(e) = stream.write_all(&bytes) {
            debug!("HTTP response not sent remote={remote} error=\"{e}\"");
            return;
        }
        if let (Some(body), false) = (response.stream.as_ref().and_then(|s| s.take()), head_only) {
            let mut out: &TcpStream = stream;
            if let Err(e) = body(&mut out) {
                debug!("HTTP streamed body ended remote={remote} error=\"{e}\"");
            }
        }
        if let (Some(range), false) = (&response.file, head_only) {
            // The head is out: a file that cannot be read now ends the connection (the
            // client sees a short body), as does a reader slower than the write timeout.
            if let Err(e) = send_file(&mut stream, range) {
                debug!("HTTP file body not sent remote={remote} error=\"{e}\"");
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

/// Reads until `buffer` yields a whole request, within `deadline`.
fn read_request(
    stream: &mut &TcpStream,
    buffer: &mut RequestBuffer,
    remote: SocketAddr,
    deadline: Instant,
) -> Result<Request, ReadEnd> {
    let mut chunk = [0u8; READ_CHUNK];
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
            Ok(n) => buffer.feed(chunk.get(..n).unwrap_or_default()),
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
