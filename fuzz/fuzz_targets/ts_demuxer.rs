//! MPEG-TS demuxer (SRT ingest): never panics; the first byte picks the chunk size, so
//! packets split across pushes are covered; every frame stays within the PES bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtmp_server::ts::pes::MAX_PES_BYTES;
use rtmp_server::ts::TsDemuxer;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let chunk = usize::from(first).max(1) * 8;
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    for piece in rest.chunks(chunk) {
        demuxer.push(piece, &mut out);
    }
    demuxer.finish(&mut out);
    for frame in &out {
        assert!(frame.payload.len() <= MAX_PES_BYTES + 4096);
    }
});
