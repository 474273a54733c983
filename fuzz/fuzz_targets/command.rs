//! Command parser on arbitrary AMF0 and AMF3-wrapped payloads: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::protocol::command::parse_command;

fuzz_target!(|data: &[u8]| {
    let _ = parse_command(20, data, 32);
    let _ = parse_command(17, data, 32);
});
