//! SRT ingest, the blocking glue: the socket thread (`listener`), each caller's publish
//! decision (`decide`), one thread per connection driving srt-protocol's sans-IO
//! `DuplexConnection` and the TS demuxer (`connection`), and its publish in the registry
//! (`publish`).

mod connection;
mod decide;
pub mod listener;
mod publish;

pub use listener::SrtListener;

use log::debug;
use srt_protocol::packet::Packet;
use std::net::{SocketAddr, UdpSocket};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a call into srt-protocol, which has panics reachable from peer bytes (its
/// `unimplemented!` arms, slicing of key material): a panic ends only that caller.
fn contained<T>(call: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(call)).ok()
}

/// Serializes and sends one packet; a failed send is like a lost datagram.
fn send_packet(socket: &UdpSocket, packet: &Packet, to: SocketAddr) {
    let mut bytes = Vec::with_capacity(packet.wire_size());
    packet.serialize(&mut bytes);
    send_bytes(socket, &bytes, to);
}

/// Sends one serialized packet.
fn send_bytes(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to) {
        debug!("SRT send failed remote={to} error=\"{e}\"");
    }
}
