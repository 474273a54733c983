//! NetConnection / NetStream commands: parsing AMF0 (type 20) and AMF3-wrapped (type 17)
//! command messages, and building the replies a server sends (_result, _error, onStatus).

use super::amf0::{self, Amf0Value, AmfError};
use super::chunk::RawMessage;
use super::message::{csid, type_id};

/// A decoded command: name, transaction id, command object and the remaining arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    pub transaction_id: f64,
    pub command_object: Amf0Value,
    pub arguments: Vec<Amf0Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    Amf(AmfError),
    /// The payload did not start with a command name string.
    MissingName,
    Empty,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Amf(e) => write!(f, "bad AMF in command: {e}"),
            CommandError::MissingName => write!(f, "command does not start with a name string"),
            CommandError::Empty => write!(f, "empty command payload"),
        }
    }
}

impl std::error::Error for CommandError {}

impl From<AmfError> for CommandError {
    fn from(e: AmfError) -> Self {
        CommandError::Amf(e)
    }
}

/// Strips the leading AMF3 format byte of type 15/17 payloads; the rest is AMF0 whose
/// values may switch to AMF3 with marker 0x11.
pub fn amf0_body(type_id: u8, payload: &[u8]) -> &[u8] {
    let wrapped = type_id == type_id::COMMAND_AMF3 || type_id == type_id::DATA_AMF3;
    match payload.split_first() {
        Some((0, rest)) if wrapped => rest,
        _ => payload,
    }
}

/// Parses a command message payload (type 20, or 17 with its format byte).
pub fn parse_command(type_id: u8, payload: &[u8], max_depth: usize) -> Result<Command, CommandError> {
    let body = amf0_body(type_id, payload);
    if body.is_empty() {
        return Err(CommandError::Empty);
    }
    let mut values = amf0::decode_all(body, max_depth)?.into_iter();
    let name = match values.next() {
        Some(value) => value.as_str().map(str::to_owned).ok_or(CommandError::MissingName)?,
        None => return Err(CommandError::MissingName),
    };
    let transaction_id = values.next().and_then(|v| v.as_number()).unwrap_or(0.0);
    let command_object = values.next().unwrap_or(Amf0Value::Null);
    Ok(Command {
        name,
        transaction_id,
        command_object,
        arguments: values.collect(),
    })
}

fn string(s: &str) -> Amf0Value {
    Amf0Value::String(s.to_owned())
}

/// A command message of AMF0 `values` on `stream_id` and `chunk_stream`.
pub(super) fn command_message(stream_id: u32, chunk_stream: u32, values: &[Amf0Value]) -> RawMessage {
    let mut payload = Vec::with_capacity(256);
    for value in values {
        amf0::encode(value, &mut payload);
    }
    RawMessage {
        csid: chunk_stream,
        timestamp: 0,
        type_id: type_id::COMMAND_AMF0,
        stream_id,
        payload,
    }
}

/// A status info object: {level, code, description} plus extra fields.
pub fn status_info(level: &str, code: &str, description: &str, extra: Vec<(String, Amf0Value)>) -> Amf0Value {
    let mut fields = vec![
        ("level".to_owned(), string(level)),
        ("code".to_owned(), string(code)),
        ("description".to_owned(), string(description)),
    ];
    fields.extend(extra);
    Amf0Value::Object(fields)
}

/// `_result` for `connect`: server properties and NetConnection.Connect.Success.
pub fn connect_result(transaction_id: f64, object_encoding: f64) -> RawMessage {
    let properties = Amf0Value::Object(vec![
        ("fmsVer".to_owned(), string("FMS/3,0,1,123")),
        ("capabilities".to_owned(), Amf0Value::Number(31.0)),
    ]);
    let information = status_info(
        "status",
        "NetConnection.Connect.Success",
        "Connection succeeded.",
        vec![("objectEncoding".to_owned(), Amf0Value::Number(object_encoding))],
    );
    let values = [
        string("_result"),
        Amf0Value::Number(transaction_id),
        properties,
        information,
    ];
    command_message(0, csid::COMMAND, &values)
}

/// `_result` with a null command object and the given return values.
pub fn result(transaction_id: f64, returns: Vec<Amf0Value>) -> RawMessage {
    let mut values = vec![string("_result"), Amf0Value::Number(transaction_id), Amf0Value::Null];
    values.extend(returns);
    command_message(0, csid::COMMAND, &values)
}

/// `_error` for a command the server cannot serve.
pub fn error(transaction_id: f64, code: &str, description: &str) -> RawMessage {
    let values = [
        string("_error"),
        Amf0Value::Number(transaction_id),
        Amf0Value::Null,
        status_info("error", code, description, vec![]),
    ];
    command_message(0, csid::COMMAND, &values)
}

/// `onStatus` on a message stream (NetStream.Publish.Start and friends).
pub fn on_status(stream_id: u32, level: &str, code: &str, description: &str) -> RawMessage {
    let values = [
        string("onStatus"),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        status_info(level, code, description, vec![]),
    ];
    command_message(stream_id, csid::STATUS, &values)
}

/// `onFCPublish` / `onFCUnpublish`, the answers FMLE-style encoders expect.
pub fn on_fc(name: &str, code: &str, stream: &str) -> RawMessage {
    let info = status_info("status", code, stream, vec![]);
    let values = [string(name), Amf0Value::Number(0.0), Amf0Value::Null, info];
    command_message(0, csid::COMMAND, &values)
}

/// `|RtmpSampleAccess` (true, true): lets Flash-based players read the stream's samples.
pub fn sample_access(stream_id: u32) -> RawMessage {
    let values = [
        string("|RtmpSampleAccess"),
        Amf0Value::Boolean(true),
        Amf0Value::Boolean(true),
    ];
    let mut message = command_message(stream_id, csid::STATUS, &values);
    message.type_id = type_id::DATA_AMF0;
    message
}

/// Splits `name?query` into the name and the query (empty when absent).
pub fn split_query(name: &str) -> (&str, &str) {
    match name.split_once('?') {
        Some((base, query)) => (base, query),
        None => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FFMPEG_CREATE_STREAM: &[u8] = &[
        0x02, 0x00, 0x0c, b'c', b'r', b'e', b'a', b't', b'e', b'S', b't', b'r', b'e', b'a', b'm', 0x00, 0x40, 0x10, 0,
        0, 0, 0, 0, 0, 0x05,
    ];

    #[test]
    fn ffmpeg_create_stream_parses_name_and_transaction() {
        let command = parse_command(20, FFMPEG_CREATE_STREAM, 32).unwrap();
        assert_eq!(command.name, "createStream");
        assert_eq!(command.transaction_id, 4.0);
        assert_eq!(command.command_object, Amf0Value::Null);
        assert!(command.arguments.is_empty());
    }

    #[test]
    fn amf3_command_skips_the_format_byte() {
        let mut payload = vec![0x00];
        payload.extend_from_slice(FFMPEG_CREATE_STREAM);
        let command = parse_command(17, &payload, 32).unwrap();
        assert_eq!(command.name, "createStream");
    }

    #[test]
    fn command_without_name_is_rejected() {
        let payload = [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_command(20, &payload, 32), Err(CommandError::MissingName));
        assert_eq!(parse_command(20, &[], 32), Err(CommandError::Empty));
    }

    #[test]
    fn connect_result_carries_success_code_and_object_encoding() {
        let message = connect_result(1.0, 3.0);
        let parsed = parse_command(20, &message.payload, 32).unwrap();
        assert_eq!(parsed.name, "_result");
        assert_eq!(parsed.transaction_id, 1.0);
        let info = &parsed.arguments[0];
        assert_eq!(
            info.get("code").and_then(Amf0Value::as_str),
            Some("NetConnection.Connect.Success")
        );
        assert_eq!(info.get("objectEncoding").and_then(Amf0Value::as_number), Some(3.0));
    }

    #[test]
    fn on_status_travels_on_the_given_message_stream() {
        let message = on_status(1, "status", "NetStream.Publish.Start", "Start publishing");
        assert_eq!(message.stream_id, 1);
        let parsed = parse_command(20, &message.payload, 32).unwrap();
        assert_eq!(parsed.name, "onStatus");
        let code = parsed.arguments[0].get("code").and_then(Amf0Value::as_str);
        assert_eq!(code, Some("NetStream.Publish.Start"));
    }

    #[test]
    fn split_query_separates_key_parameters() {
        assert_eq!(split_query("cam?key=abc"), ("cam", "key=abc"));
        assert_eq!(split_query("cam"), ("cam", ""));
    }
}
