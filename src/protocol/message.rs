//! RTMP message types: protocol control and user control messages parsed from, and built
//! into, `RawMessage`s. Media and AMF payloads are left to their own modules.

use super::chunk::RawMessage;
use byteorder::{BigEndian, ByteOrder};

/// Message type ids (RTMP spec 5.4 and 7.1).
pub mod type_id {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF3: u8 = 15;
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    pub const COMMAND_AMF3: u8 = 17;
    pub const DATA_AMF0: u8 = 18;
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    pub const COMMAND_AMF0: u8 = 20;
    pub const AGGREGATE: u8 = 22;
}

/// Chunk stream ids the server uses for what it sends.
pub mod csid {
    pub const PROTOCOL_CONTROL: u32 = 2;
    pub const COMMAND: u32 = 3;
    pub const STATUS: u32 = 5;
    pub const DATA: u32 = 5;
    pub const AUDIO: u32 = 6;
    pub const VIDEO: u32 = 7;
}

/// User control event types (RTMP spec 7.1.7).
mod event {
    pub const STREAM_BEGIN: u16 = 0;
    pub const STREAM_EOF: u16 = 1;
    pub const STREAM_DRY: u16 = 2;
    pub const SET_BUFFER_LENGTH: u16 = 3;
    pub const STREAM_IS_RECORDED: u16 = 4;
    pub const PING_REQUEST: u16 = 6;
    pub const PING_RESPONSE: u16 = 7;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControl {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength {
        stream_id: u32,
        millis: u32,
    },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    /// An event type this server does not act on; kept for logging.
    Other {
        event_type: u16,
    },
}

/// A protocol control or user control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    SetChunkSize(u32),
    Abort { csid: u32 },
    Acknowledgement(u32),
    UserControl(UserControl),
    WindowAckSize(u32),
    SetPeerBandwidth { size: u32, limit_type: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// A control message shorter than its fixed layout.
    Truncated { type_id: u8, length: usize },
    /// Not a control message type.
    NotControl(u8),
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::Truncated { type_id, length } => {
                write!(f, "control message type {type_id} truncated at {length} bytes")
            }
            MessageError::NotControl(t) => write!(f, "message type {t} is not a control message"),
        }
    }
}

impl std::error::Error for MessageError {}

fn be_u32(payload: &[u8], at: usize, type_id: u8) -> Result<u32, MessageError> {
    payload
        .get(at..at + 4)
        .map(BigEndian::read_u32)
        .ok_or(MessageError::Truncated {
            type_id,
            length: payload.len(),
        })
}

/// True for the message types `parse_control` understands.
pub fn is_control(type_id: u8) -> bool {
    matches!(type_id, 1..=6)
}

/// Parses a protocol control (types 1-3, 5, 6) or user control (type 4) payload.
pub fn parse_control(type_id: u8, payload: &[u8]) -> Result<ControlMessage, MessageError> {
    use crate::protocol::message::type_id as t;
    match type_id {
        t::SET_CHUNK_SIZE => Ok(ControlMessage::SetChunkSize(be_u32(payload, 0, type_id)?)),
        t::ABORT => Ok(ControlMessage::Abort {
            csid: be_u32(payload, 0, type_id)?,
        }),
        t::ACKNOWLEDGEMENT => Ok(ControlMessage::Acknowledgement(be_u32(payload, 0, type_id)?)),
        t::WINDOW_ACK_SIZE => Ok(ControlMessage::WindowAckSize(be_u32(payload, 0, type_id)?)),
        t::SET_PEER_BANDWIDTH => {
            let size = be_u32(payload, 0, type_id)?;
            let limit_type = *payload.get(4).ok_or(MessageError::Truncated {
                type_id,
                length: payload.len(),
            })?;
            Ok(ControlMessage::SetPeerBandwidth { size, limit_type })
        }
        t::USER_CONTROL => parse_user_control(payload).map(ControlMessage::UserControl),
        other => Err(MessageError::NotControl(other)),
    }
}

fn parse_user_control(payload: &[u8]) -> Result<UserControl, MessageError> {
    let truncated = MessageError::Truncated {
        type_id: type_id::USER_CONTROL,
        length: payload.len(),
    };
    let event_type = payload.get(0..2).map(BigEndian::read_u16).ok_or(truncated)?;
    let arg = |at| be_u32(payload, at, type_id::USER_CONTROL);
    Ok(match event_type {
        event::STREAM_BEGIN => UserControl::StreamBegin(arg(2)?),
        event::STREAM_EOF => UserControl::StreamEof(arg(2)?),
        event::STREAM_DRY => UserControl::StreamDry(arg(2)?),
        event::SET_BUFFER_LENGTH => UserControl::SetBufferLength {
            stream_id: arg(2)?,
            millis: arg(6)?,
        },
        event::STREAM_IS_RECORDED => UserControl::StreamIsRecorded(arg(2)?),
        event::PING_REQUEST => UserControl::PingRequest(arg(2)?),
        event::PING_RESPONSE => UserControl::PingResponse(arg(2)?),
        other => UserControl::Other { event_type: other },
    })
}

fn control(type_id: u8, payload: Vec<u8>) -> RawMessage {
    RawMessage {
        csid: csid::PROTOCOL_CONTROL,
        timestamp: 0,
        type_id,
        stream_id: 0,
        payload,
    }
}

fn u32_payload(value: u32) -> Vec<u8> {
    value.to_be_bytes().to_vec()
}

/// Builds the wire form of a control message (always on csid 2, message stream 0).
pub fn build_control(message: &ControlMessage) -> RawMessage {
    use crate::protocol::message::type_id as t;
    match message {
        ControlMessage::SetChunkSize(size) => control(t::SET_CHUNK_SIZE, u32_payload(*size & 0x7FFF_FFFF)),
        ControlMessage::Abort { csid } => control(t::ABORT, u32_payload(*csid)),
        ControlMessage::Acknowledgement(seq) => control(t::ACKNOWLEDGEMENT, u32_payload(*seq)),
        ControlMessage::WindowAckSize(size) => control(t::WINDOW_ACK_SIZE, u32_payload(*size)),
        ControlMessage::SetPeerBandwidth { size, limit_type } => {
            let mut payload = u32_payload(*size);
            payload.push(*limit_type);
            control(t::SET_PEER_BANDWIDTH, payload)
        }
        ControlMessage::UserControl(event) => control(t::USER_CONTROL, build_user_control(event)),
    }
}

fn build_user_control(event: &UserControl) -> Vec<u8> {
    let (event_type, args): (u16, Vec<u32>) = match event {
        UserControl::StreamBegin(id) => (event::STREAM_BEGIN, vec![*id]),
        UserControl::StreamEof(id) => (event::STREAM_EOF, vec![*id]),
        UserControl::StreamDry(id) => (event::STREAM_DRY, vec![*id]),
        UserControl::SetBufferLength { stream_id, millis } => (event::SET_BUFFER_LENGTH, vec![*stream_id, *millis]),
        UserControl::StreamIsRecorded(id) => (event::STREAM_IS_RECORDED, vec![*id]),
        UserControl::PingRequest(ts) => (event::PING_REQUEST, vec![*ts]),
        UserControl::PingResponse(ts) => (event::PING_RESPONSE, vec![*ts]),
        UserControl::Other { event_type } => (*event_type, vec![]),
    };
    let mut payload = event_type.to_be_bytes().to_vec();
    for arg in args {
        payload.extend_from_slice(&arg.to_be_bytes());
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_chunk_size_parses_big_endian_payload() {
        let parsed = parse_control(1, &[0x00, 0x00, 0x10, 0x00]).unwrap();
        assert_eq!(parsed, ControlMessage::SetChunkSize(4096));
    }

    #[test]
    fn truncated_control_payload_is_an_error_not_a_panic() {
        for type_id in 1..=6u8 {
            assert!(matches!(
                parse_control(type_id, &[0x00]),
                Err(MessageError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn ping_request_parses_and_response_builds() {
        let parsed = parse_control(4, &[0x00, 0x06, 0x00, 0x00, 0x01, 0x02]).unwrap();
        assert_eq!(parsed, ControlMessage::UserControl(UserControl::PingRequest(0x0102)));
        let response = build_control(&ControlMessage::UserControl(UserControl::PingResponse(0x0102)));
        assert_eq!(response.payload, vec![0x00, 0x07, 0x00, 0x00, 0x01, 0x02]);
        assert_eq!(response.csid, 2);
    }

    #[test]
    fn set_buffer_length_reads_both_arguments() {
        let bytes = [0x00, 0x03, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8];
        let parsed = parse_control(4, &bytes).unwrap();
        let expected = UserControl::SetBufferLength {
            stream_id: 1,
            millis: 3000,
        };
        assert_eq!(parsed, ControlMessage::UserControl(expected));
    }

    #[test]
    fn every_control_message_round_trips() {
        let all = [
            ControlMessage::SetChunkSize(4096),
            ControlMessage::Abort { csid: 7 },
            ControlMessage::Acknowledgement(123_456),
            ControlMessage::WindowAckSize(2_500_000),
            ControlMessage::SetPeerBandwidth {
                size: 2_500_000,
                limit_type: 2,
            },
            ControlMessage::UserControl(UserControl::StreamBegin(1)),
            ControlMessage::UserControl(UserControl::StreamEof(1)),
            ControlMessage::UserControl(UserControl::SetBufferLength {
                stream_id: 1,
                millis: 500,
            }),
            ControlMessage::UserControl(UserControl::PingResponse(9)),
        ];
        for message in all {
            let raw = build_control(&message);
            assert_eq!(parse_control(raw.type_id, &raw.payload).unwrap(), message);
        }
    }

    #[test]
    fn set_chunk_size_build_clears_the_reserved_high_bit() {
        let raw = build_control(&ControlMessage::SetChunkSize(0x8000_1000));
        assert_eq!(raw.payload, vec![0x00, 0x00, 0x10, 0x00]);
    }
}
