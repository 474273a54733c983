//! AMF3 decoder: never panics, consumed <= input, decode -> encode is a fixed point. The
//! encoder writes referenced values out in full, so a re-encoded reference bomb may exceed
//! the decode budget its compact form fitted in: that refusal is allowed, nothing else.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::amf0::AmfError;
use rtmp_server::protocol::amf3;

fuzz_target!(|data: &[u8]| {
    let Ok((value, used)) = amf3::decode_value(data, 32) else {
        return;
    };
    assert!(used <= data.len());
    let mut first = Vec::new();
    amf3::encode(&value, &mut first);
    let (again, _) = match amf3::decode_value(&first, 128) {
        Ok(decoded) => decoded,
        Err(AmfError::TooManyValues { .. } | AmfError::TooLarge { .. }) => return,
        Err(e) => panic!("our own encoding does not decode: {e:?}"),
    };
    let mut second = Vec::new();
    amf3::encode(&again, &mut second);
    assert_eq!(first, second);
});
