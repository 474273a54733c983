//! Session tests driven by real client captures and hand-built command sequences.

use super::*;
use crate::protocol::amf0::Amf0Value;
use crate::protocol::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits};
use crate::protocol::command::parse_command;

const FFMPEG_PUBLISH: &[u8] = include_bytes!("../../../tests/fixtures/ffmpeg-publish.c2s");
const LIBRTMP_PUBLISH: &[u8] = include_bytes!("../../../tests/fixtures/librtmp-publish.c2s");
const HANDSHAKE_LEN: usize = 1 + 1536 + 1536;

pub(super) fn new_session() -> ServerSession {
    ServerSession::new(SessionConfig::default(), [7u8; RANDOM_SIZE], 0)
}

/// Feeds `input` in pieces of `step` bytes, accepting every publish, and returns all events.
fn run_capture(input: &[u8], step: usize) -> (Vec<SessionEvent>, Vec<u8>) {
    let mut session = new_session();
    let mut events = Vec::new();
    let mut output = Vec::new();
    for piece in input.chunks(step) {
        session.handle_input(piece).unwrap();
        while let Some(event) = session.poll_event() {
            if let SessionEvent::PublishRequest { stream_id, .. } = &event {
                session.accept_publish(*stream_id).unwrap();
            }
            events.push(event);
        }
        output.extend(session.take_output());
    }
    (events, output)
}

/// Decodes the server's output after S0+S1+S2 into command names and messages.
fn server_messages(output: &[u8]) -> Vec<RawMessage> {
    let limits = ChunkLimits {
        max_message_size: 1 << 20,
        max_chunk_streams: 64,
        max_partial_bytes: 1 << 20,
    };
    let mut decoder = ChunkDecoder::new(limits);
    let mut rest = &output[HANDSHAKE_LEN..];
    let mut messages = Vec::new();
    loop {
        let decoded = decoder.decode(rest).unwrap();
        rest = &rest[decoded.consumed..];
        match decoded.message {
            Some(m) => {
                if m.type_id == 1 {
                    decoder
                        .set_chunk_size(u32::from_be_bytes(m.payload[..4].try_into().unwrap()))
                        .unwrap();
                }
                messages.push(m);
            }
            None if decoded.consumed == 0 => break,
            None => {}
        }
    }
    messages
}

fn count_media(events: &[SessionEvent], wanted: FrameKind) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, SessionEvent::Media { kind, .. } if *kind == wanted))
        .count()
}

#[test]
fn ffmpeg_publish_capture_yields_connect_publish_metadata_and_every_frame() {
    let (events, _) = run_capture(FFMPEG_PUBLISH, FFMPEG_PUBLISH.len());
    assert_eq!(
        events[0],
        SessionEvent::HandshakeDone {
            kind: HandshakeKind::Digest
        }
    );
    assert!(matches!(&events[1], SessionEvent::Connect { app, .. } if app == "live"));
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::PublishRequest { name, .. } if name == "cap")));
    let metadata: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, SessionEvent::Media { metadata: true, .. }))
        .collect();
    assert_eq!(metadata.len(), 1);
    if let SessionEvent::Media { payload, .. } = metadata[0] {
        assert_eq!(&payload[..13], b"\x02\x00\x0aonMetaData", "@setDataFrame stripped");
    }
    // clip2s.flv: 32 video tags (sequence header, 30 frames, end of sequence) and 46 audio
    // tags (sequence header, 45 frames), as `ffprobe -show_packets` and the FLV itself say.
    assert_eq!(count_media(&events, FrameKind::Video), 32);
    assert_eq!(count_media(&events, FrameKind::Audio), 46);
    assert!(events.iter().any(|e| matches!(e, SessionEvent::Unpublish { .. })));
}

#[test]
fn byte_at_a_time_feeding_gives_the_same_events() {
    let whole = run_capture(FFMPEG_PUBLISH, FFMPEG_PUBLISH.len()).0;
    let dribbled = run_capture(FFMPEG_PUBLISH, 1).0;
    assert_eq!(whole, dribbled);
    let odd = run_capture(FFMPEG_PUBLISH, 333).0;
    assert_eq!(whole, odd);
}

#[test]
fn librtmp_publish_capture_uses_simple_handshake_and_yields_the_same_media() {
    let (events, _) = run_capture(LIBRTMP_PUBLISH, 4096);
    let (ffmpeg_events, _) = run_capture(FFMPEG_PUBLISH, 4096);
    assert_eq!(
        events[0],
        SessionEvent::HandshakeDone {
            kind: HandshakeKind::Simple
        }
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::PublishRequest { name, .. } if name == "cap2")));
    assert_eq!(
        count_media(&events, FrameKind::Video),
        count_media(&ffmpeg_events, FrameKind::Video)
    );
    assert_eq!(
        count_media(&events, FrameKind::Audio),
        count_media(&ffmpeg_events, FrameKind::Audio)
    );
}

#[test]
fn server_replies_in_nginx_order_and_announces_its_chunk_size() {
    let (_, output) = run_capture(FFMPEG_PUBLISH, FFMPEG_PUBLISH.len());
    let messages = server_messages(&output);
    let types: Vec<u8> = messages.iter().take(3).map(|m| m.type_id).collect();
    assert_eq!(types, vec![5, 6, 1], "window ack size, peer bandwidth, chunk size");
    assert_eq!(messages[2].payload, 4096u32.to_be_bytes().to_vec());
    let commands: Vec<String> = messages
        .iter()
        .filter(|m| m.type_id == 20)
        .map(|m| {
            let c = parse_command(20, &m.payload, 32).unwrap();
            let code = c
                .arguments
                .last()
                .and_then(|a| a.get("code"))
                .and_then(Amf0Value::as_str)
                .unwrap_or("");
            format!("{} {}", c.name, code)
        })
        .collect();
    assert_eq!(commands[0], "_result NetConnection.Connect.Success");
    assert!(commands.contains(&"onFCPublish NetStream.Publish.Start".to_owned()));
    assert!(commands.contains(&"onStatus NetStream.Publish.Start".to_owned()));
    assert!(commands.contains(&"onStatus NetStream.Unpublish.Success".to_owned()));
    let stream_begin = messages.iter().any(|m| m.type_id == 4 && m.payload[..2] == [0, 0]);
    assert!(stream_begin, "StreamBegin sent on publish");
}

/// A connected session (handshake done with a simple C1), the client-side encoder, and
/// everything the server sent so far.
pub(super) fn connected_session() -> (ServerSession, ChunkEncoder, Vec<u8>) {
    let mut session = new_session();
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; 1536]);
    session.handle_input(&c0c1).unwrap();
    session.handle_input(&[0u8; 1536]).unwrap();
    let mut encoder = ChunkEncoder::new();
    let mut bytes = Vec::new();
    let connect = [
        Amf0Value::String("connect".into()),
        Amf0Value::Number(1.0),
        Amf0Value::Object(vec![("app".into(), Amf0Value::String("live?x=1".into()))]),
    ];
    encoder.encode(&command_message(0, &connect), &mut bytes);
    session.handle_input(&bytes).unwrap();
    let output = session.take_output();
    (session, encoder, output)
}

pub(super) fn command_message(stream_id: u32, values: &[Amf0Value]) -> RawMessage {
    let mut payload = Vec::new();
    for v in values {
        amf0::encode(v, &mut payload);
    }
    RawMessage {
        csid: 3,
        timestamp: 0,
        type_id: 20,
        stream_id,
        payload,
    }
}

pub(super) fn send(
    session: &mut ServerSession,
    encoder: &mut ChunkEncoder,
    message: RawMessage,
) -> Result<(), SessionError> {
    let mut bytes = Vec::new();
    encoder.encode(&message, &mut bytes);
    session.handle_input(&bytes)
}

/// Sends command `name` (transaction id, null command object, `args`) on `stream_id`.
pub(super) fn call(
    session: &mut ServerSession,
    encoder: &mut ChunkEncoder,
    stream_id: u32,
    name: &str,
    transaction: f64,
    args: &[Amf0Value],
) -> Result<(), SessionError> {
    let mut values = vec![
        Amf0Value::String(name.into()),
        Amf0Value::Number(transaction),
        Amf0Value::Null,
    ];
    values.extend_from_slice(args);
    send(session, encoder, command_message(stream_id, &values))
}

pub(super) fn create_stream(session: &mut ServerSession, encoder: &mut ChunkEncoder) -> Result<(), SessionError> {
    call(session, encoder, 0, "createStream", 2.0, &[])
}

/// `publish NAME` on message stream 1 (the first createStream's).
pub(super) fn publish(session: &mut ServerSession, encoder: &mut ChunkEncoder, name: &str) -> Result<(), SessionError> {
    call(session, encoder, 1, "publish", 0.0, &[Amf0Value::String(name.into())])
}

#[test]
fn connect_strips_query_from_app_name() {
    let (mut session, _, _) = connected_session();
    let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::Connect { app, .. } if app == "live")));
}

#[test]
fn publish_before_create_stream_is_out_of_order() {
    let (mut session, mut encoder, _) = connected_session();
    let result = publish(&mut session, &mut encoder, "cam");
    assert!(matches!(result, Err(SessionError::OutOfOrder { .. })));
}

#[test]
fn publish_before_connect_is_out_of_order() {
    let mut session = new_session();
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; 3072]);
    session.handle_input(&c0c1).unwrap();
    let mut encoder = ChunkEncoder::new();
    let result = create_stream(&mut session, &mut encoder);
    assert!(matches!(result, Err(SessionError::OutOfOrder { .. })));
}

#[test]
fn unknown_command_with_transaction_gets_error_and_keeps_the_connection() {
    let (mut session, mut encoder, mut output) = connected_session();
    call(&mut session, &mut encoder, 0, "getMagic", 9.0, &[]).unwrap();
    output.extend(session.take_output());
    let reply = server_messages(&output).into_iter().last().unwrap();
    let parsed = parse_command(20, &reply.payload, 32).unwrap();
    assert_eq!((parsed.name.as_str(), parsed.transaction_id), ("_error", 9.0));
    let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::UnknownCommand { name } if name == "getMagic")));
}

#[test]
fn ping_request_is_answered_with_ping_response() {
    let (mut session, mut encoder, mut output) = connected_session();
    let ping = message::build_control(&ControlMessage::UserControl(UserControl::PingRequest(77)));
    send(&mut session, &mut encoder, ping).unwrap();
    output.extend(session.take_output());
    assert!(output.windows(6).any(|w| w == [0x00, 0x07, 0, 0, 0, 77]));
}

#[test]
fn acknowledgement_is_sent_when_the_peer_window_is_reached() {
    let (mut session, mut encoder, mut output) = connected_session();
    let window = message::build_control(&ControlMessage::WindowAckSize(1000));
    send(&mut session, &mut encoder, window).unwrap();
    let filler = [Amf0Value::String("x".repeat(1200)), Amf0Value::Number(0.0)];
    let mut filler_message = command_message(0, &filler);
    filler_message.type_id = 18;
    send(&mut session, &mut encoder, filler_message).unwrap();
    output.extend(session.take_output());
    let acks = server_messages(&output).into_iter().filter(|m| m.type_id == 3).count();
    assert!(acks >= 2, "acknowledgements sent: {acks}");
}

#[test]
fn overlong_stream_name_is_refused() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    let result = publish(&mut session, &mut encoder, &"n".repeat(4096));
    assert!(matches!(result, Err(SessionError::NameTooLong { .. })));
}

#[test]
fn rejected_publish_sends_error_status_and_no_media_flows() {
    let (mut session, mut encoder, mut output) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    publish(&mut session, &mut encoder, "cam").unwrap();
    session.reject_publish(1, "NetStream.Publish.BadName", "taken").unwrap();
    let video = RawMessage {
        csid: 7,
        timestamp: 0,
        type_id: 9,
        stream_id: 1,
        payload: vec![0x17, 1],
    };
    send(&mut session, &mut encoder, video).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(!events.iter().any(|e| matches!(e, SessionEvent::Media { .. })));
    output.extend(session.take_output());
    assert!(output.windows(25).any(|w| w == b"NetStream.Publish.BadName"));
}

#[test]
fn fc_unpublish_alone_ends_the_publish() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    publish(&mut session, &mut encoder, "cam").unwrap();
    session.accept_publish(1).unwrap();
    call(
        &mut session,
        &mut encoder,
        0,
        "FCUnpublish",
        5.0,
        &[Amf0Value::String("cam".into())],
    )
    .unwrap();
    let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(events.contains(&SessionEvent::Unpublish { stream_id: 1 }), "{events:?}");
}

#[test]
fn media_received_turns_true_with_the_first_media_message_of_a_publish() {
    // The FFmpeg capture up to its publish command holds no media: feed it until a publish
    // request, then check before and after the first media message.
    let mut session = new_session();
    let mut published = false;
    for (at, byte) in FFMPEG_PUBLISH.iter().enumerate() {
        session.handle_input(std::slice::from_ref(byte)).unwrap();
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::PublishRequest { stream_id, .. } => {
                    assert!(!session.media_received(), "media before the publish (byte {at})");
                    session.accept_publish(stream_id).unwrap();
                    published = true;
                }
                SessionEvent::Media { .. } => {
                    assert!(session.media_received());
                    return;
                }
                _ => assert!(!session.media_received(), "media flag set early (byte {at})"),
            }
        }
    }
    panic!("no media in the capture (published: {published})");
}

#[test]
fn a_reconnect_request_goes_out_on_stream_zero_after_the_publish_replies() {
    let mut session = new_session();
    session.handle_input(FFMPEG_PUBLISH).unwrap();
    while let Some(event) = session.poll_event() {
        if let SessionEvent::PublishRequest { stream_id, .. } = event {
            session.accept_publish(stream_id).unwrap();
        }
    }
    let before = session.take_output();
    session.request_reconnect(Some("rtmp://other:1936/live"), "Server maintenance");
    let mut output = before;
    output.extend(session.take_output());
    let last = server_messages(&output).pop().unwrap();
    assert_eq!((last.stream_id, last.type_id), (0, 20));
    let command = parse_command(20, &last.payload, 32).unwrap();
    let request = crate::protocol::reconnect::recognize(&command).unwrap();
    assert_eq!(request.tc_url.as_deref(), Some("rtmp://other:1936/live"));
    assert_eq!(request.description.as_deref(), Some("Server maintenance"));
}
