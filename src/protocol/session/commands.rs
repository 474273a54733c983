//! NetConnection and NetStream commands of the server session: connect, createStream,
//! publish, play and the calls around them; unknown calls get `_error`.

use super::{ServerSession, SessionError, SessionEvent, StreamState, LEVEL_STATUS, MAX_STREAMS_PER_CONNECTION};
use crate::protocol::amf0::Amf0Value;
use crate::protocol::command::{self, Command};
use crate::protocol::message::ControlMessage;

impl ServerSession {
    pub(super) fn handle_command(&mut self, message_stream: u32, command: Command) -> Result<(), SessionError> {
        let name = command.name.as_str();
        if name != "connect" && !self.connected && !is_reply(name) {
            return Err(SessionError::OutOfOrder { command: command.name });
        }
        match name {
            "connect" => self.on_connect(&command)?,
            "createStream" => self.on_create_stream(&command)?,
            "publish" => self.on_publish(message_stream, &command)?,
            "releaseStream" => {
                if command.transaction_id != 0.0 {
                    self.send(command::result(command.transaction_id, vec![Amf0Value::Undefined]));
                }
            }
            "FCPublish" => {
                let stream = first_string(&command).unwrap_or_default();
                self.send(command::on_fc("onFCPublish", "NetStream.Publish.Start", &stream));
            }
            "FCUnpublish" => {
                let stream = first_string(&command).unwrap_or_default();
                self.send(command::on_fc("onFCUnpublish", "NetStream.Unpublish.Success", &stream));
                // FCUnpublish ends the publish at once: encoders close right after it, and a
                // reset can swallow the deleteStream that follows.
                let publishing: Vec<u32> = self
                    .streams
                    .iter()
                    .filter(|(_, state)| *state == StreamState::Publishing)
                    .map(|(id, _)| *id)
                    .collect();
                for stream_id in publishing {
                    self.end_stream(stream_id);
                }
            }
            "deleteStream" => {
                let stream_id = command.arguments.first().and_then(Amf0Value::as_number).unwrap_or(0.0);
                let stream_id = number_to_stream_id(stream_id);
                self.end_stream(stream_id);
                self.streams.retain(|(id, _)| *id != stream_id);
            }
            "closeStream" => self.end_stream(message_stream),
            "play" => self.on_play(message_stream, &command)?,
            "getStreamLength" => {
                if command.transaction_id != 0.0 {
                    self.send(command::result(command.transaction_id, vec![Amf0Value::Number(0.0)]));
                }
            }
            "FCSubscribe" => {
                let stream = first_string(&command).unwrap_or_default();
                self.send(command::on_fc("onFCSubscribe", "NetStream.Play.Start", &stream));
            }
            // Live streams ignore these; they carry no transaction to answer.
            "pause" | "receiveAudio" | "receiveVideo" | "seek" | "FCUnsubscribe" => {}
            n if is_reply(n) => {}
            _ => {
                if command.transaction_id != 0.0 {
                    self.send(command::error(
                        command.transaction_id,
                        "NetConnection.Call.Failed",
                        "Method not found",
                    ));
                }
                self.events
                    .push_back(SessionEvent::UnknownCommand { name: command.name });
            }
        }
        Ok(())
    }

    fn check_name(&self, name: &str) -> Result<(), SessionError> {
        let limit = self.config.limits.max_name_len;
        if name.len() > limit {
            return Err(SessionError::NameTooLong {
                length: name.len(),
                limit,
            });
        }
        // Control characters have no place in a stream name and could forge log lines.
        if name.chars().any(char::is_control) {
            return Err(SessionError::ControlCharacterInName);
        }
        Ok(())
    }

    fn on_connect(&mut self, command: &Command) -> Result<(), SessionError> {
        let props = &command.command_object;
        let text = |key: &str| {
            props
                .get(key)
                .and_then(Amf0Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let raw_app = text("app");
        self.check_name(&raw_app)?;
        let app = command::split_query(&raw_app).0.trim_matches('/').to_owned();
        let object_encoding = props
            .get("objectEncoding")
            .and_then(Amf0Value::as_number)
            .unwrap_or(0.0);
        self.send_control(ControlMessage::WindowAckSize(self.config.window_ack_size));
        self.send_control(ControlMessage::SetPeerBandwidth {
            size: self.config.peer_bandwidth,
            limit_type: 2,
        });
        self.send_control(ControlMessage::SetChunkSize(self.config.chunk_size));
        self.encoder.set_chunk_size(self.config.chunk_size);
        self.send(command::connect_result(command.transaction_id, object_encoding));
        self.connected = true;
        let (tc_url, flash_ver) = (text("tcUrl"), text("flashVer"));
        self.events.push_back(SessionEvent::Connect {
            app,
            tc_url,
            flash_ver,
            object_encoding,
        });
        Ok(())
    }

    fn on_create_stream(&mut self, command: &Command) -> Result<(), SessionError> {
        if self.streams.len() >= MAX_STREAMS_PER_CONNECTION {
            return Err(SessionError::TooManyStreams {
                limit: MAX_STREAMS_PER_CONNECTION,
            });
        }
        let stream_id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1).max(1);
        self.streams.push((stream_id, StreamState::Created));
        self.send(command::result(
            command.transaction_id,
            vec![Amf0Value::Number(f64::from(stream_id))],
        ));
        Ok(())
    }

    fn on_publish(&mut self, message_stream: u32, command: &Command) -> Result<(), SessionError> {
        let publish_type = command
            .arguments
            .get(1)
            .and_then(Amf0Value::as_str)
            .unwrap_or("live")
            .to_owned();
        let (name, query) = self.request_stream(message_stream, command, StreamState::PublishRequested)?;
        let stream_id = message_stream;
        self.events.push_back(SessionEvent::PublishRequest {
            stream_id,
            name,
            query,
            publish_type,
        });
        Ok(())
    }

    fn on_play(&mut self, message_stream: u32, command: &Command) -> Result<(), SessionError> {
        let (name, query) = self.request_stream(message_stream, command, StreamState::PlayRequested)?;
        self.events.push_back(SessionEvent::PlayRequest {
            stream_id: message_stream,
            name,
            query,
        });
        Ok(())
    }

    /// The part publish and play share: the name argument (checked, split from its query),
    /// the created stream moving to `requested`, and input held until the caller decides.
    fn request_stream(
        &mut self,
        message_stream: u32,
        command: &Command,
        requested: StreamState,
    ) -> Result<(String, String), SessionError> {
        let missing = |argument| SessionError::MissingArgument {
            command: command.name.clone(),
            argument,
        };
        let raw_name = first_string(command).ok_or_else(|| missing("stream name"))?;
        self.check_name(&raw_name)?;
        if !self.set_state(message_stream, StreamState::Created, requested) {
            return Err(SessionError::OutOfOrder {
                command: command.name.clone(),
            });
        }
        let (name, query) = command::split_query(&raw_name);
        self.awaiting_decision = true;
        Ok((name.to_owned(), query.to_owned()))
    }

    pub(super) fn end_stream(&mut self, stream_id: u32) {
        if self.set_state(stream_id, StreamState::Publishing, StreamState::Created) {
            let description = "Stop publishing";
            self.send(command::on_status(
                stream_id,
                LEVEL_STATUS,
                "NetStream.Unpublish.Success",
                description,
            ));
            self.events.push_back(SessionEvent::Unpublish { stream_id });
        } else if self.set_state(stream_id, StreamState::Playing, StreamState::Created) {
            self.events.push_back(SessionEvent::PlayStop { stream_id });
        }
    }
}

fn is_reply(name: &str) -> bool {
    matches!(name, "_result" | "_error" | "onStatus" | "onBWDone" | "onBWCheck")
}

fn first_string(command: &Command) -> Option<String> {
    command.arguments.first().and_then(Amf0Value::as_str).map(str::to_owned)
}

fn number_to_stream_id(value: f64) -> u32 {
    if value.is_finite() && value >= 0.0 && value <= f64::from(u32::MAX) {
        value as u32
    } else {
        0
    }
}
