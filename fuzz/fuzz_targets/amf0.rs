//! AMF0 decoder: never panics or overflows the stack; what it decodes re-encodes to bytes
//! that decode to the same encoding (decode -> encode is a fixed point).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::amf0;

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::decode_all(data, 32) else { return };
    let mut first = Vec::new();
    amf0::encode_all(&values, &mut first);
    // Values taken from AMF3 references (avmplus) are written out in full, so the re-encoding
    // may exceed the decode budget the compact input fitted in: that refusal is allowed.
    let again = match amf0::decode_all(&first, 128) {
        Ok(again) => again,
        Err(amf0::AmfError::TooManyValues { .. } | amf0::AmfError::TooLarge { .. }) => return,
        Err(e) => panic!("our own encoding does not decode: {e:?}"),
    };
    let mut second = Vec::new();
    amf0::encode_all(&again, &mut second);
    assert_eq!(first, second);
});
