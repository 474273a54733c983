//! Chunk decoder on arbitrary bytes: consumed <= input, bounded state, and every message it
//! yields survives an encode -> decode round trip unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::chunk::{ChunkDecoder, ChunkEncoder, ChunkLimits, RawMessage};

fn decode_all(decoder: &mut ChunkDecoder, mut input: &[u8]) -> Vec<RawMessage> {
    let mut messages = Vec::new();
    loop {
        let Ok(decoded) = decoder.decode(input) else {
            return messages;
        };
        assert!(decoded.consumed <= input.len());
        input = &input[decoded.consumed..];
        match decoded.message {
            Some(message) => messages.push(message),
            None if decoded.consumed == 0 => return messages,
            None => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = ChunkLimits {
        max_message_size: 1 << 20,
        max_chunk_streams: 64,
        max_partial_bytes: 1 << 22,
    };
    let mut decoder = ChunkDecoder::new(limits);
    let messages = decode_all(&mut decoder, data);
    assert!(decoder.partial_bytes() <= limits.max_partial_bytes);
    let mut encoder = ChunkEncoder::new();
    let mut wire = Vec::new();
    for message in &messages {
        let mut message = message.clone();
        message.csid = message.csid.clamp(2, 65599);
        encoder.encode(&message, &mut wire);
    }
    let again = decode_all(&mut ChunkDecoder::new(limits), &wire);
    assert_eq!(again.len(), messages.len());
    for (a, b) in messages.iter().zip(&again) {
        assert_eq!(
            (a.type_id, a.stream_id, &a.payload),
            (b.type_id, b.stream_id, &b.payload)
        );
    }
});
