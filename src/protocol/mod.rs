//! The sans-IO RTMP core: fed bytes, returns bytes and events; no sockets, threads or clocks.

pub mod aggregate;
pub mod amf0;
pub mod amf3;
pub mod chunk;
pub mod command;
pub mod frame_kind;
pub mod handshake;
pub mod limits;
pub mod message;
pub mod reconnect;
pub mod session;
