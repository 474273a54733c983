//! The SRT socket thread: one UDP socket, datagrams demultiplexed by source address. A new
//! address gets a pending handshake (srt-protocol's `Listen`, access control on) within the
//! limits (`--srt-max-connections`, `--max-connections-per-ip`, `--deny`,
//! `--handshake-timeout`); its publish decision runs on a thread of its own (`decide`);
//! once connected, the address's datagrams go to its connection thread (`connection`).

use super::connection::{self, Established};
use super::decide::{decide, Allowed};
use super::{contained, send_packet};
use crate::server::context::ServerContext;
use crate::srt::guard::{caller_crypto, CallerCrypto};
use crate::srt::options::{CONNECTION_QUEUE, MAX_DATAGRAM};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{debug, error, info, warn};
use srt_protocol::packet::{Packet, RejectReason};
use srt_protocol::protocol::pending_connection::listen::Listen;
use srt_protocol::protocol::pending_connection::{AccessControlResponse, ConnectionResult};
use srt_protocol::settings::ConnInitSettings;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the socket thread wakes without datagrams (shutdown, timeouts, decisions).
const POLL: Duration = Duration::from_millis(50);

/// What other threads tell the socket thread.
pub(super) enum Notice {
    Decided(SocketAddr, Result<Allowed, RejectReason>),
    Closed(SocketAddr),
}

/// A caller between its first handshake packet and its connection.
struct Pending {
    listen: Listen,
    started: Instant,
    conn_id: u64,
    crypto: CallerCrypto,
    deciding: bool,
    allowed: Option<Allowed>,
}

/// The bound SRT socket.
#[derive(Debug)]
pub struct SrtListener {
    socket: UdpSocket,
    local_addr: SocketAddr,
}

impl SrtListener {
    pub fn bind(addr: SocketAddr) -> io::Result<SrtListener> {
        let socket = UdpSocket::bind(addr)?;
        let local_addr = socket.local_addr()?;
        Ok(SrtListener { socket, local_addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until shutdown; connection threads are tracked by `ctx.connection_threads`.
    pub fn run(self, ctx: &Arc<ServerContext>) {
        info!(
            "SRT server listening addr={} latency_ms={} encrypted={}",
            self.local_addr,
            ctx.config.srt.latency.as_millis(),
            ctx.config.srt.passphrase_file.is_some()
        );
        if let Err(e) = self.socket.set_read_timeout(Some(POLL)) {
            error!("SRT socket unusable error=\"{e}\"");
            return;
        }
        let (notices_tx, notices) = crossbeam_channel::unbounded();
        let mut state = State {
            ctx: Arc::clone(ctx),
            socket: self.socket,
            pending: HashMap::new(),
            connections: HashMap::new(),
            notices_tx,
        };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while !ctx.is_shutting_down() {
            match state.socket.recv_from(&mut buf) {
                Ok((len, from)) => state.datagram(buf.get(..len).unwrap_or_default(), from),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) => debug!("SRT receive failed error=\"{e}\""),
            }
            state.notices(&notices);
            state.expire_handshakes();
        }
        // Connection threads see the shutdown flag and end their publishes.
        drop(state.connections);
    }
}

struct State {
    ctx: Arc<ServerContext>,
    socket: UdpSocket,
    pending: HashMap<SocketAddr, Pending>,
    connections: HashMap<SocketAddr, Sender<Vec<u8>>>,
    notices_tx: Sender<Notice>,
}

impl State {
    fn datagram(&mut self, data: &[u8], from: SocketAddr) {
        if let Some(connection) = self.connections.get(&from) {
            // A full queue drops the datagram (SRT retransmits); a closed one is removed
            // when its Closed notice arrives.
            if let Err(TrySendError::Full(_)) = connection.try_send(data.to_vec()) {
                debug!("SRT connection queue full remote={from}");
            }
            return;
        }
        let Some(Ok(packet)) = contained(|| Packet::parse(&mut &data[..], from.is_ipv6())) else {
            return;
        };
        let Ok(crypto) = caller_crypto(&packet) else {
            debug!("SRT handshake dropped remote={from} error=\"inconsistent crypto fields\"");
            return;
        };
        if !self.pending.contains_key(&from) {
            if !packet.is_handshake() {
                return;
            }
            if let Some(why) = self.admission_refusal(from.ip()) {
                warn!("connection refused remote={from} transport=srt error=\"{why}\"");
                return;
            }
            let mut settings = ConnInitSettings::default();
            let config = &self.ctx.config;
            settings.recv_latency = config.srt.latency;
            settings.send_latency = config.srt.latency;
            settings.peer_idle_timeout = config.limits.idle_timeout;
            let pending = Pending {
                listen: Listen::new(settings, true),
                started: Instant::now(),
                conn_id: self.ctx.next_conn_id(),
                crypto: CallerCrypto::NotStated,
                deciding: false,
                allowed: None,
            };
            self.pending.insert(from, pending);
        }
        let Some(pending) = self.pending.get_mut(&from) else {
            return;
        };
        if crypto != CallerCrypto::NotStated {
            pending.crypto = crypto;
        }
        let listen = &mut pending.listen;
        match contained(|| listen.handle_packet(Instant::now(), Ok((packet, from)))) {
            Some(result) => self.handshake_result(from, result),
            None => {
                warn!("SRT handshake failed remote={from} error=\"protocol core panicked\"");
                self.pending.remove(&from);
            }
        }
    }

    fn handshake_result(&mut self, from: SocketAddr, result: ConnectionResult) {
        match result {
            ConnectionResult::SendPacket((packet, to)) => send_packet(&self.socket, &packet, to),
            ConnectionResult::RequestAccess(request) => {
                self.start_decision(from, request.stream_id.map(|id| id.to_string()))
            }
            ConnectionResult::Reject(packet, reject) => {
                if let Some((packet, to)) = packet {
                    send_packet(&self.socket, &packet, to);
                }
                if let Some(pending) = self.pending.remove(&from) {
                    warn!(
                        "publish refused conn_id={} remote={from} transport=srt error=\"{reject}\"",
                        pending.conn_id
                    );
                }
            }
            ConnectionResult::Connected(packet, connection) => {
                if let Some((packet, to)) = packet {
                    send_packet(&self.socket, &packet, to);
                }
                self.connected(from, connection);
            }
            ConnectionResult::Failure(e) => {
                debug!("SRT handshake failed remote={from} error=\"{e}\"");
                self.pending.remove(&from);
            }
            ConnectionResult::NotHandled(_) | ConnectionResult::NoAction => {}
        }
    }

    fn start_decision(&mut self, from: SocketAddr, stream_id: Option<String>) {
        let Some(pending) = self.pending.get_mut(&from) else {
            return;
        };
        if pending.deciding {
            return;
        }
        pending.deciding = true;
        let (ctx, notices, conn_id, crypto) = (
            Arc::clone(&self.ctx),
            self.notices_tx.clone(),
            pending.conn_id,
            pending.crypto,
        );
        let spawned = std::thread::Builder::new()
            .name(format!("srt-decide-{conn_id}"))
            .spawn(move || {
                let answer = decide(&ctx, conn_id, from, stream_id.as_deref(), crypto);
                let _ = notices.send(Notice::Decided(from, answer));
            });
        if let Err(e) = spawned {
            error!("SRT decision thread not started conn_id={conn_id} error=\"{e}\"");
            self.pending.remove(&from);
        }
    }

    fn notices(&mut self, notices: &Receiver<Notice>) {
        while let Ok(notice) = notices.try_recv() {
            match notice {
                Notice::Closed(from) => {
                    self.connections.remove(&from);
                }
                Notice::Decided(from, answer) => {
                    let Some(pending) = self.pending.get_mut(&from) else {
                        continue;
                    };
                    let response = match answer {
                        Ok(allowed) => {
                            let keys = allowed.key_settings.clone();
                            pending.allowed = Some(allowed);
                            AccessControlResponse::Accepted(keys)
                        }
                        Err(reason) => AccessControlResponse::Rejected(reason),
                    };
                    let listen = &mut pending.listen;
                    match contained(|| listen.handle_access_control_response(Instant::now(), response)) {
                        Some(result) => self.handshake_result(from, result),
                        None => {
                            warn!("SRT handshake failed remote={from} error=\"protocol core panicked\"");
                            self.pending.remove(&from);
                        }
                    }
                }
            }
        }
    }

    fn connected(&mut self, from: SocketAddr, connection: srt_protocol::connection::Connection) {
        let Some(pending) = self.pending.remove(&from) else {
            return;
        };
        let Some(allowed) = pending.allowed else { return };
        let socket = match self.socket.try_clone() {
            Ok(socket) => socket,
            Err(e) => {
                error!("SRT connection not started conn_id={} error=\"{e}\"", pending.conn_id);
                return;
            }
        };
        let (datagrams_tx, datagrams) = crossbeam_channel::bounded(CONNECTION_QUEUE);
        let established = Established {
            conn_id: pending.conn_id,
            remote: from,
            connection,
            allowed,
            socket,
            datagrams,
            notices: self.notices_tx.clone(),
        };
        let ctx = Arc::clone(&self.ctx);
        let conn_id = pending.conn_id;
        let spawned = self
            .ctx
            .connection_threads
            .spawn(format!("srt-{conn_id}"), move || connection::serve(ctx, established));
        match spawned {
            Ok(_) => {
                self.connections.insert(from, datagrams_tx);
            }
            Err(e) => error!("SRT connection thread not started conn_id={conn_id} error=\"{e}\""),
        }
    }

    /// Pending handshakes older than --handshake-timeout are forgotten (their decision, if
    /// one is running, answers into nothing).
    fn expire_handshakes(&mut self) {
        let timeout = self.ctx.config.limits.handshake_timeout;
        self.pending.retain(|from, pending| {
            let alive = pending.started.elapsed() < timeout;
            if !alive {
                debug!("SRT handshake timed out conn_id={} remote={from}", pending.conn_id);
            }
            alive
        });
    }

    /// --deny, --srt-max-connections and --max-connections-per-ip (over SRT callers).
    fn admission_refusal(&self, ip: IpAddr) -> Option<String> {
        let policies = self.ctx.policies.current();
        if let Some(range) = policies.deny.iter().find(|range| range.contains(ip)) {
            return Some(format!("denied by --deny {range}"));
        }
        let limit = self.ctx.config.srt.max_connections;
        if self.pending.len() + self.connections.len() >= limit {
            return Some(format!("max SRT connections ({limit}) reached"));
        }
        let per_ip = self.ctx.config.ops.max_connections_per_ip;
        let from_ip = self
            .pending
            .keys()
            .chain(self.connections.keys())
            .filter(|a| a.ip() == ip)
            .count();
        if per_ip > 0 && from_ip >= per_ip {
            return Some(format!("max connections per ip ({per_ip}) reached"));
        }
        None
    }
}
