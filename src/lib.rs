//! rtmp-server: a blocking RTMP server that records every published stream (FLV, MP4).
//!
//! Layout, top to bottom (a module names only those below it; README "Architecture"):
//! - `api`: the HTTP API, /metrics and /api/events, reading the server's context;
//! - `server`: the RTMP glue (listener, connection threads, publishing, playing, the
//!   context every connection shares);
//! - `policy`: what applies to each stream (the top level's and the config file's `[[app]]`
//!   tables' settings), resolved per publish/play and replaced on SIGHUP;
//! - `sources` (supervised source commands, told about players by the event bus);
//! - `push` (relays to upstream servers), `record` (one writer thread per recording),
//!   `live` (streams, subscriptions and their drop policy), `events` (domain events and
//!   their bus), `ops` (auth, tokens, signals, systemd, counters), `config` (flags into
//!   `Config`);
//! - `client` (the one RTMP client: pushes, tests, tools), `http` (the small blocking HTTP
//!   server), `tls`, `bench` (the engine of rtmp-bench), `upload` (finished recordings to
//!   S3-compatible storage, a durable queue beside them);
//! - `flv` (FLV bytes), `media` (the shared `Frame`, codec parsing, timestamps), and at the
//!   bottom `protocol`, the sans-IO RTMP core, which names nothing above it.

pub mod api;
pub mod bench;
pub mod client;
pub mod config;
pub mod decision;
pub mod events;
pub mod flv;
pub mod hls;
pub mod hooks;
pub mod http;
pub mod limits;
pub mod limits_options;
pub mod live;
pub mod logging;
pub mod media;
pub mod mp4;
pub mod ops;
pub mod policy;
pub mod protocol;
pub mod push;
pub mod record;
pub mod server;
pub mod sources;
pub mod srt;
pub mod threads;
pub mod tls;
pub mod ts;
pub mod upload;
pub mod vectored;
