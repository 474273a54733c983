//! How the client honours an Enhanced RTMP v2 reconnect request
//! (`NetConnection.Connect.ReconnectRequest`) while it publishes: the request is noted when
//! it is read (any read: `poll_incoming`, a wait for a reply); the next media boundary
//! (a video keyframe, or any audio frame of a stream without video) that `send_frame`
//! sees, the client connects to the request's tcUrl (resolved against the current one;
//! none: the current one), releases the stream on the old server (FCUnpublish and
//! deleteStream), publishes the same stream name on the new one, sends the metadata and
//! sequence headers it last sent, and carries on there; the old connection is closed. A
//! new server that cannot be reached is tried again at a later boundary, at most
//! `MAX_ATTEMPTS` times, while the old connection keeps publishing.

use super::url::RtmpUrl;
use super::{ClientResult, RtmpClient};
use crate::media::{demux, FrameKind};
use crate::protocol::chunk::RawMessage;
use crate::protocol::command::parse_command;
use crate::protocol::message::type_id;
use crate::protocol::reconnect::{recognize, ReconnectRequest};
use log::{info, warn};
use rustls::ClientConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Enhanced RTMP v2 `capsEx` bit the client announces in `connect`: it supports
/// reconnect requests.
pub const CAPS_EX_RECONNECT: f64 = 1.0;
/// Most tries to reach the server a request names before the request is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Least time between two tries.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);
/// Connect and reply timeout when the client was opened without one (`start`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client's reconnect state: where it is connected and how, the request it follows,
/// and the headers it replays on the new connection.
#[derive(Debug)]
pub(super) struct Follow {
    tc_url: String,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    publishing: bool,
    pending: Option<ReconnectRequest>,
    last: Option<ReconnectRequest>,
    attempts: u32,
    next_attempt: Option<Instant>,
    seen: u64,
    done: u64,
    video_seen: bool,
    metadata: Option<Vec<u8>>,
    video_header: Option<Vec<u8>>,
    audio_header: Option<Vec<u8>>,
}

impl Follow {
    pub(super) fn new(tc_url: String) -> Follow {
        Follow {
            tc_url,
            tls: None,
            timeout: DEFAULT_TIMEOUT,
            publishing: false,
            pending: None,
            last: None,
            attempts: 0,
            next_attempt: None,
            seen: 0,
            done: 0,
            video_seen: false,
            metadata: None,
            video_header: None,
            audio_header: None,
        }
    }

    /// How the client reconnects: TLS configuration for rtmps:// and the timeout.
    pub(super) fn set_transport(&mut self, tls: Option<Arc<ClientConfig>>, timeout: Duration) {
        self.tls = tls;
        self.timeout = timeout;
    }

    pub(super) fn set_publishing(&mut self, publishing: bool) {
        self.publishing = publishing;
    }

    /// Notes a reconnect request among the messages read (NetConnection: message stream 0).
    pub(super) fn note(&mut self, message: &RawMessage) {
        if message.stream_id != 0 || message.type_id != type_id::COMMAND_AMF0 {
            return;
        }
        let depth = crate::limits::DEFAULT_MAX_AMF_DEPTH;
        let Some(request) = parse_command(message.type_id, &message.payload, depth)
            .ok()
            .and_then(|command| recognize(&command))
        else {
            return;
        };
        self.seen += 1;
        self.last = Some(request.clone());
        if self.publishing {
            self.pending = Some(request);
            self.attempts = 0;
            self.next_attempt = None;
        }
    }

    /// True when a request waits and this frame is a media boundary to switch before.
    fn due(&self, kind: FrameKind, body: &[u8]) -> bool {
        if self.pending.is_none() || !self.publishing {
            return false;
        }
        if self.next_attempt.is_some_and(|at| Instant::now() < at) {
            return false;
        }
        match kind {
            FrameKind::Video => demux::video(body).keyframe,
            FrameKind::Audio => !self.video_seen,
            FrameKind::Data => false,
        }
    }

    /// Keeps what a new connection needs first: metadata and sequence headers.
    fn remember(&mut self, kind: FrameKind, body: &[u8]) {
        match kind {
            FrameKind::Video => {
                self.video_seen = true;
                if demux::video(body).config {
                    self.video_header = Some(body.to_vec());
                }
            }
            FrameKind::Audio => {
                if demux::audio(body).config {
                    self.audio_header = Some(body.to_vec());
                }
            }
            FrameKind::Data => {
                let mut name = Vec::with_capacity(13);
                crate::protocol::amf0::encode(
                    &crate::protocol::amf0::Amf0Value::String("onMetaData".into()),
                    &mut name,
                );
                if body.starts_with(&name) {
                    self.metadata = Some(body.to_vec());
                }
            }
        }
    }
}

impl RtmpClient {
    /// Before a frame goes out: switches servers when a reconnect request waits and this is
    /// a media boundary, then remembers the frame if it is a header.
    pub(super) fn before_frame(&mut self, kind: FrameKind, timestamp: u32, body: &[u8]) -> ClientResult<()> {
        if self.follow.due(kind, body) {
            self.follow_reconnect(timestamp)?;
        }
        self.follow.remember(kind, body);
        Ok(())
    }

    /// Reconnect requests received so far (whether or not they were followed).
    pub fn reconnect_requests_seen(&self) -> u64 {
        self.follow.seen
    }

    /// The latest reconnect request received.
    pub fn last_reconnect_request(&self) -> Option<&ReconnectRequest> {
        self.follow.last.as_ref()
    }

    /// Reconnects done on a server's request.
    pub fn reconnects(&self) -> u64 {
        self.follow.done
    }

    /// The tcUrl of the current connection.
    pub fn tc_url(&self) -> &str {
        &self.follow.tc_url
    }

    /// Moves the publish to the server the pending request names (see the module comment);
    /// the replayed headers carry `timestamp` (the boundary frame's).
    fn follow_reconnect(&mut self, timestamp: u32) -> ClientResult<()> {
        let Some(request) = self.follow.pending.clone() else {
            return Ok(());
        };
        let target = match &request.tc_url {
            Some(reference) => resolve(&self.follow.tc_url, reference),
            None => self.follow.tc_url.clone(),
        };
        self.follow.attempts += 1;
        let opened = RtmpUrl::parse_tc_url(&target)
            .map_err(|e| super::ClientError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))
            .and_then(|url| Self::connect_url(&url, self.follow.tls.as_ref(), self.follow.timeout));
        let mut next = match opened {
            Ok(next) => next,
            Err(e) => {
                let attempt = self.follow.attempts;
                warn!("reconnect request not followed yet tc_url={target:?} attempt={attempt} error=\"{e}\"");
                if attempt >= MAX_ATTEMPTS {
                    self.follow.pending = None;
                } else {
                    self.follow.next_attempt = Some(Instant::now() + RETRY_INTERVAL);
                }
                return Ok(());
            }
        };
        // The old server releases the stream first (it may be going away: errors ignored).
        let _ = self.socket.tcp().set_read_timeout(Some(self.follow.timeout));
        let _ = self.flush().and_then(|()| self.unpublish());
        self.follow.pending = None;
        next.publish(&self.stream_name)?;
        info!("reconnected on the server's request tc_url={target:?}");
        // The new connection carries on with this one's state (headers, counts).
        let mut follow = std::mem::replace(&mut self.follow, Follow::new(String::new()));
        follow.done += 1;
        follow.tc_url = std::mem::take(&mut next.follow.tc_url);
        follow.publishing = true;
        next.follow = follow;
        let old = std::mem::replace(self, next);
        drop(old);
        let follow = &self.follow;
        let headers: Vec<(FrameKind, Vec<u8>)> = [
            (FrameKind::Data, follow.metadata.clone()),
            (FrameKind::Video, follow.video_header.clone()),
            (FrameKind::Audio, follow.audio_header.clone()),
        ]
        .into_iter()
        .filter_map(|(kind, body)| body.map(|b| (kind, b)))
        .collect();
        for (kind, body) in headers {
            self.send_frame(kind, timestamp, &body)?;
        }
        Ok(())
    }
}

/// Resolves a tcUrl reference (absolute, `//host/app`, `/app` or `app`) against `current`.
fn resolve(current: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("rtmp", current));
    if let Some(network_path) = reference.strip_prefix("//") {
        return format!("{scheme}://{network_path}");
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    match reference.strip_prefix('/') {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => match rest.rsplit_once('/') {
            Some((base, _)) => format!("{scheme}://{base}/{reference}"),
            None => format!("{scheme}://{authority}/{reference}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reconnect;

    #[test]
    fn references_resolve_against_the_current_tc_url() {
        let current = "rtmps://a.example:4443/live";
        assert_eq!(resolve(current, "rtmp://b:1936/other"), "rtmp://b:1936/other");
        assert_eq!(resolve(current, "//b.example/live"), "rtmps://b.example/live");
        assert_eq!(resolve(current, "/backup"), "rtmps://a.example:4443/backup");
        assert_eq!(resolve(current, "backup"), "rtmps://a.example:4443/backup");
        assert_eq!(resolve("rtmp://h/app/inst", "other"), "rtmp://h/app/other");
    }

    #[test]
    fn a_request_is_pending_only_while_publishing_and_due_at_a_keyframe() {
        let mut follow = Follow::new("rtmp://h/live".into());
        let request = reconnect::message(Some("rtmp://b/live"), "move");
        follow.note(&request);
        assert_eq!((follow.seen, follow.pending.is_some()), (1, false));
        follow.set_publishing(true);
        follow.note(&request);
        assert!(follow.pending.is_some());
        let keyframe = [0x17, 1, 0, 0, 0, 0xAA];
        let inter = [0x27, 1, 0, 0, 0, 0xBB];
        assert!(!follow.due(FrameKind::Video, &inter));
        assert!(follow.due(FrameKind::Video, &keyframe));
        assert!(follow.due(FrameKind::Audio, &[0xAF, 1, 0]), "audio-only so far");
        follow.remember(FrameKind::Video, &inter);
        assert!(
            !follow.due(FrameKind::Audio, &[0xAF, 1, 0]),
            "video seen: wait for a keyframe"
        );
        let mut on_stream = reconnect::message(None, "x");
        on_stream.stream_id = 1;
        let mut other = Follow::new("rtmp://h/live".into());
        other.note(&on_stream);
        assert_eq!(other.seen, 0, "only the NetConnection's (stream 0) onStatus counts");
    }

    #[test]
    fn headers_are_remembered_for_the_new_connection() {
        let mut follow = Follow::new("rtmp://h/live".into());
        let avc_header = [0x17, 0, 0, 0, 0, 1, 0x64];
        let aac_header = [0xAF, 0, 0x12, 0x10];
        let mut metadata = Vec::new();
        crate::protocol::amf0::encode(
            &crate::protocol::amf0::Amf0Value::String("onMetaData".into()),
            &mut metadata,
        );
        follow.remember(FrameKind::Video, &avc_header);
        follow.remember(FrameKind::Video, &[0x27, 1, 0, 0, 0, 9]);
        follow.remember(FrameKind::Audio, &aac_header);
        follow.remember(FrameKind::Audio, &[0xAF, 1, 7]);
        follow.remember(FrameKind::Data, &metadata);
        assert_eq!(follow.video_header.as_deref(), Some(&avc_header[..]));
        assert_eq!(follow.audio_header.as_deref(), Some(&aac_header[..]));
        assert_eq!(follow.metadata.as_deref(), Some(&metadata[..]));
    }
}
