//! The server log lines integration tests rely on, in one place.
//!
//! These lines are part of the server's operator-facing contract: operators grep for them,
//! alert on them and read the `key=value` fields they carry, so changing their wording is a
//! breaking change, and this module (and this comment) must change with it. Tests prefer
//! the HTTP API, /metrics, files on disk and exit codes; a line is listed here only where it
//! is the one observable of what a test checks (e.g. the address an ephemeral port got, or
//! why the server closed one particular connection). Tests use these constants, never the
//! wording itself, and never the Debug form of an error.

/// Start-up: `addr=` is the RTMP address (the tests listen on port 0).
pub const RTMP_LISTENING: &str = "RTMP server listening";
/// Start-up with `--tls-listen`: `addr=` is the RTMPS address.
pub const RTMPS_LISTENING: &str = "RTMPS server listening";
/// Start-up: `addr=` is the HTTP API address.
pub const HTTP_API_LISTENING: &str = "HTTP API listening";

/// Every connection's end: `conn_id=`, `remote=` (the peer's address) and `reason=`.
pub const CONNECTION_CLOSED: &str = "connection closed";
/// A connection refused at accept (address lists, connection limits): `remote=`, `error=`.
pub const CONNECTION_REFUSED: &str = "connection refused";
/// A connection taken in: `conn_id=`, `remote=` (and `tls=true` on the RTMPS port).
pub const CONNECTION_OPENED: &str = "connection opened";

/// `reason=` values of [`CONNECTION_CLOSED`].
pub mod reason {
    pub const HANDSHAKE_TIMEOUT: &str = "handshake_timeout";
    pub const FIRST_PACKET_TIMEOUT: &str = "first_packet_timeout";
    pub const IDLE_TIMEOUT: &str = "idle_timeout";
    pub const PLAY_WAIT_TIMEOUT: &str = "play_wait_timeout";
    pub const WRITE_TIMEOUT: &str = "write_timeout";
    pub const PEER_CLOSED: &str = "peer_closed";
    pub const PROTOCOL_ERROR: &str = "protocol_error";
    pub const IO_ERROR: &str = "io_error";
    pub const TLS_ERROR: &str = "tls_error";
    pub const TAKEN_OVER: &str = "taken_over";
    pub const KICKED_BY_API: &str = "kicked_by_api";
    pub const PLAYER_TOO_SLOW: &str = "player_too_slow";
    pub const SERVER_SHUTDOWN: &str = "server_shutdown";
}

/// The `error=` of a refusal for `--max-connections N`.
pub fn max_connections_reached(limit: usize) -> String {
    format!("max connections ({limit}) reached")
}

/// A recording file finalized: `app=`, `stream=`, `file=` (the `.flv`), `bytes=`, `tags=`.
pub const RECORDER_CLOSED: &str = "recorder closed";
/// A recording file opened: `app=`, `stream=`, `file=` (the `.flv.part`).
pub const RECORDING_STARTED: &str = "recording started";
/// A recording file could not be opened: `app=`, `stream=`, `dir=`, `error=`.
pub const RECORDING_FAILED_TO_START: &str = "recording failed to start";
/// The recorder fell back from O_DIRECT to buffered writes (the file system refused it).
pub const O_DIRECT_REFUSED: &str = "the file system refused O_DIRECT";
