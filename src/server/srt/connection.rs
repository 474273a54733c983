//! One SRT connection's thread: srt-protocol's `DuplexConnection` (ARQ, TSBPD, decryption)
//! driven by the datagrams the socket thread forwards, the released payload through the TS
//! demuxer, and its frames into the publish. It ends when the caller closes or goes idle
//! (`--idle-timeout` without media), the stream is taken over, or the server stops.

use super::decide::Allowed;
use super::listener::Notice;
use super::publish::{Caller, SrtPublication};
use super::{contained, send_bytes};
use crate::live::registry::StreamKey;
use crate::server::context::ServerContext;
use crate::server::delivery::read_wait;
use crate::ts::TsDemuxer;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use log::{info, warn};
use srt_protocol::connection::{Action, Connection, DuplexConnection, Input};
use srt_protocol::packet::Packet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for a datagram before the thread looks at shutdown and takeover again.
const POLL: Duration = Duration::from_millis(100);
/// Time given to the core to send its shutdown after we decide to close.
const CLOSE_GRACE: Duration = Duration::from_millis(300);

/// What the socket thread hands a new connection's thread.
pub(super) struct Established {
    pub conn_id: u64,
    pub remote: SocketAddr,
    pub connection: Connection,
    pub allowed: Allowed,
    pub socket: UdpSocket,
    pub datagrams: Receiver<Vec<u8>>,
    pub notices: Sender<Notice>,
}

pub(super) fn serve(ctx: Arc<ServerContext>, established: Established) {
    let Established {
        conn_id,
        remote,
        connection,
        allowed,
        socket,
        datagrams,
        notices,
    } = established;
    let caller = Caller {
        conn_id,
        remote,
        query: allowed.target.query.clone(),
    };
    let key = StreamKey {
        app: allowed.target.app.clone(),
        stream: allowed.target.stream.clone(),
    };
    info!(
        "SRT connected conn_id={conn_id} remote={remote} app={} stream={} encrypted={}",
        key.app,
        key.stream,
        allowed.key_settings.is_some()
    );
    let mut duplex = DuplexConnection::new(connection);
    let publication = SrtPublication::start(Arc::clone(&ctx), caller, key, allowed.policy);
    let why = match publication {
        Some(mut publication) => {
            let why = drive(&ctx, &mut duplex, &socket, &datagrams, remote, Some(&mut publication));
            publication.end(why);
            why
        }
        None => {
            // Refused (stream already published): close the SRT connection at once.
            drive(&ctx, &mut duplex, &socket, &datagrams, remote, None)
        }
    };
    info!("SRT disconnected conn_id={conn_id} remote={remote} reason={why}");
    let _ = notices.send(Notice::Closed(remote));
}

/// Runs the connection until it ends; returns why (`unpublish` when the caller closed).
fn drive(
    ctx: &ServerContext,
    duplex: &mut DuplexConnection,
    socket: &UdpSocket,
    datagrams: &Receiver<Vec<u8>>,
    remote: SocketAddr,
    mut publication: Option<&mut SrtPublication>,
) -> &'static str {
    let idle_timeout = ctx.config.limits.idle_timeout;
    let mut demuxer = TsDemuxer::new();
    let mut frames = Vec::new();
    let mut input = Input::Timer;
    let mut last_media = Instant::now();
    let mut closing: Option<(Instant, &'static str)> = publication.is_none().then(|| (Instant::now(), "rejected"));
    if closing.is_some() {
        input = Input::Data(None);
    }
    loop {
        let now = Instant::now();
        let Some(action) =
            contained(|| action_of(duplex.handle_input(now, std::mem::replace(&mut input, Input::Timer))))
        else {
            warn!("SRT connection failed remote={remote} error=\"protocol core panicked\"");
            return "protocol_error";
        };
        match action {
            Step::Send(bytes, to) => {
                send_bytes(socket, &bytes, to);
                input = Input::PacketSent;
            }
            Step::Data(bytes) => {
                last_media = now;
                if let Some(publication) = publication.as_deref_mut() {
                    demuxer.push(&bytes, &mut frames);
                    for frame in frames.drain(..) {
                        publication.on_frame(frame);
                    }
                }
                input = Input::DataReleased;
            }
            Step::Statistics => input = Input::StatisticsUpdated,
            Step::Close => {
                if let Some(publication) = publication.as_deref_mut() {
                    demuxer.finish(&mut frames);
                    for frame in frames.drain(..) {
                        publication.on_frame(frame);
                    }
                }
                return closing.map_or("unpublish", |(_, why)| why);
            }
            Step::Wait(wait) => {
                if let Some((since, why)) = closing {
                    if since.elapsed() > CLOSE_GRACE {
                        return why;
                    }
                } else if let Some(why) = stop_reason(ctx, publication.as_deref(), last_media, idle_timeout) {
                    closing = Some((Instant::now(), why));
                    input = Input::Data(None);
                    continue;
                }
                // Players' held frames leave when due; the wait ends by then.
                let wait = match publication.as_deref() {
                    Some(publication) => {
                        publication.flush_held();
                        read_wait(wait, publication.held_deadline(), Instant::now())
                    }
                    None => wait,
                };
                input = match datagrams.recv_timeout(wait.clamp(Duration::from_micros(100), POLL)) {
                    Ok(datagram) => match contained(|| Packet::parse(&mut &datagram[..], remote.is_ipv6())) {
                        Some(Ok(packet)) => Input::Packet(Ok((packet, remote))),
                        _ => Input::Timer,
                    },
                    Err(RecvTimeoutError::Timeout) => Input::Timer,
                    Err(RecvTimeoutError::Disconnected) => return "shutdown",
                };
            }
        }
    }
}

/// Why the connection should close now, if it should.
fn stop_reason(
    ctx: &ServerContext,
    publication: Option<&SrtPublication>,
    last_media: Instant,
    idle_timeout: Duration,
) -> Option<&'static str> {
    if ctx.is_shutting_down() {
        Some("shutdown")
    } else if publication.is_some_and(|p| !p.is_current()) {
        Some("taken_over")
    } else if last_media.elapsed() > idle_timeout {
        Some("idle_timeout")
    } else {
        None
    }
}

/// The core's action, owned (its `Action` borrows the connection).
enum Step {
    /// A packet to send, serialized.
    Send(Vec<u8>, SocketAddr),
    Data(Vec<u8>),
    Statistics,
    Wait(Duration),
    Close,
}

fn action_of(action: Action<'_>) -> Step {
    match action {
        Action::SendPacket((packet, to)) => {
            let mut bytes = Vec::with_capacity(packet.wire_size());
            packet.serialize(&mut bytes);
            Step::Send(bytes, to)
        }
        Action::ReleaseData((_, bytes)) => Step::Data(bytes.to_vec()),
        Action::UpdateStatistics(_) => Step::Statistics,
        Action::WaitForData(wait) => Step::Wait(wait),
        Action::Close => Step::Close,
    }
}
