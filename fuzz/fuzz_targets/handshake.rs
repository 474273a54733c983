//! Server handshake fed arbitrary bytes in arbitrary pieces: never panics, never consumes
//! more than it was given, and answers only once C0+C1 are whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::handshake::{HandshakeStatus, ServerHandshake, RANDOM_SIZE};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut handshake = ServerHandshake::new([7; RANDOM_SIZE], 0);
    let mut out = Vec::new();
    let mut input = rest;
    while !input.is_empty() {
        let piece = &input[..step.min(input.len())];
        let status = match handshake.feed(piece, &mut out) {
            Ok(status) => status,
            Err(_) => return,
        };
        let consumed = match status {
            HandshakeStatus::InProgress { consumed } | HandshakeStatus::Done { consumed } => consumed,
        };
        assert!(consumed <= piece.len());
        if matches!(status, HandshakeStatus::Done { .. }) {
            assert_eq!(out.len(), 1 + 1536 * 2, "S0 S1 S2 once");
            return;
        }
        input = &input[piece.len()..];
    }
});
