//! Session tests of input held while a publish or play decision is pending: its bound
//! (issue 13 B.3) and what the caller is told about it.

use super::tests::{call, command_message, connected_session, create_stream, publish};
use super::*;
use crate::protocol::amf0::Amf0Value;

/// One video message of `size` payload bytes on message stream 1, chunk-encoded.
fn video_bytes(encoder: &mut ChunkEncoder, size: usize) -> Vec<u8> {
    let message = RawMessage {
        csid: 7,
        timestamp: 0,
        type_id: type_id::VIDEO,
        stream_id: 1,
        payload: vec![0x27; size],
    };
    let mut bytes = Vec::new();
    encoder.encode(&message, &mut bytes);
    bytes
}

/// B.3: a peer that keeps sending while its publish waits for a decision is refused once it
/// goes past the bound; the held input never grows beyond it.
#[test]
fn input_beyond_the_bound_while_a_publish_decision_is_pending_is_refused() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    publish(&mut session, &mut encoder, "cam").unwrap();
    assert!(session.awaiting_decision());
    let mut fed = 0usize;
    let mut refused = None;
    while fed < 8 * MAX_PENDING_INPUT {
        let bytes = video_bytes(&mut encoder, 60_000);
        match session.handle_input(&bytes) {
            Ok(()) => fed += bytes.len(),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        assert!(
            session.pending_input.len() <= MAX_PENDING_INPUT,
            "held {} bytes after {fed} fed",
            session.pending_input.len()
        );
    }
    assert_eq!(
        refused,
        Some(SessionError::PendingInputFull {
            limit: MAX_PENDING_INPUT
        }),
        "{fed} bytes fed"
    );
    assert!(fed <= MAX_PENDING_INPUT, "refused only after {fed} bytes");
}

fn media_events(session: &mut ServerSession) -> usize {
    std::iter::from_fn(|| session.poll_event())
        .filter(|e| matches!(e, SessionEvent::Media { .. }))
        .count()
}

/// A caller that reads no more than `input_room` fills the bound, is told to stop reading,
/// and after its decision gets every held message.
#[test]
fn a_caller_within_input_room_stops_at_the_bound_and_loses_nothing() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    publish(&mut session, &mut encoder, "cam").unwrap();
    assert_eq!(session.input_room(), MAX_PENDING_INPUT);
    let mut stream = Vec::new();
    let mut messages = 0;
    while stream.len() < 2 * MAX_PENDING_INPUT {
        stream.extend(video_bytes(&mut encoder, 10_000));
        messages += 1;
    }
    let mut offset = 0;
    while session.wants_input() {
        let take = session.input_room().min(4096);
        session.handle_input(&stream[offset..offset + take]).unwrap();
        offset += take;
    }
    assert_eq!(offset, MAX_PENDING_INPUT, "read exactly up to the bound");
    assert_eq!(session.input_room(), 0);
    assert_eq!(session.handle_input(&[]), Ok(()), "nothing more is fine");
    assert!(session.handle_input(&stream[offset..offset + 1]).is_err());
    session.accept_publish(1).unwrap();
    assert_eq!(session.input_room(), usize::MAX);
    session.handle_input(&stream[offset..]).unwrap();
    assert_eq!(media_events(&mut session), messages, "every held message delivered");
}

/// The input that raised the request is held whole, even past the bound; then no more.
#[test]
fn the_input_that_raises_the_request_is_held_whole() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    let mut bytes = Vec::new();
    let publish = [
        Amf0Value::String("publish".into()),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        Amf0Value::String("cam".into()),
    ];
    encoder.encode(&command_message(1, &publish), &mut bytes);
    let mut messages = 0;
    while bytes.len() < 2 * MAX_PENDING_INPUT {
        bytes.extend(video_bytes(&mut encoder, 10_000));
        messages += 1;
    }
    session.handle_input(&bytes).unwrap();
    assert!(session.awaiting_decision());
    assert!(!session.wants_input());
    session.accept_publish(1).unwrap();
    assert!(session.wants_input());
    assert_eq!(media_events(&mut session), messages);
}

/// A pending play holds input the same way; rejecting it releases the session.
#[test]
fn a_pending_play_is_bounded_too() {
    let (mut session, mut encoder, _) = connected_session();
    create_stream(&mut session, &mut encoder).unwrap();
    call(
        &mut session,
        &mut encoder,
        1,
        "play",
        0.0,
        &[Amf0Value::String("cam".into())],
    )
    .unwrap();
    assert!(session.awaiting_decision());
    let big = vec![0u8; MAX_PENDING_INPUT + 1];
    assert_eq!(
        session.handle_input(&big),
        Err(SessionError::PendingInputFull {
            limit: MAX_PENDING_INPUT
        })
    );
    assert_eq!(
        session.input_room(),
        MAX_PENDING_INPUT,
        "the refused input was not kept"
    );
    session.reject_play(1, "NetStream.Play.Failed", "no").unwrap();
    assert!(!session.awaiting_decision());
}
