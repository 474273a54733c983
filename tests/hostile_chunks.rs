//! Hostile chunk streams and AMF: headers that lie about their chunk stream's state, a csid
//! flood, bad Set Chunk Size messages and AMF lengths past the payload each close only the
//! offending connection with a log line, with memory bounded and not leaking, while FFmpeg
//! records another stream packet-identical to its source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code may panic

mod common;

use common::http::metric;
use common::log_contract::reason;
use common::*;
use rtmp_server::protocol::chunk::shared::{basic_header, message_headers};
use rtmp_server::protocol::chunk::{ChunkEncoder, RawMessage};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// RSS the server may never exceed during these tests (debug build, one recording).
const RSS_CEILING_KIB: u64 = 256 * 1024;
/// How much RSS may stay above its level after one round once five more rounds of every
/// attack are over (a leak check; one round moves over 20 MB).
const RSS_LEAK_MARGIN_KIB: u64 = 8 * 1024;

/// Appends a fmt 0 header (timestamps below the extended range) on `csid`.
fn fmt0_header(csid: u32, timestamp: u32, length: usize, type_id: u8, stream_id: u32, out: &mut Vec<u8>) -> bool {
    let (mut head, mut continuation) = (Vec::new(), Vec::new());
    message_headers(
        csid,
        timestamp,
        length,
        type_id,
        stream_id,
        &mut head,
        &mut continuation,
    );
    out.extend_from_slice(&head);
    timestamp < 0x00FF_FFFF
}

/// fmt 0 header on `csid` for a `length`-byte video message, and its first `sent` bytes.
fn partial_message(csid: u32, length: usize, sent: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    assert!(fmt0_header(csid, 0, length, 9, 1, &mut bytes));
    bytes.extend(std::iter::repeat_n(0x27u8, sent));
    bytes
}

/// The 3-byte basic header form for every csid it can carry (64..=65599): 65536 one-byte
/// audio messages, each on a new chunk stream.
fn csid_flood() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(65536 * 15);
    for value in 0..=u16::MAX {
        let [low, high] = value.to_le_bytes();
        bytes.extend_from_slice(&[0x01, low, high]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0xAF]);
    }
    bytes
}

/// The start of a connect command (name, transaction 1) followed by `rest`.
fn connect_with(rest: &[u8]) -> RawMessage {
    let mut payload = vec![0x02, 0x00, 0x07];
    payload.extend_from_slice(b"connect");
    payload.extend_from_slice(&[0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]);
    payload.extend_from_slice(rest);
    RawMessage {
        csid: 3,
        timestamp: 0,
        type_id: 20,
        stream_id: 0,
        payload,
    }
}

/// Every attack of this file: the bytes after the handshake and the reason logged.
fn attacks() -> Vec<(&'static str, Vec<u8>)> {
    let mut fmt2_first = Vec::new();
    basic_header(2, 5, &mut fmt2_first);
    fmt2_first.extend_from_slice(&[0, 0, 40]);
    let mut fmt3_first = Vec::new();
    basic_header(3, 6, &mut fmt3_first);
    fmt3_first.push(0xAF);
    let mut fmt1_first_wide = Vec::new();
    basic_header(1, 40_000, &mut fmt1_first_wide);
    fmt1_first_wide.extend_from_slice(&[0, 0, 40, 0, 0, 1, 8, 0xAF]);

    let mut fmt0_mid = partial_message(4, 300, 128);
    assert!(fmt0_header(4, 40, 10, 9, 1, &mut fmt0_mid));
    let mut length_change = partial_message(4, 300, 128);
    length_change.extend_from_slice(&[0x44, 0, 0, 40, 0, 0, 10, 9]);
    length_change.extend_from_slice(&[0x27; 10]);

    // Chunk size 4 MiB, then the first chunk of an 8 MiB message on five chunk streams: the
    // fifth passes the 16 MiB a connection may hold in unfinished messages.
    let mut partial_flood = encode_messages(&[RawMessage {
        csid: 2,
        timestamp: 0,
        type_id: 1,
        stream_id: 0,
        payload: (4u32 << 20).to_be_bytes().to_vec(),
    }]);
    for csid in 4..9 {
        partial_flood.extend_from_slice(&partial_message(csid, (8 << 20) - 1, 4 << 20));
    }
    let short_scs = RawMessage {
        csid: 2,
        timestamp: 0,
        type_id: 1,
        stream_id: 0,
        payload: vec![0, 1],
    };
    // {app: <string of 65535 bytes>} with 2 bytes present.
    let long_key = connect_with(&[0x03, 0x00, 0x03, b'a', b'p', b'p', 0x02, 0xFF, 0xFF, b'l', b'i']);
    // A strict array of 4294967295 nulls, two present.
    let long_array = connect_with(&[0x05, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0x05]);
    // A long string of 4 GiB, two bytes present.
    let long_string = connect_with(&[0x05, 0x0C, 0xFF, 0xFF, 0xFF, 0xFF, b'a', b'b']);
    // An AMF3 command (type 17) switching to an AMF3 string of 2^28 - 1 bytes.
    let mut amf3 = connect_with(&[0x05, 0x11, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, b'a']);
    amf3.type_id = 17;
    amf3.payload.insert(0, 0);
    vec![
        ("fmt 2 first chunk", fmt2_first),
        ("fmt 3 first chunk", fmt3_first),
        ("fmt 1 first chunk, 3-byte csid", fmt1_first_wide),
        ("fmt 0 mid-message", fmt0_mid),
        ("length change mid-message", length_change),
        ("65536 csids", csid_flood()),
        ("16 MiB in unfinished messages", partial_flood),
        ("Set Chunk Size with 2 bytes", encode_messages(&[short_scs])),
        ("AMF key string past the payload", encode_messages(&[long_key])),
        ("AMF strict array past the payload", encode_messages(&[long_array])),
        ("AMF long string past the payload", encode_messages(&[long_string])),
        ("AMF3 string past the payload", encode_messages(&[amf3])),
    ]
}

#[test]
fn lying_chunk_headers_and_amf_lengths_close_only_their_connection() {
    let guarded = GuardedServer::start("hostile-chunks", 8, &[]);
    let server = &guarded.server;
    let baseline = guarded.rss_kib();
    let attacks = attacks();
    // Each attack closes its connection as a protocol error, and only it.
    let round = |quiet: bool| {
        for (what, bytes) in &attacks {
            let before = metric(server, "rtmp_protocol_errors_total");
            let line = attack(server, &after_handshake(bytes), reason::PROTOCOL_ERROR);
            assert_eq!(
                metric(server, "rtmp_protocol_errors_total"),
                before + 1,
                "{what}: {line}"
            );
            if !quiet {
                eprintln!("{what}: {line}");
            }
        }
    };
    round(false);
    let after_one = guarded.rss_kib();
    for _ in 0..5 {
        round(true);
    }
    let after_six = guarded.rss_kib();
    assert!(after_six < RSS_CEILING_KIB, "RSS {after_six} KiB over the ceiling");
    // Buffers of the last closed connections are freed just after their log line: wait
    // for the RSS to settle; with a leak it never would.
    wait_until("RSS back near its level after one round (a leak?)", DEADLINE, || {
        guarded.rss_kib() < after_one + RSS_LEAK_MARGIN_KIB
    });
    eprintln!(
        "server RSS KiB: baseline {baseline}, after one round {after_one}, after six {after_six}, settled {}",
        guarded.rss_kib()
    );
    guarded.finish();
}

#[test]
fn set_chunk_size_1_is_accepted_and_the_connection_served() {
    let server = ServerProcess::start(&[]);
    let scs = RawMessage {
        csid: 2,
        timestamp: 0,
        type_id: 1,
        stream_id: 0,
        payload: 1u32.to_be_bytes().to_vec(),
    };
    let mut bytes = encode_messages(&[scs]);
    let mut encoder = ChunkEncoder::new();
    encoder.set_chunk_size(1);
    encoder.encode(&connect_command(), &mut bytes);
    let mut socket = std::net::TcpStream::connect(server.addr).unwrap();
    let local = socket.local_addr().unwrap();
    socket.set_read_timeout(Some(ATTACK_TIMEOUT)).unwrap();
    socket.write_all(&after_handshake(&bytes)).unwrap();
    // S0 S1 S2, then the connect replies: wait for the success code.
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    let needle = b"NetConnection.Connect.Success";
    while !received.windows(needle.len()).any(|w| w == needle) {
        assert!(Instant::now() < deadline, "no connect reply at chunk size 1");
        let n = socket.read(&mut buffer).expect("read connect reply");
        assert!(n > 0, "closed at chunk size 1");
        received.extend_from_slice(&buffer[..n]);
    }
    drop(socket);
    assert_eq!(close_reason(&server, local), reason::PEER_CLOSED);
    assert_eq!(metric(&server, "rtmp_protocol_errors_total"), 0);
}

#[test]
fn amf_value_bombs_are_refused_without_a_memory_spike() {
    let guarded = GuardedServer::start("hostile-amf-bomb", 8, &[]);
    let server = &guarded.server;
    // connect followed by a strict array of 1 048 576 nulls: 1 MiB that decodes to as many
    // 56-byte values.
    let mut rest = vec![0x05, 0x0A];
    rest.extend_from_slice(&(1u32 << 20).to_be_bytes());
    rest.resize(rest.len() + (1 << 20), 0x05);
    let bomb = after_handshake(&encode_messages(&[connect_with(&rest)]));
    let before = peak_rss_kib(server.pid());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| attack(server, &bomb, reason::PROTOCOL_ERROR));
        }
    });
    let peak = peak_rss_kib(server.pid());
    eprintln!("server peak RSS KiB: {before} before four AMF value bombs, {peak} after");
    assert!(
        peak < before + 48 * 1024,
        "four 1 MiB commands raised the peak RSS from {before} to {peak} KiB"
    );
    guarded.finish();
}
