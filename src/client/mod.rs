//! The one RTMP client of the project (tests, the benchmark and push relays use it): a blocking
//! socket (plain or TLS, `transport`) driven by the sans-IO handshake, chunk codec and
//! command builders. `url` parses RTMP URLs; `connect` opens a client from one
//! (`connect_url`); `reconnect` follows a server's Enhanced RTMP reconnect request while
//! publishing; `enhanced` turns a fragmented MP4 into Enhanced RTMP frames (`send_mp4`).

mod connect;
pub mod enhanced;
mod error;
pub mod reconnect;
pub mod transport;
pub mod url;

use crate::flv::reader::{parse_header, parse_tag, FlvReadError};
use crate::limits::{Limits, DEFAULT_MAX_AMF_DEPTH};
use crate::media::FrameKind;
use crate::protocol::amf0::{self, Amf0Value};
use crate::protocol::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use crate::protocol::command::{parse_command, Command};
use crate::protocol::handshake::{filler_random, ClientHandshake, HandshakeKind, HandshakeStatus};
use crate::protocol::message::{self, csid, type_id, ControlMessage, UserControl};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use transport::Transport;

pub use error::ClientError;

/// Chunk size the client announces and sends with.
pub const CLIENT_CHUNK_SIZE: u32 = 4096;
/// Most messages read while waiting for one reply before giving up.
const MAX_MESSAGES_PER_REPLY: usize = 10_000;

pub type ClientResult<T> = Result<T, ClientError>;

/// What a playing client receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayEvent {
    Media(RawMessage),
    /// An onStatus code, e.g. NetStream.Play.UnpublishNotify.
    Status(String),
}

#[derive(Debug)]
pub struct RtmpClient {
    socket: Transport,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    pending: Vec<u8>,
    next_transaction: f64,
    stream_id: u32,
    stream_name: String,
    out: Vec<u8>,
    /// Enhanced RTMP reconnect requests and how to follow them (`reconnect`).
    follow: reconnect::Follow,
}

impl RtmpClient {
    /// Connects, runs the handshake (digest kind, as FFmpeg does) and `connect`s to `app`.
    pub fn connect(addr: SocketAddr, app: &str, timeout: Duration) -> ClientResult<RtmpClient> {
        Self::connect_with(addr, app, timeout, HandshakeKind::Digest)
    }

    pub fn connect_with(
        addr: SocketAddr,
        app: &str,
        timeout: Duration,
        kind: HandshakeKind,
    ) -> ClientResult<RtmpClient> {
        let socket = Transport::connect_tcp(addr, timeout)?;
        let mut client = Self::start(Transport::Plain(socket), format!("rtmp://{addr}/{app}"), app, kind)?;
        client.follow.set_transport(None, timeout);
        Ok(client)
    }

    /// Connects over TLS (rtmps://), verifying the server's certificate for `server_name`
    /// with `config` (e.g. `tls::client_config`), then handshakes and `connect`s to `app`.
    pub fn connect_tls(
        addr: SocketAddr,
        server_name: &str,
        app: &str,
        config: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> ClientResult<RtmpClient> {
        let transport = Transport::connect_tls(addr, server_name, Arc::clone(&config), timeout)?;
        let tc_url = format!("rtmps://{server_name}:{}/{app}", addr.port());
        let mut client = Self::start(transport, tc_url, app, HandshakeKind::Digest)?;
        client.follow.set_transport(Some(config), timeout);
        Ok(client)
    }

    /// Runs the RTMP handshake and `connect` over an open transport.
    pub fn start(socket: Transport, tc_url: String, app: &str, kind: HandshakeKind) -> ClientResult<RtmpClient> {
        let chunk_limits = Limits::default().chunk_limits();
        let mut client = RtmpClient {
            socket,
            decoder: ChunkDecoder::new(chunk_limits),
            encoder: ChunkEncoder::new(),
            pending: Vec::new(),
            next_transaction: 1.0,
            stream_id: 0,
            stream_name: String::new(),
            out: Vec::new(),
            follow: reconnect::Follow::new(tc_url.clone()),
        };
        client.handshake(kind)?;
        client.send_control(ControlMessage::SetChunkSize(CLIENT_CHUNK_SIZE))?;
        client.encoder.set_chunk_size(CLIENT_CHUNK_SIZE);
        let properties = Amf0Value::Object(vec![
            ("app".into(), Amf0Value::String(app.into())),
            ("type".into(), Amf0Value::String("nonprivate".into())),
            (
                "flashVer".into(),
                Amf0Value::String("FMLE/3.0 (compatible; rtmp-server client)".into()),
            ),
            ("tcUrl".into(), Amf0Value::String(tc_url)),
            // Enhanced RTMP v2 capsEx: Reconnect (the client follows reconnect requests).
            ("capsEx".into(), Amf0Value::Number(reconnect::CAPS_EX_RECONNECT)),
        ]);
        let transaction = client.call("connect", properties, vec![])?;
        client.wait_result(transaction, "connect")?;
        Ok(client)
    }

    fn handshake(&mut self, kind: HandshakeKind) -> ClientResult<()> {
        let mut out = Vec::new();
        let mut handshake = ClientHandshake::new(kind, filler_random(0x5EED), 0, &mut out);
        self.socket.write_all(&out)?;
        let mut buffer = vec![0u8; 4096];
        loop {
            let n = self.socket.read(&mut buffer)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.pending.extend_from_slice(buffer.get(..n).unwrap_or(&[]));
            out.clear();
            let status = handshake
                .feed(&self.pending, &mut out)
                .map_err(ClientError::Handshake)?;
            self.socket.write_all(&out)?;
            match status {
                HandshakeStatus::InProgress { consumed } => {
                    self.pending.drain(..consumed.min(self.pending.len()));
                }
                HandshakeStatus::Done { consumed } => {
                    self.pending.drain(..consumed.min(self.pending.len()));
                    return Ok(());
                }
            }
        }
    }

    /// createStream and play; waits for NetStream.Play.Start.
    pub fn play(&mut self, name: &str) -> ClientResult<()> {
        let transaction = self.call("createStream", Amf0Value::Null, vec![])?;
        let reply = self.wait_result(transaction, "createStream")?;
        let stream_id = reply.arguments.first().and_then(Amf0Value::as_number).unwrap_or(1.0);
        self.stream_id = stream_id as u32;
        self.stream_name = name.to_owned();
        let args = vec![Amf0Value::String(name.into()), Amf0Value::Number(-1000.0)];
        self.send_command(self.stream_id, "play", 0.0, Amf0Value::Null, args)?;
        self.send_control(ControlMessage::UserControl(UserControl::SetBufferLength {
            stream_id: self.stream_id,
            millis: 1000,
        }))?;
        self.wait_status("NetStream.Play.Start")
    }

    /// Reads until the next message a player cares about: media (audio, video, data other
    /// than |RtmpSampleAccess) or a status change of the played stream.
    pub fn read_play_event(&mut self) -> ClientResult<PlayEvent> {
        for _ in 0..MAX_MESSAGES_PER_REPLY {
            let message = self.read_message()?;
            match message.type_id {
                type_id::AUDIO | type_id::VIDEO | type_id::DATA_AMF0 => {
                    let sample_access = message.payload.get(3..20) == Some(b"|RtmpSampleAccess".as_slice());
                    if !sample_access {
                        return Ok(PlayEvent::Media(message));
                    }
                }
                type_id::COMMAND_AMF0 => {
                    let command = parse_command(message.type_id, &message.payload, DEFAULT_MAX_AMF_DEPTH)
                        .map_err(ClientError::Command)?;
                    if command.name == "onStatus" {
                        return Ok(PlayEvent::Status(status_code(&command)));
                    }
                }
                _ => {}
            }
        }
        Err(ClientError::NoReply("play event"))
    }

    /// releaseStream, FCPublish, createStream, publish; waits for NetStream.Publish.Start.
    pub fn publish(&mut self, name: &str) -> ClientResult<()> {
        let stream_arg = vec![Amf0Value::String(name.into())];
        self.call("releaseStream", Amf0Value::Null, stream_arg.clone())?;
        self.call("FCPublish", Amf0Value::Null, stream_arg)?;
        let transaction = self.call("createStream", Amf0Value::Null, vec![])?;
        let reply = self.wait_result(transaction, "createStream")?;
        let stream_id = reply.arguments.first().and_then(Amf0Value::as_number).unwrap_or(1.0);
        self.stream_id = stream_id as u32;
        self.stream_name = name.to_owned();
        let args = vec![Amf0Value::String(name.into()), Amf0Value::String("live".into())];
        self.send_command(self.stream_id, "publish", 0.0, Amf0Value::Null, args)?;
        self.flush()?;
        self.wait_status("NetStream.Publish.Start")?;
        self.follow.set_publishing(true);
        Ok(())
    }

    /// Sends one audio, video or data frame on the published stream. Data frames whose
    /// body starts with onMetaData are wrapped in @setDataFrame, as encoders do.
    /// A reconnect request the server sent is followed here, before a media boundary
    /// (`reconnect`).
    pub fn send_frame(&mut self, kind: FrameKind, timestamp: u32, body: &[u8]) -> ClientResult<()> {
        self.before_frame(kind, timestamp, body)?;
        let (type_id, stream_id) = (kind.tag_type(), self.stream_id);
        match kind {
            // Media is chunked straight from the caller's buffer (one copy, into `out`).
            FrameKind::Audio | FrameKind::Video => {
                let chunk_stream = if kind == FrameKind::Audio {
                    csid::AUDIO
                } else {
                    csid::VIDEO
                };
                self.encoder
                    .encode_parts(chunk_stream, timestamp, type_id, stream_id, body, &mut self.out);
            }
            FrameKind::Data => {
                let payload = data_payload(body);
                self.encoder
                    .encode_parts(csid::DATA, timestamp, type_id, stream_id, &payload, &mut self.out);
            }
        }
        if self.out.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    /// Publishes every tag of an FLV file held in memory, then returns the tag count.
    pub fn send_flv(&mut self, flv: &[u8]) -> ClientResult<usize> {
        let header = parse_header(flv)
            .map_err(ClientError::Flv)?
            .ok_or(ClientError::Flv(FlvReadError::NotFlv))?;
        let mut rest = flv.get(header.data_offset..).unwrap_or(&[]);
        let mut count = 0;
        while let Some((tag, used)) = parse_tag(rest).map_err(ClientError::Flv)? {
            let kind = match tag.tag_type {
                8 => FrameKind::Audio,
                9 => FrameKind::Video,
                _ => FrameKind::Data,
            };
            self.send_frame(kind, tag.timestamp, tag.body)?;
            count += 1;
            rest = rest.get(used..).unwrap_or(&[]);
        }
        self.flush()?;
        Ok(count)
    }

    /// Publishes a fragmented MP4 held in memory as Enhanced RTMP (HEVC, AV1, VP9, Opus...:
    /// `enhanced`), as fast as the socket takes it; returns the frame count.
    pub fn send_mp4(&mut self, mp4: &[u8]) -> ClientResult<usize> {
        let frames = enhanced::enhanced_frames(mp4).map_err(ClientError::Mp4)?;
        for frame in &frames {
            self.send_frame(frame.kind, frame.timestamp, &frame.payload)?;
        }
        self.flush()?;
        Ok(frames.len())
    }

    /// FCUnpublish and deleteStream, as FFmpeg ends a publish; waits for Unpublish.Success.
    pub fn unpublish(&mut self) -> ClientResult<()> {
        self.follow.set_publishing(false);
        let name = Amf0Value::String(self.stream_name.clone());
        self.call("FCUnpublish", Amf0Value::Null, vec![name])?;
        let id = Amf0Value::Number(f64::from(self.stream_id));
        self.call("deleteStream", Amf0Value::Null, vec![id])?;
        self.wait_status("NetStream.Unpublish.Success")
    }

    /// Writes raw bytes (for tests that send what no encoder would).
    pub fn send_raw(&mut self, bytes: &[u8]) -> ClientResult<()> {
        self.flush()?;
        self.socket.write_all(bytes)?;
        Ok(())
    }

    pub fn flush(&mut self) -> ClientResult<()> {
        if !self.out.is_empty() {
            self.socket.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    pub fn socket(&self) -> &TcpStream {
        self.socket.tcp()
    }

    /// Sends a command on stream 0 with the next transaction id; returns that id.
    pub fn call(&mut self, name: &str, object: Amf0Value, args: Vec<Amf0Value>) -> ClientResult<f64> {
        let transaction = self.next_transaction;
        self.next_transaction += 1.0;
        self.send_command(0, name, transaction, object, args)?;
        self.flush()?;
        Ok(transaction)
    }

    fn send_command(
        &mut self,
        stream_id: u32,
        name: &str,
        transaction: f64,
        object: Amf0Value,
        args: Vec<Amf0Value>,
    ) -> ClientResult<()> {
        let mut payload = Vec::new();
        amf0::encode(&Amf0Value::String(name.into()), &mut payload);
        amf0::encode(&Amf0Value::Number(transaction), &mut payload);
        amf0::encode(&object, &mut payload);
        for arg in &args {
            amf0::encode(arg, &mut payload);
        }
        let chunk_stream = if stream_id == 0 { csid::COMMAND } else { csid::STATUS };
        let message = RawMessage {
            csid: chunk_stream,
            timestamp: 0,
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload,
        };
        self.encoder.encode(&message, &mut self.out);
        Ok(())
    }

    fn send_control(&mut self, control: ControlMessage) -> ClientResult<()> {
        self.encoder.encode(&message::build_control(&control), &mut self.out);
        self.flush()
    }

    /// Reads the next complete message, applying the server's chunk size changes and
    /// answering its pings.
    pub fn read_message(&mut self) -> ClientResult<RawMessage> {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let decoded = self.decoder.decode(&self.pending).map_err(ClientError::Chunk)?;
            self.pending.drain(..decoded.consumed.min(self.pending.len()));
            if let Some(message) = decoded.message {
                self.on_control(&message)?;
                self.follow.note(&message);
                return Ok(message);
            }
            if decoded.consumed > 0 {
                continue;
            }
            let n = self.socket.read(&mut buffer)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.pending.extend_from_slice(buffer.get(..n).unwrap_or(&[]));
        }
    }

    fn on_control(&mut self, message: &RawMessage) -> ClientResult<()> {
        if !message::is_control(message.type_id) {
            return Ok(());
        }
        match message::parse_control(message.type_id, &message.payload) {
            Ok(ControlMessage::SetChunkSize(size)) => self.decoder.set_chunk_size(size).map_err(ClientError::Chunk),
            Ok(ControlMessage::UserControl(UserControl::PingRequest(ts))) => {
                self.send_control(ControlMessage::UserControl(UserControl::PingResponse(ts)))
            }
            _ => Ok(()),
        }
    }

    /// Reads until the next command message.
    pub fn read_command(&mut self) -> ClientResult<Command> {
        for _ in 0..MAX_MESSAGES_PER_REPLY {
            let message = self.read_message()?;
            if message.type_id == type_id::COMMAND_AMF0 || message.type_id == type_id::COMMAND_AMF3 {
                return parse_command(message.type_id, &message.payload, DEFAULT_MAX_AMF_DEPTH)
                    .map_err(ClientError::Command);
            }
        }
        Err(ClientError::NoReply("command"))
    }

    fn wait_result(&mut self, transaction: f64, what: &'static str) -> ClientResult<Command> {
        for _ in 0..MAX_MESSAGES_PER_REPLY {
            let command = self.read_command()?;
            if command.transaction_id != transaction {
                continue;
            }
            return match command.name.as_str() {
                "_result" => Ok(command),
                _ => Err(ClientError::Rejected(status_code(&command))),
            };
        }
        Err(ClientError::NoReply(what))
    }

    /// Sends a call the server cannot know and waits for its `_error`: once it arrives, the
    /// server has handled everything sent before it.
    pub fn round_trip(&mut self) -> ClientResult<()> {
        let transaction = self.call("roundTrip", Amf0Value::Null, vec![])?;
        for _ in 0..MAX_MESSAGES_PER_REPLY {
            if self.read_command()?.transaction_id == transaction {
                return Ok(());
            }
        }
        Err(ClientError::NoReply("round trip"))
    }

    /// Waits for onStatus with `code`; an error-level onStatus first is a rejection.
    pub fn wait_status(&mut self, code: &str) -> ClientResult<()> {
        for _ in 0..MAX_MESSAGES_PER_REPLY {
            let command = self.read_command()?;
            if command.name != "onStatus" {
                continue;
            }
            let got = status_code(&command);
            if got == code {
                return Ok(());
            }
            let level = command
                .arguments
                .first()
                .and_then(|i| i.get("level"))
                .and_then(Amf0Value::as_str);
            if level == Some("error") {
                return Err(ClientError::Rejected(got));
            }
        }
        Err(ClientError::NoReply("status"))
    }
}

/// A data message's payload: onMetaData wrapped in `@setDataFrame` (as encoders send it, so
/// a server keeps it as the stream's metadata), any other script data as it is.
fn data_payload(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut name = Vec::with_capacity(16);
    amf0::encode(&Amf0Value::String("onMetaData".into()), &mut name);
    if !body.starts_with(&name) {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut payload = Vec::with_capacity(body.len() + 16);
    amf0::encode(&Amf0Value::String("@setDataFrame".into()), &mut payload);
    payload.extend_from_slice(body);
    std::borrow::Cow::Owned(payload)
}

fn status_code(command: &Command) -> String {
    command
        .arguments
        .iter()
        .find_map(|info| info.get("code").and_then(Amf0Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_onmetadata_is_wrapped_in_set_data_frame() {
        let script = |name: &str| {
            let mut body = Vec::new();
            amf0::encode(&Amf0Value::String(name.into()), &mut body);
            amf0::encode(&amf0::object(&[]), &mut body);
            body
        };
        let metadata = script("onMetaData");
        let wrapped = data_payload(&metadata);
        assert!(wrapped.starts_with(b"\x02\x00\x0D@setDataFrame"));
        assert!(wrapped.ends_with(&metadata));
        let cue = script("onCuePoint");
        assert_eq!(&*data_payload(&cue), &cue[..]);
    }
}
