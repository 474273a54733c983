//! FLV reader (used by repair and the client): never panics, every tag lies inside the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::flv::reader::{parse_header, parse_tag};

fuzz_target!(|data: &[u8]| {
    let Ok(Some(header)) = parse_header(data) else { return };
    let mut rest = data.get(header.data_offset..).unwrap_or(&[]);
    while let Ok(Some((tag, used))) = parse_tag(rest) {
        assert!(used <= rest.len() && tag.body.len() < used);
        rest = &rest[used..];
    }
});
