//! Enhanced RTMP v2 reconnect request: the server's `onStatus` on the NetConnection
//! (message stream 0, transaction id 0, null command object) whose info object has code
//! `NetConnection.Connect.ReconnectRequest`, level `status`, a description and, to send the
//! client elsewhere, a `tcUrl`. Built here for the server, recognized here for the client.

use super::amf0::Amf0Value;
use super::chunk::RawMessage;
use super::command::{self, Command};
use super::message::csid;

/// The info object's code of a reconnect request.
pub const RECONNECT_REQUEST_CODE: &str = "NetConnection.Connect.ReconnectRequest";

/// What a reconnect request asks: where to (None: the current tcUrl) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectRequest {
    /// Absolute or relative URI reference of the server to reconnect to.
    pub tc_url: Option<String>,
    pub description: Option<String>,
}

/// The reconnect request message (stream 0, the command chunk stream).
pub fn message(tc_url: Option<&str>, description: &str) -> RawMessage {
    let extra = tc_url
        .map(|url| vec![("tcUrl".to_owned(), Amf0Value::String(url.to_owned()))])
        .unwrap_or_default();
    let info = command::status_info("status", RECONNECT_REQUEST_CODE, description, extra);
    let values = [
        Amf0Value::String("onStatus".to_owned()),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        info,
    ];
    command::command_message(0, csid::COMMAND, &values)
}

/// The request a parsed command carries, if it is a reconnect request (an `onStatus` whose
/// info object has the reconnect code; the caller checks it came on message stream 0).
pub fn recognize(command: &Command) -> Option<ReconnectRequest> {
    if command.name != "onStatus" {
        return None;
    }
    let info = command.arguments.first()?;
    if info.get("code").and_then(Amf0Value::as_str) != Some(RECONNECT_REQUEST_CODE) {
        return None;
    }
    let text = |key: &str| info.get(key).and_then(Amf0Value::as_str).map(str::to_owned);
    Some(ReconnectRequest {
        tc_url: text("tcUrl").filter(|url| !url.is_empty()),
        description: text("description"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::chunk::ChunkEncoder;
    use crate::protocol::command::parse_command;

    /// An AMF0 string: marker 2, u16 length, bytes.
    fn amf_string(text: &str) -> Vec<u8> {
        let mut out = vec![0x02];
        out.extend_from_slice(&(text.len() as u16).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// An object property: u16 key length, key, value bytes.
    fn property(key: &str, value: &[u8]) -> Vec<u8> {
        let mut out = (key.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn the_request_is_an_on_status_on_stream_zero_byte_for_byte() {
        let url = "rtmp://other.example:1936/live";
        let message = message(Some(url), "Server maintenance");
        let mut payload = amf_string("onStatus");
        payload.extend_from_slice(&[0x00, 0, 0, 0, 0, 0, 0, 0, 0]); // number 0
        payload.push(0x05); // null command object
        payload.push(0x03); // info object
        payload.extend(property("level", &amf_string("status")));
        payload.extend(property("code", &amf_string(RECONNECT_REQUEST_CODE)));
        payload.extend(property("description", &amf_string("Server maintenance")));
        payload.extend(property("tcUrl", &amf_string(url)));
        payload.extend_from_slice(&[0x00, 0x00, 0x09]); // object end
        assert_eq!(message.payload, payload);
        assert_eq!((message.csid, message.stream_id, message.timestamp), (3, 0, 0));
        assert_eq!(message.type_id, 20);

        // On the wire with a 4096-byte chunk size: one type-0 chunk on chunk stream 3.
        let mut encoder = ChunkEncoder::new();
        encoder.set_chunk_size(4096);
        let mut wire = Vec::new();
        encoder.encode(&message, &mut wire);
        let length = payload.len() as u32;
        let mut expected = vec![0x03, 0, 0, 0];
        expected.extend_from_slice(&length.to_be_bytes()[1..]);
        expected.push(20);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        expected.extend_from_slice(&payload);
        assert_eq!(wire, expected);
    }

    #[test]
    fn without_a_tc_url_the_info_object_has_none() {
        let message = message(None, "Server shutting down");
        let parsed = parse_command(20, &message.payload, 32).unwrap();
        let info = &parsed.arguments[0];
        assert_eq!(info.get("tcUrl"), None);
        assert_eq!(info.get("level").and_then(Amf0Value::as_str), Some("status"));
        assert_eq!(
            recognize(&parsed),
            Some(ReconnectRequest {
                tc_url: None,
                description: Some("Server shutting down".into())
            })
        );
    }

    #[test]
    fn recognizes_only_the_reconnect_code() {
        let request = parse_command(20, &message(Some("rtmp://h/live"), "x").payload, 32).unwrap();
        assert_eq!(recognize(&request).unwrap().tc_url.as_deref(), Some("rtmp://h/live"));
        let start = command::on_status(1, "status", "NetStream.Publish.Start", "Start publishing");
        assert_eq!(recognize(&parse_command(20, &start.payload, 32).unwrap()), None);
        let result = command::result(1.0, vec![]);
        assert_eq!(recognize(&parse_command(20, &result.payload, 32).unwrap()), None);
    }
}
