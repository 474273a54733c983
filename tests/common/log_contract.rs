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
/// A recording format cannot carry the stream's codec (logged once per recording):
/// `app=`, `stream=`, `format=`, `flv_instead=` (it was the only format).
pub const RECORDING_FORMAT_UNSUPPORTED: &str = "recording format cannot carry the stream";
/// A recording file opened: `app=`, `stream=`, `file=` (the `.flv.part`).
pub const RECORDING_STARTED: &str = "recording started";
/// A recording file could not be opened: `app=`, `stream=`, `dir=`, `error=`.
pub const RECORDING_FAILED_TO_START: &str = "recording failed to start";
/// The recorder fell back from O_DIRECT to buffered writes (the file system refused it).
pub const O_DIRECT_REFUSED: &str = "the file system refused O_DIRECT";
/// A recording file stopped by a write error (the error is counted as failed, too).
pub const RECORDING_STOPPED_BY_IO_ERROR: &str = "recording stopped by I/O error";
/// The file being written was deleted (e.g. the record dir removed): `app=`, `stream=`.
pub const RECORDING_FILE_REMOVED: &str = "recording file removed";
/// A finished `.part` could not be renamed to `.flv`.
pub const RECORDING_NOT_RENAMED: &str = "recording not renamed";
/// A recorder ended (all its files): `app=`, `stream=`, `files=`.
pub const RECORDING_ENDED: &str = "recording ended";
/// Disk space below --record-min-free: at start-up (`dir=`) or for a stream (`app=`).
pub const RECORDING_PAUSED_DISK_LOW: &str = "recording paused, disk space low";
/// Disk space back: the stream records again.
pub const RECORDING_RESUMES_DISK_BACK: &str = "recording resumes, disk space back";
/// A stream excluded from recording by --no-record (or not matched by --record).
pub const RECORDING_OFF_FOR_STREAM: &str = "recording off for stream";
/// A lost publisher's recording waits --record-reconnect-gap for it to come back.
pub const RECORDING_PARKED: &str = "recording parked for reconnect";
/// The publisher came back within the gap: the same recording goes on (writer side).
pub const RECORDING_CONTINUES: &str = "recording continues after reconnect";
/// The publisher came back within the gap (publisher side).
pub const RECORDING_RESUMED: &str = "recording resumed after reconnect";
/// --record-hook exited non-zero: `status=`.
pub const RECORD_HOOK_FAILED: &str = "record hook failed";
/// One line of a hook program's stdout/stderr (the query it was given shown as `***`).
pub const HOOK_OUTPUT: &str = "record hook output";
/// --record-retention deleted an old file: `file=`.
pub const RETENTION_DELETED: &str = "retention deleted";
/// The recorder rebased a timestamp jump: `app=`, `stream=`, `track=`, `from_ms=`, `to_ms=`.
pub const TIMESTAMP_REBASED: &str = "timestamp discontinuity rebased";
/// A publisher's periodic and final statistics: `video_packets=`, `audio_packets=`, ...
pub const MEDIA_STATISTICS: &str = "media statistics";
/// A connection closed for a protocol error: `error=`.
pub const PROTOCOL_ERROR: &str = "protocol error";
/// A TLS handshake on the RTMPS port failed: `remote=`, `error=`.
pub const TLS_HANDSHAKE_FAILED: &str = "TLS handshake failed";
/// The end of a clean shutdown.
pub const SERVER_STOPPED: &str = "server stopped";

/// --publish-keys / --play-keys: loaded at start-up and reloaded on SIGHUP (`publish_keys=`).
pub const KEYS_LOADED: &str = "keys loaded";
pub const KEYS_RELOADED: &str = "keys reloaded";
pub const KEYS_RELOAD_FAILED: &str = "keys reload failed";
/// A publish or play refused by keys or address lists: `error=`.
pub const PUBLISH_DENIED: &str = "publish denied";
pub const PLAY_DENIED: &str = "play denied";
/// `error=` values of the denials.
pub const SIGNED_KEY_EXPIRED: &str = "signed key expired";
pub const BAD_SIGNATURE: &str = "bad signature";
pub const WRONG_KEY: &str = "wrong key";

/// --http-token-file: reloaded on SIGHUP, or not; a request refused (the token is never
/// logged); ignored while the API is off.
pub const HTTP_TOKEN_RELOADED: &str = "HTTP token reloaded";
pub const HTTP_TOKEN_RELOAD_FAILED: &str = "HTTP token reload failed";
pub const HTTP_REQUEST_REFUSED: &str = "HTTP request refused";
pub const HTTP_TOKEN_FILE_IGNORED: &str = "--http-token-file ignored";

/// systemd integration.
pub const SOCKET_ACTIVATION: &str = "socket activation: serving on the passed socket";
pub const WATCHDOG_ENABLED: &str = "systemd watchdog enabled";

/// --push relays: `app=`, `stream=`, `url=` (redacted), `error=`.
pub const PUSH_CONNECTED: &str = "push connected";
pub const PUSH_FAILED: &str = "push failed";
pub const PUSH_STOPPED: &str = "push stopped";
/// A second publisher replaced the first (--publish-conflict takeover): `replaced_conn_id=`.
pub const PUBLISH_TAKEOVER: &str = "publish takeover";

/// The `error=` of a refusal for `--max-connections-per-ip N`.
pub fn max_connections_per_ip_reached(limit: usize) -> String {
    format!("max connections per ip ({limit}) reached")
}

/// A needle matching `reason=WHY` (a [`reason`] value) in a [`CONNECTION_CLOSED`] line.
pub fn closed_for(why: &str) -> String {
    format!(" reason={why}")
}

/// The `error=` of a TLS handshake failure caused by plain RTMP on the RTMPS port.
pub const PLAIN_RTMP_ON_TLS_PORT: &str = "plain RTMP sent to the TLS port";

/// Retention skipped a recording that waits for upload (`file=` names it).
pub const RETENTION_KEPT_UNSENT: &str = "retention kept a file not uploaded yet";

/// Start-up with `--srt-listen`: `addr=` is the SRT (UDP) address.
pub const SRT_LISTENING: &str = "SRT server listening";
/// An SRT caller refused before or in its handshake (stream id, passphrase): `error=`.
pub const PUBLISH_REFUSED: &str = "publish refused";
