//! rtmp-server: a blocking RTMP server that records every published stream to FLV.
//!
//! Layout: `protocol` is the sans-IO RTMP core (handshake, chunks, AMF, messages, commands,
//! session); `media` holds the shared `Frame`; `flv` writes and reads FLV bytes; `record`
//! runs one writer thread per recording; `server` is the thin blocking glue (listener,
//! connection threads, stream registry); `client` is the one RTMP client used by tests and
//! tools; `bench` is the engine of the rtmp-bench load tool; `ops` holds process-level
//! concerns (signals, systemd, auth, HTTP API, metrics); `push` relays streams to upstream
//! servers; `tls` builds rustls configurations; `http` is the small blocking HTTP server the
//! API runs on; `config` turns flags into `Config`.

pub mod api;
pub mod bench;
pub mod client;
pub mod config;
pub mod events;
pub mod flv;
pub mod http;
pub mod limits;
pub mod limits_options;
pub mod live;
pub mod logging;
pub mod media;
pub mod ops;
pub mod protocol;
pub mod push;
pub mod record;
pub mod server;
pub mod threads;
pub mod tls;
pub mod vectored;
