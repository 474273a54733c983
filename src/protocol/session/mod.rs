//! Server session: the sans-IO state machine of one RTMP connection. Bytes go in through
//! `handle_input`; reply bytes come out of `take_output` and decisions for the caller come
//! out of `poll_event`. It runs the handshake, reassembles chunks, answers protocol control
//! (chunk size, acknowledgements, pings) and NetConnection/NetStream commands. Whether a
//! publish or play is allowed is the caller's call (`accept_*` / `reject_*`), which may come
//! later: meanwhile input is held, up to `MAX_PENDING_INPUT` bytes (see `input_room`).

use super::aggregate;
use super::amf0;
use super::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use super::command;
use super::frame_kind::FrameKind;
use super::handshake::{HandshakeKind, HandshakeStatus, ServerHandshake, RANDOM_SIZE};
use super::limits::SessionLimits;
use super::message::{self, type_id, ControlMessage, UserControl};
use std::collections::VecDeque;

mod commands;
mod error;

pub use error::SessionError;

/// Chunk size the server announces after connect unless configured otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 4096;
/// Window Acknowledgement Size the server announces and assumes for the peer until told.
pub const DEFAULT_WINDOW_ACK_SIZE: u32 = 2_500_000;
/// Set Peer Bandwidth the server announces (limit type 2, dynamic).
pub const DEFAULT_PEER_BANDWIDTH: u32 = 2_500_000;
/// Most message streams (createStream) one connection may hold.
pub const MAX_STREAMS_PER_CONNECTION: usize = 16;
/// Most bytes held while a publish or play request waits for the caller's decision. The
/// caller reads at most `input_room()` bytes meanwhile (none once it is 0); input given past
/// the bound is refused with `SessionError::PendingInputFull` (and not kept), so a peer that
/// keeps sending while it waits costs at most this much memory before it is closed. The rest
/// of the very input that raised the request is held whatever its size (the caller chose it).
pub const MAX_PENDING_INPUT: usize = 1 << 20;
/// Level of NetStream status messages that report success.
const LEVEL_STATUS: &str = "status";

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Chunk size the server announces after connect and uses for what it sends.
    pub chunk_size: u32,
    pub window_ack_size: u32,
    pub peer_bandwidth: u32,
    pub limits: SessionLimits,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            chunk_size: DEFAULT_CHUNK_SIZE,
            window_ack_size: DEFAULT_WINDOW_ACK_SIZE,
            peer_bandwidth: DEFAULT_PEER_BANDWIDTH,
            limits: SessionLimits::default(),
        }
    }
}

/// What the session tells its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    HandshakeDone {
        kind: HandshakeKind,
    },
    Connect {
        app: String,
        tc_url: String,
        flash_ver: String,
        object_encoding: f64,
    },
    /// The peer asks to publish; answer with `accept_publish` or `reject_publish`.
    PublishRequest {
        stream_id: u32,
        name: String,
        query: String,
        publish_type: String,
    },
    /// A publish ended cleanly (FCUnpublish, deleteStream or closeStream).
    Unpublish {
        stream_id: u32,
    },
    /// The peer asks to play; answer with `accept_play` or `reject_play`.
    PlayRequest {
        stream_id: u32,
        name: String,
        query: String,
    },
    /// A play ended (deleteStream or closeStream).
    PlayStop {
        stream_id: u32,
    },
    /// Audio, video or script data from a publishing stream. Data payloads are AMF0 without
    /// any @setDataFrame wrapper; `metadata` marks onMetaData.
    Media {
        stream_id: u32,
        kind: FrameKind,
        timestamp: u32,
        payload: Vec<u8>,
        metadata: bool,
    },
    /// A command the server does not implement (answered with _error when it had a transaction id).
    UnknownCommand {
        name: String,
    },
    PeerChunkSize(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Created,
    PublishRequested,
    Publishing,
    PlayRequested,
    Playing,
}

#[derive(Debug)]
pub struct ServerSession {
    config: SessionConfig,
    handshake: Option<ServerHandshake>,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    pending_input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<SessionEvent>,
    connected: bool,
    streams: Vec<(u32, StreamState)>,
    next_stream_id: u32,
    bytes_received: u64,
    last_ack_at: u64,
    peer_window: u32,
    /// Set after a PublishRequest or PlayRequest: input is held (up to `MAX_PENDING_INPUT`)
    /// until the caller accepts or rejects, so no media of that stream is seen before the
    /// decision.
    awaiting_decision: bool,
    media_received: bool,
}

impl ServerSession {
    /// `random` fills the server's handshake packets; `epoch` is the server uptime in ms.
    pub fn new(config: SessionConfig, random: [u8; RANDOM_SIZE], epoch: u32) -> Self {
        ServerSession {
            handshake: Some(ServerHandshake::new(random, epoch)),
            decoder: ChunkDecoder::new(config.limits.chunk),
            encoder: ChunkEncoder::new(),
            pending_input: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            connected: false,
            streams: Vec::new(),
            next_stream_id: 1,
            bytes_received: 0,
            last_ack_at: 0,
            peer_window: DEFAULT_WINDOW_ACK_SIZE,
            awaiting_decision: false,
            media_received: false,
            config,
        }
    }

    /// True once a media message (audio, video or data) of a publishing stream has arrived;
    /// until then the caller applies the first-packet timeout.
    pub fn media_received(&self) -> bool {
        self.media_received
    }

    /// True once the handshake has completed.
    pub fn handshake_done(&self) -> bool {
        self.handshake.is_none()
    }

    /// Feeds bytes read from the peer. On error the connection must be closed.
    /// While a decision is pending, input past `input_room()` is refused (and not kept).
    pub fn handle_input(&mut self, input: &[u8]) -> Result<(), SessionError> {
        if input.len() > self.input_room() {
            return Err(SessionError::PendingInputFull {
                limit: MAX_PENDING_INPUT,
            });
        }
        self.bytes_received = self.bytes_received.wrapping_add(input.len() as u64);
        if self.pending_input.is_empty() && !self.awaiting_decision {
            let used = self.process(input)?;
            self.pending_input.extend_from_slice(input.get(used..).unwrap_or(&[]));
        } else {
            self.pending_input.extend_from_slice(input);
            self.process_pending()?;
        }
        self.maybe_acknowledge();
        Ok(())
    }

    /// Processes held input (after a publish decision, or leftover header bytes).
    fn process_pending(&mut self) -> Result<(), SessionError> {
        if self.awaiting_decision {
            return Ok(());
        }
        let buffer = std::mem::take(&mut self.pending_input);
        let used = self.process(&buffer);
        let consumed = match &used {
            Ok(n) => *n,
            Err(_) => buffer.len(),
        };
        self.pending_input = buffer;
        // The decoders never report more than they were given; `min` keeps that obvious.
        let consumed = consumed.min(self.pending_input.len());
        self.pending_input.drain(..consumed);
        used.map(|_| ())
    }

    /// True while a PublishRequest or PlayRequest waits for the caller's decision.
    pub fn awaiting_decision(&self) -> bool {
        self.awaiting_decision
    }

    /// How many bytes `handle_input` takes now: unlimited, except while a decision is
    /// pending, when the held input may grow to `MAX_PENDING_INPUT` and no further.
    pub fn input_room(&self) -> usize {
        if self.awaiting_decision {
            MAX_PENDING_INPUT.saturating_sub(self.pending_input.len())
        } else {
            usize::MAX
        }
    }

    /// False while the session takes no input: a decision is pending and the held input has
    /// reached `MAX_PENDING_INPUT`. The caller then stops reading until it decides.
    pub fn wants_input(&self) -> bool {
        self.input_room() > 0
    }

    /// Bytes to send to the peer, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Accepts a `PublishRequest`: StreamBegin and onStatus NetStream.Publish.Start, then
    /// goes on with the input held since the request.
    pub fn accept_publish(&mut self, stream_id: u32) -> Result<(), SessionError> {
        if self.set_state(stream_id, StreamState::PublishRequested, StreamState::Publishing) {
            self.send_control(ControlMessage::UserControl(UserControl::StreamBegin(stream_id)));
            self.send(command::on_status(
                stream_id,
                LEVEL_STATUS,
                "NetStream.Publish.Start",
                "Start publishing",
            ));
        }
        self.awaiting_decision = false;
        self.process_pending()
    }

    /// Refuses a `PublishRequest` with an error onStatus (e.g. NetStream.Publish.BadName),
    /// then goes on with the held input (media for the refused stream is ignored).
    pub fn reject_publish(&mut self, stream_id: u32, code: &str, description: &str) -> Result<(), SessionError> {
        if self.set_state(stream_id, StreamState::PublishRequested, StreamState::Created) {
            self.send(command::on_status(stream_id, "error", code, description));
        }
        self.awaiting_decision = false;
        self.process_pending()
    }

    /// Accepts a `PlayRequest`: StreamBegin, NetStream.Play.Reset and NetStream.Play.Start,
    /// and |RtmpSampleAccess. Media then comes from the caller (see `chunk::shared`).
    pub fn accept_play(&mut self, stream_id: u32) -> Result<(), SessionError> {
        if self.set_state(stream_id, StreamState::PlayRequested, StreamState::Playing) {
            self.send_control(ControlMessage::UserControl(UserControl::StreamBegin(stream_id)));
            let reset = command::on_status(stream_id, LEVEL_STATUS, "NetStream.Play.Reset", "Playing and resetting");
            self.send(reset);
            self.send(command::on_status(
                stream_id,
                LEVEL_STATUS,
                "NetStream.Play.Start",
                "Start live",
            ));
            self.send(command::sample_access(stream_id));
        }
        self.awaiting_decision = false;
        self.process_pending()
    }

    /// Refuses a `PlayRequest` with an error onStatus (e.g. NetStream.Play.StreamNotFound).
    pub fn reject_play(&mut self, stream_id: u32, code: &str, description: &str) -> Result<(), SessionError> {
        if self.set_state(stream_id, StreamState::PlayRequested, StreamState::Created) {
            self.send(command::on_status(stream_id, "error", code, description));
        }
        self.awaiting_decision = false;
        self.process_pending()
    }

    /// Asks the peer to reconnect (Enhanced RTMP v2 `NetConnection.Connect.ReconnectRequest`,
    /// to `tc_url` when given, else to the current tcUrl). The session goes on as before:
    /// the peer keeps sending until it has reconnected.
    pub fn request_reconnect(&mut self, tc_url: Option<&str>, description: &str) {
        self.send(super::reconnect::message(tc_url, description));
    }

    /// The chunk size the server sends with (announced after connect).
    pub fn out_chunk_size(&self) -> u32 {
        self.encoder.chunk_size()
    }

    fn set_state(&mut self, stream_id: u32, from: StreamState, to: StreamState) -> bool {
        match self
            .streams
            .iter_mut()
            .find(|(id, state)| *id == stream_id && *state == from)
        {
            Some(entry) => {
                entry.1 = to;
                true
            }
            None => false,
        }
    }

    fn is_publishing(&self, stream_id: u32) -> bool {
        self.streams
            .iter()
            .any(|&(id, state)| id == stream_id && state == StreamState::Publishing)
    }

    fn process(&mut self, data: &[u8]) -> Result<usize, SessionError> {
        let mut used = 0;
        loop {
            let rest = data.get(used..).unwrap_or(&[]);
            if let Some(handshake) = self.handshake.as_mut() {
                match handshake
                    .feed(rest, &mut self.output)
                    .map_err(SessionError::Handshake)?
                {
                    HandshakeStatus::InProgress { consumed } => return Ok(used + consumed),
                    HandshakeStatus::Done { consumed } => {
                        used += consumed;
                        let kind = handshake.kind().unwrap_or(HandshakeKind::Simple);
                        self.handshake = None;
                        self.events.push_back(SessionEvent::HandshakeDone { kind });
                        continue;
                    }
                }
            }
            let decoded = self.decoder.decode(rest)?;
            used += decoded.consumed;
            match decoded.message {
                Some(message) => {
                    self.handle_message(message)?;
                    if self.awaiting_decision {
                        return Ok(used);
                    }
                }
                None if decoded.consumed == 0 => return Ok(used),
                None => {}
            }
        }
    }

    fn handle_message(&mut self, message: RawMessage) -> Result<(), SessionError> {
        match message.type_id {
            t if message::is_control(t) => {
                let control = message::parse_control(t, &message.payload).map_err(SessionError::Control)?;
                self.handle_control(control)
            }
            type_id::AUDIO | type_id::VIDEO => {
                let kind = if message.type_id == type_id::AUDIO {
                    FrameKind::Audio
                } else {
                    FrameKind::Video
                };
                self.emit_media(message.stream_id, kind, message.timestamp, message.payload, false);
                Ok(())
            }
            type_id::DATA_AMF0 | type_id::DATA_AMF3 => {
                self.handle_data(&message);
                Ok(())
            }
            type_id::COMMAND_AMF0 | type_id::COMMAND_AMF3 => {
                let max_depth = self.config.limits.max_amf_depth;
                let parsed = command::parse_command(message.type_id, &message.payload, max_depth)
                    .map_err(SessionError::Command)?;
                self.handle_command(message.stream_id, parsed)
            }
            type_id::AGGREGATE => {
                self.handle_aggregate(&message);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn emit_media(&mut self, stream_id: u32, kind: FrameKind, timestamp: u32, payload: Vec<u8>, metadata: bool) {
        if self.is_publishing(stream_id) {
            self.media_received = true;
            self.events.push_back(SessionEvent::Media {
                stream_id,
                kind,
                timestamp,
                payload,
                metadata,
            });
        }
    }

    fn handle_control(&mut self, control: ControlMessage) -> Result<(), SessionError> {
        match control {
            ControlMessage::SetChunkSize(size) => {
                self.decoder.set_chunk_size(size)?;
                self.events.push_back(SessionEvent::PeerChunkSize(size));
            }
            ControlMessage::Abort { csid } => self.decoder.abort(csid),
            ControlMessage::WindowAckSize(size) if size > 0 => self.peer_window = size,
            ControlMessage::UserControl(UserControl::PingRequest(timestamp)) => {
                self.send_control(ControlMessage::UserControl(UserControl::PingResponse(timestamp)));
            }
            _ => {}
        }
        Ok(())
    }

    /// Script data: `@setDataFrame` is unwrapped, `@clearDataFrame` dropped, the rest kept.
    fn handle_data(&mut self, message: &RawMessage) {
        let body = command::amf0_body(message.type_id, &message.payload);
        let max_depth = self.config.limits.max_amf_depth;
        let Ok((first, used)) = amf0::decode_value(body, max_depth) else {
            return;
        };
        let (payload, name) = match first.as_str() {
            Some("@setDataFrame") => {
                let rest = body.get(used..).unwrap_or(&[]);
                let name = amf0::decode_value(rest, max_depth)
                    .ok()
                    .and_then(|(v, _)| v.as_str().map(str::to_owned));
                (rest, name)
            }
            Some("@clearDataFrame") => return,
            Some(name) => (body, Some(name.to_owned())),
            None => return,
        };
        let metadata = name.as_deref() == Some("onMetaData");
        self.emit_media(
            message.stream_id,
            FrameKind::Data,
            message.timestamp,
            payload.to_vec(),
            metadata,
        );
    }

    /// Aggregate messages (type 22) carry FLV-style sub-messages; their timestamps are
    /// relative to the first sub-message and offset by the aggregate's own timestamp.
    fn handle_aggregate(&mut self, message: &RawMessage) {
        for (type_id, timestamp, body) in aggregate::media_parts(&message.payload, message.timestamp) {
            let kind = if type_id == type_id::AUDIO {
                FrameKind::Audio
            } else {
                FrameKind::Video
            };
            self.emit_media(message.stream_id, kind, timestamp, body.to_vec(), false);
        }
    }

    fn maybe_acknowledge(&mut self) {
        if self.handshake.is_none() && self.bytes_received.wrapping_sub(self.last_ack_at) >= u64::from(self.peer_window)
        {
            self.last_ack_at = self.bytes_received;
            self.send_control(ControlMessage::Acknowledgement(self.bytes_received as u32));
        }
    }

    fn send_control(&mut self, control: ControlMessage) {
        self.send(message::build_control(&control));
    }

    fn send(&mut self, message: RawMessage) {
        self.encoder.encode(&message, &mut self.output);
    }
}

#[cfg(test)]
mod pending_tests;
#[cfg(test)]
mod tests;
