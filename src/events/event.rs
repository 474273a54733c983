//! The domain events: what happened to streams, players, recordings and pushes, as plain
//! values that observers (metrics, the API, hooks, webhooks) receive. Nothing here acts.

use std::net::SocketAddr;
use std::path::PathBuf;

/// One app/stream, as events name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamName {
    pub app: String,
    pub stream: String,
}

impl StreamName {
    pub fn new(app: &str, stream: &str) -> StreamName {
        StreamName {
            app: app.to_owned(),
            stream: stream.to_owned(),
        }
    }
}

/// A stream name's query as the client sent it: it may carry a key, so it is handed to
/// hooks but never shown (its Debug is `***`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Query(pub String);

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The publisher a recording's media comes from (the latest one, after a reconnect): told
/// to the record_done hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub conn_id: u64,
    pub remote: SocketAddr,
    pub query: Query,
}

/// How a publish or a play ended, and what it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    pub conn_id: u64,
    /// `unpublish` for a clean end of a publish, else why it ended.
    pub reason: String,
    pub remote: SocketAddr,
    pub query: Query,
    pub duration_ms: u64,
    /// Media received (publish) or sent (play).
    pub bytes: u64,
}

/// Something that happened, with what an observer needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A client's RTMP `connect` (the query is the tcUrl's).
    Connected {
        app: String,
        conn_id: u64,
        remote: SocketAddr,
        query: Query,
    },
    /// A publisher started (or took over) a stream.
    Published {
        name: StreamName,
        conn_id: u64,
        remote: SocketAddr,
        query: Query,
    },
    /// A publish ended; `reason` is `unpublish` for a clean end, else why the connection
    /// closed. `bytes` is the media received.
    Unpublished { name: StreamName, end: SessionEnd },
    PlayStarted {
        name: StreamName,
        conn_id: u64,
        remote: SocketAddr,
        query: Query,
    },
    /// A play ended; `bytes` is the media sent.
    PlayStopped { name: StreamName, end: SessionEnd },
    /// A recording file was opened (its name while written ends in `.part`).
    RecordingStarted { name: StreamName, path: PathBuf },
    /// A recording file is complete under its final name.
    RecordingFinalized {
        name: StreamName,
        path: PathBuf,
        duration_ms: u32,
        bytes: u64,
        publisher: Publisher,
    },
    /// A recording could not be written; ingest goes on without it.
    RecordingFailed {
        name: StreamName,
        path: Option<PathBuf>,
        error: String,
    },
    /// A finished recording is stored in object storage (`--upload`), checked; `url` is
    /// the object's (`s3://bucket/key`).
    UploadDone {
        name: StreamName,
        path: PathBuf,
        url: String,
        bytes: u64,
    },
    /// A push connected to, or lost, its upstream (`url` is redacted as in the API).
    PushStateChanged {
        name: StreamName,
        url: String,
        connected: bool,
    },
    /// The server closed a connection on purpose (takeover, slow player, API kick).
    Kicked { conn_id: u64, reason: &'static str },
    /// A publisher was asked to reconnect (`cause`: `api` or `shutdown`), elsewhere when
    /// `redirected`.
    ReconnectRequested {
        conn_id: u64,
        cause: &'static str,
        redirected: bool,
    },
}

impl Event {
    /// The event's kind as one word (for logs, metrics labels and webhooks).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Connected { .. } => "connected",
            Event::Published { .. } => "published",
            Event::Unpublished { .. } => "unpublished",
            Event::PlayStarted { .. } => "play_started",
            Event::PlayStopped { .. } => "play_stopped",
            Event::RecordingStarted { .. } => "recording_started",
            Event::RecordingFinalized { .. } => "recording_finalized",
            Event::RecordingFailed { .. } => "recording_failed",
            Event::PushStateChanged { .. } => "push_state_changed",
            Event::UploadDone { .. } => "upload_done",
            Event::Kicked { .. } => "kicked",
            Event::ReconnectRequested { .. } => "reconnect_requested",
        }
    }

    /// The stream the event is about, if it is about one.
    pub fn stream(&self) -> Option<&StreamName> {
        match self {
            Event::Published { name, .. }
            | Event::Unpublished { name, .. }
            | Event::PlayStarted { name, .. }
            | Event::PlayStopped { name, .. }
            | Event::RecordingStarted { name, .. }
            | Event::RecordingFinalized { name, .. }
            | Event::RecordingFailed { name, .. }
            | Event::UploadDone { name, .. }
            | Event::PushStateChanged { name, .. } => Some(name),
            Event::Kicked { .. } | Event::Connected { .. } | Event::ReconnectRequested { .. } => None,
        }
    }
}
