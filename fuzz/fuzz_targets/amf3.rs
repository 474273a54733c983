//! AMF3 decoder: never panics, consumed <= input, decode -> encode is a fixed point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::amf3;

fuzz_target!(|data: &[u8]| {
    let Ok((value, used)) = amf3::decode_value(data, 32) else {
        return;
    };
    assert!(used <= data.len());
    let mut first = Vec::new();
    amf3::encode(&value, &mut first);
    let (again, _) = amf3::decode_value(&first, 128).expect("our own encoding decodes");
    let mut second = Vec::new();
    amf3::encode(&again, &mut second);
    assert_eq!(first, second);
});
