//! systemd integration: sd_notify messages (READY=1, STOPPING=1, WATCHDOG=1) on
//! $NOTIFY_SOCKET with std's UnixDatagram (a leading '@' names an abstract socket), the
//! watchdog pinger thread, and socket activation (LISTEN_FDS/LISTEN_PID: serve on fd 3).

use log::{debug, error, info, warn};
use std::fmt;
use std::io;
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

/// Environment variables systemd sets.
pub const NOTIFY_SOCKET_ENV: &str = "NOTIFY_SOCKET";
pub const WATCHDOG_USEC_ENV: &str = "WATCHDOG_USEC";
pub const WATCHDOG_PID_ENV: &str = "WATCHDOG_PID";
/// Pings go out at this fraction of the watchdog timeout (systemd recommends half).
pub const WATCHDOG_PING_DIVISOR: u32 = 2;
/// Shortest ping interval, however small WATCHDOG_USEC is.
pub const MIN_WATCHDOG_INTERVAL: Duration = Duration::from_millis(50);

/// Sends state changes to the service manager.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: SocketAddr,
}

impl Notifier {
    /// The notifier for $NOTIFY_SOCKET, or None when systemd did not ask for notifications.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var(NOTIFY_SOCKET_ENV) {
            Ok(path) if !path.is_empty() => Notifier::new(&path).map(Some),
            _ => Ok(None),
        }
    }

    /// A notifier for a socket path, or an abstract name written `@name`.
    pub fn new(path: &str) -> io::Result<Notifier> {
        let target = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(path)?,
        };
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            target,
        })
    }

    /// Sends one message, e.g. "READY=1".
    pub fn notify(&self, state: &str) -> io::Result<()> {
        self.socket.send_to_addr(state.as_bytes(), &self.target).map(|_| ())
    }

    /// Sends and logs a failure instead of returning it (notification is best effort).
    pub fn notify_or_log(&self, state: &str) {
        match self.notify(state) {
            Ok(()) => debug!("systemd notified state={}", state.replace('\n', ",")),
            Err(e) => warn!("systemd notify failed state={} error=\"{e}\"", state.replace('\n', ",")),
        }
    }
}

/// The ping interval systemd asks for (WATCHDOG_USEC, for this process per WATCHDOG_PID).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var(WATCHDOG_USEC_ENV).ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var(WATCHDOG_PID_ENV) {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    if usec == 0 {
        return None;
    }
    let interval = Duration::from_micros(usec) / WATCHDOG_PING_DIVISOR;
    Some(interval.max(MIN_WATCHDOG_INTERVAL))
}

/// Starts a thread that checks `healthy()` every `interval` and sends WATCHDOG=1 only when
/// it holds (a wedged server stops pinging, so systemd restarts it).
pub fn start_watchdog(
    notifier: Arc<Notifier>,
    interval: Duration,
    mut healthy: impl FnMut() -> bool + Send + 'static,
) -> io::Result<()> {
    info!("systemd watchdog enabled interval_ms={}", interval.as_millis());
    std::thread::Builder::new().name("watchdog".into()).spawn(move || {
        let mut was_healthy = true;
        loop {
            let now_healthy = healthy();
            if now_healthy {
                if let Err(e) = notifier.notify("WATCHDOG=1") {
                    warn!("systemd watchdog ping failed error=\"{e}\"");
                }
            }
            match (was_healthy, now_healthy) {
                (true, false) => error!("systemd watchdog not pinged, accept loop stuck"),
                (false, true) => info!("systemd watchdog pings again, accept loop back"),
                _ => {}
            }
            was_healthy = now_healthy;
            std::thread::sleep(interval);
        }
    })?;
    Ok(())
}

/// Why the socket systemd passed cannot be served.
#[derive(Debug)]
pub enum ActivationError {
    /// fd 3 is not a listening TCP socket.
    NotTcp(io::Error),
    /// More than one socket was passed; this server serves exactly one.
    TooMany(usize),
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::NotTcp(e) => write!(f, "passed fd is not a TCP listener: {e}"),
            ActivationError::TooMany(n) => write!(f, "{n} sockets passed, expected 1"),
        }
    }
}

impl std::error::Error for ActivationError {}

/// The listening socket passed by socket activation (LISTEN_FDS=1 and LISTEN_PID equal to
/// this process), or None when the server should bind --listen itself. Call it before any
/// thread starts: it removes LISTEN_FDS/LISTEN_PID from the environment.
///
/// The `listenfd` crate turns fd 3 into a `TcpListener`; std has no safe way to adopt an
/// inherited descriptor and team rules forbid our own `unsafe`.
pub fn inherited_listener() -> Result<Option<TcpListener>, ActivationError> {
    let mut fds = listenfd::ListenFd::from_env();
    match fds.len() {
        0 => Ok(None),
        1 => {
            let listener = fds.take_tcp_listener(0).map_err(ActivationError::NotTcp)?;
            // Blocking accepts: systemd may pass the socket non-blocking (NonBlocking=yes).
            if let Some(listener) = &listener {
                listener.set_nonblocking(false).map_err(ActivationError::NotTcp)?;
            }
            Ok(listener)
        }
        n => Err(ActivationError::TooMany(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifies_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("rtmp-notify-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        Notifier::new(path.to_str().unwrap())
            .unwrap()
            .notify("READY=1")
            .unwrap();
        let mut buffer = [0u8; 64];
        let n = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn notifies_an_abstract_socket() {
        let name = format!("rtmp-notify-unit-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&addr).unwrap();
        Notifier::new(&format!("@{name}"))
            .unwrap()
            .notify("STOPPING=1")
            .unwrap();
        let mut buffer = [0u8; 64];
        let n = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"STOPPING=1");
    }
}
