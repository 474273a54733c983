//! The whole server session (handshake, chunks, control, commands, data) on arbitrary bytes
//! fed in arbitrary pieces, accepting every publish and play: never panics, output bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::handshake::RANDOM_SIZE;
use rtmp_server::protocol::session::{ServerSession, SessionConfig, SessionEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1) * 16;
    let mut session = ServerSession::new(SessionConfig::default(), [1; RANDOM_SIZE], 0);
    for piece in rest.chunks(step) {
        if session.handle_input(piece).is_err() {
            return;
        }
        while let Some(event) = session.poll_event() {
            let result = match event {
                SessionEvent::PublishRequest { stream_id, .. } => session.accept_publish(stream_id),
                SessionEvent::PlayRequest { stream_id, .. } => session.accept_play(stream_id),
                _ => Ok(()),
            };
            if result.is_err() {
                return;
            }
        }
        assert!(session.take_output().len() < 1 << 24);
    }
});
