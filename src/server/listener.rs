//! The listener: binds, accepts connections (each on its own thread) until shutdown, then
//! closes every connection and waits for connections and recorders to finish. With
//! `--tls-listen` a second accept loop (same admission checks) serves RTMPS; its
//! connections run the TLS handshake on their own thread.

use super::connection;
use super::context::ServerContext;
use crate::config::Config;
use log::{error, info, warn};
use rustls::ServerConfig;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::UtcOffset;

pub use crate::events::bus::EVENTS_SHUTDOWN_GRACE;
/// How long shutdown waits for connections and then recorders to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(4000);

#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsListener>,
    srt: Option<super::srt::SrtListener>,
    ctx: Arc<ServerContext>,
}

/// The RTMPS listener and the configuration its connections use.
#[derive(Debug)]
struct TlsListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: Arc<ServerConfig>,
}

/// Stops a running server from another thread (signal handler, tests).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    ctx: Arc<ServerContext>,
    wake_addr: SocketAddr,
    tls_wake_addr: Option<SocketAddr>,
}

impl ShutdownHandle {
    /// Stops accepting and wakes the accept loop; `Server::run` then winds everything down.
    pub fn shutdown(&self) {
        if self.ctx.begin_shutdown() {
            info!("shutdown requested");
        }
        // The accept loop blocks in accept(); a connection to ourselves wakes it.
        let _ = TcpStream::connect_timeout(&self.wake_addr, Duration::from_secs(1));
        if let Some(addr) = self.tls_wake_addr {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
    }
}

impl Server {
    pub fn bind(config: Config, local_offset: UtcOffset) -> io::Result<Server> {
        let listener = super::bind::listen(config.listen)?;
        Server::from_listener(listener, config, local_offset)
    }

    /// Serves on a listener bound elsewhere (systemd socket activation); `config.listen`
    /// is not used.
    pub fn from_listener(listener: TcpListener, config: Config, local_offset: UtcOffset) -> io::Result<Server> {
        let local_addr = listener.local_addr()?;
        let ctx = Arc::new(ServerContext::new(config, local_offset));
        Ok(Server {
            listener,
            local_addr,
            tls: None,
            srt: None,
            ctx,
        })
    }

    /// Also accepts RTMPS on `addr` with this TLS configuration; returns the bound address.
    pub fn listen_tls(&mut self, addr: SocketAddr, config: Arc<ServerConfig>) -> io::Result<SocketAddr> {
        let listener = super::bind::listen(addr)?;
        let local_addr = listener.local_addr()?;
        self.tls = Some(TlsListener {
            listener,
            local_addr,
            config,
        });
        Ok(local_addr)
    }

    /// Also accepts SRT publishes (UDP) on `addr`; returns the bound address.
    pub fn listen_srt(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let listener = super::srt::SrtListener::bind(addr)?;
        let local_addr = listener.local_addr();
        self.srt = Some(listener);
        Ok(local_addr)
    }

    /// The RTMPS address, when `listen_tls` was called.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|tls| tls.local_addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn context(&self) -> Arc<ServerContext> {
        Arc::clone(&self.ctx)
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            ctx: Arc::clone(&self.ctx),
            wake_addr: wake_addr(self.local_addr),
            tls_wake_addr: self.tls.as_ref().map(|tls| wake_addr(tls.local_addr)),
        }
    }

    /// Accepts until shutdown, then closes connections and waits for recordings to be
    /// finalized. Returns true when everything finished within the grace period.
    pub fn run(mut self) -> bool {
        let srt = self.srt.take();
        let config = &self.ctx.config;
        info!(
            "RTMP server listening addr={} record_all={} record_dir={} chunk_size={}",
            self.local_addr,
            config.record_all,
            config.record_dir.display(),
            config.chunk_size
        );
        std::thread::scope(|scope| {
            if let Some(tls) = &self.tls {
                info!("RTMPS server listening addr={}", tls.local_addr);
                let accepting = std::thread::Builder::new()
                    .name("accept-tls".into())
                    .spawn_scoped(scope, || self.accept_loop(&tls.listener, Some(&tls.config)));
                if let Err(e) = accepting {
                    error!("RTMPS accept thread not started error=\"{e}\"");
                }
            }
            if let Some(srt) = srt {
                let ctx = &self.ctx;
                let serving = std::thread::Builder::new()
                    .name("srt".into())
                    .spawn_scoped(scope, move || srt.run(ctx));
                if let Err(e) = serving {
                    error!("SRT thread not started error=\"{e}\"");
                }
            }
            self.accept_loop(&self.listener, None);
        });
        drop(self.listener);
        drop(self.tls);
        super::reconnect::shutdown_grace(&self.ctx);
        self.ctx.close_all_sockets();
        let connections_done = self.ctx.connection_threads.wait_idle(SHUTDOWN_GRACE);
        // Recordings parked for a reconnect are finalized now, not after the gap.
        self.ctx.recordings.shutdown();
        let recorders_done = self.ctx.recorder_threads.wait_idle(SHUTDOWN_GRACE);
        // Ending connections stopped every push; give them a moment to unpublish upstream.
        if !self.ctx.pushes.wait_stopped() {
            warn!("pushes still ending at shutdown");
        }
        // HLS viewers have no connection to close: their sessions end now (play_stopped).
        self.ctx.hls.end_all();
        // No connection asks any more: the hook decision workers stop (bounded).
        self.ctx.hooks.shutdown();
        // Observers handle what they were told (hooks get their own bounded wait).
        if !self.ctx.events.close(Instant::now() + EVENTS_SHUTDOWN_GRACE) {
            warn!("event observers still busy at shutdown");
        }
        if !(connections_done && recorders_done) {
            error!(
                "shutdown grace period passed connections_left={} recorders_left={}",
                self.ctx.connection_threads.running(),
                self.ctx.recorder_threads.running()
            );
        }
        info!("server stopped");
        connections_done && recorders_done
    }

    /// Accepts on `listener` until shutdown; `tls` set: the RTMPS listener.
    /// The plain loop also drives the watchdog's accept heartbeat.
    fn accept_loop(&self, listener: &TcpListener, tls: Option<&Arc<ServerConfig>>) {
        let heartbeat = tls.is_none().then_some(&self.ctx.accept_heartbeat);
        if let Some(beat) = heartbeat {
            beat.entering_accept();
        }
        for incoming in listener.incoming() {
            if let Some(beat) = heartbeat {
                beat.left_accept();
            }
            if self.ctx.is_shutting_down() {
                break;
            }
            match incoming {
                Ok(socket) => self.spawn_connection(socket, tls.cloned()),
                Err(e) => {
                    warn!("accept failed error=\"{e}\"");
                    // Out of file descriptors and similar: do not spin.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            if let Some(beat) = heartbeat {
                beat.entering_accept();
            }
        }
    }

    fn spawn_connection(&self, socket: TcpStream, tls: Option<Arc<ServerConfig>>) {
        let remote = match socket.peer_addr() {
            Ok(addr) => addr,
            Err(_) => return,
        };
        if let Some(why) = self.admission_refusal(remote.ip()) {
            warn!("connection refused remote={remote} error=\"{why}\"");
            return;
        }
        let conn_id = self.ctx.next_conn_id();
        match socket.try_clone() {
            Ok(handle) => self.ctx.register_socket(conn_id, handle, remote.ip()),
            Err(e) => {
                warn!("connection refused remote={remote} error=\"{e}\"");
                return;
            }
        }
        let ctx = Arc::clone(&self.ctx);
        let spawned = self.ctx.connection_threads.spawn(format!("conn-{conn_id}"), move || {
            connection::serve(ctx, socket, tls, conn_id, remote)
        });
        if let Err(e) = spawned {
            self.ctx.unregister_socket(conn_id);
            error!("connection thread not started conn_id={conn_id} remote={remote} error=\"{e}\"");
        }
    }

    /// --deny, --max-connections and --max-connections-per-ip, checked right after accept.
    fn admission_refusal(&self, ip: IpAddr) -> Option<String> {
        let ops = &self.ctx.config.ops;
        let policies = self.ctx.policies.current();
        if let Some(range) = policies.deny.iter().find(|range| range.contains(ip)) {
            return Some(format!("denied by --deny {range}"));
        }
        let limit = self.ctx.config.limits.max_connections;
        if self.ctx.open_connections() >= limit {
            return Some(format!("max connections ({limit}) reached"));
        }
        let per_ip = ops.max_connections_per_ip;
        if per_ip > 0 && self.ctx.connections_from(ip) >= per_ip {
            return Some(format!("max connections per ip ({per_ip}) reached"));
        }
        None
    }
}

/// Where to connect to wake an accept loop bound to `addr` (loopback for a wildcard address).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}
