//! Tests for the RTMP handshake, driven by real FFmpeg/librtmp/nginx-rtmp captures.

use super::*;

const FFMPEG_C2S: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg-publish.c2s");
const FFMPEG_S2C: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg-publish.s2c");
const LIBRTMP_C2S: &[u8] = include_bytes!("../../tests/fixtures/librtmp-publish.c2s");
const LIBRTMP_S2C: &[u8] = include_bytes!("../../tests/fixtures/librtmp-publish.s2c");

/// C0 + C1 + C2 (or S0 + S1 + S2).
const FULL: usize = 1 + 2 * HANDSHAKE_SIZE;

/// Packet 1 (C1/S1) or 2 (C2/S2) of a capture that starts with C0/S0.
fn packet(capture: &[u8], index: usize) -> [u8; HANDSHAKE_SIZE] {
    let start = 1 + (index - 1) * HANDSHAKE_SIZE;
    capture[start..start + HANDSHAKE_SIZE].try_into().unwrap()
}

fn random(seed: u8) -> [u8; RANDOM_SIZE] {
    let mut r = [0u8; RANDOM_SIZE];
    for (i, b) in r.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
    r
}

/// Feeds all of `input` to the server in one call.
fn serve(input: &[u8]) -> (ServerHandshake, HandshakeStatus, Vec<u8>) {
    let mut server = ServerHandshake::new(random(1), 0x1234_5678);
    let mut out = Vec::new();
    let status = server.feed(input, &mut out).unwrap();
    (server, status, out)
}

/// Feeds `input` one byte at a time, as a caller would: drop consumed bytes, stop at Done.
fn serve_bytewise(input: &[u8]) -> (ServerHandshake, usize, Vec<u8>) {
    let mut server = ServerHandshake::new(random(1), 0x1234_5678);
    let mut out = Vec::new();
    for (i, byte) in input.iter().enumerate() {
        match server.feed(std::slice::from_ref(byte), &mut out).unwrap() {
            HandshakeStatus::InProgress { consumed } => assert_eq!(consumed, 1),
            HandshakeStatus::Done { consumed } => {
                assert_eq!(consumed, 1);
                return (server, i + 1, out);
            }
        }
    }
    panic!("handshake never finished");
}

/// Runs a client against a server in memory, checking statuses along the way.
fn round_trip(kind: HandshakeKind) -> (ClientHandshake, ServerHandshake) {
    let mut c2s = Vec::new();
    let mut client = ClientHandshake::new(kind, random(7), 99, &mut c2s);
    let mut server = ServerHandshake::new(random(3), 42);
    let mut s2c = Vec::new();
    assert_eq!(
        server.feed(&c2s, &mut s2c).unwrap(),
        HandshakeStatus::InProgress {
            consumed: 1 + HANDSHAKE_SIZE
        }
    );
    c2s.clear();
    assert_eq!(
        client.feed(&s2c, &mut c2s).unwrap(),
        HandshakeStatus::Done { consumed: FULL }
    );
    assert_eq!(c2s.len(), HANDSHAKE_SIZE);
    let status = server.feed(&c2s, &mut s2c).unwrap();
    assert_eq!(
        status,
        HandshakeStatus::Done {
            consumed: HANDSHAKE_SIZE
        }
    );
    (client, server)
}

#[test]
fn server_detects_digest_for_ffmpeg_c1() {
    let (server, _, _) = serve(&FFMPEG_C2S[..1 + HANDSHAKE_SIZE]);
    assert_eq!(server.kind(), Some(HandshakeKind::Digest));
}

#[test]
fn server_detects_simple_for_librtmp_c1() {
    let (server, _, _) = serve(&LIBRTMP_C2S[..1 + HANDSHAKE_SIZE]);
    assert_eq!(server.kind(), Some(HandshakeKind::Simple));
}

#[test]
fn kind_is_unknown_before_c1_is_complete() {
    let (server, status, out) = serve(&FFMPEG_C2S[..HANDSHAKE_SIZE]);
    assert_eq!(server.kind(), None);
    assert_eq!(
        status,
        HandshakeStatus::InProgress {
            consumed: HANDSHAKE_SIZE
        }
    );
    assert!(out.is_empty());
}

#[test]
fn ffmpeg_c1_carries_scheme0_digest_with_fp9_version() {
    let c1 = packet(FFMPEG_C2S, 1);
    assert_eq!(c1[4..8], CLIENT_VERSION);
    assert!(matches!(find_client_digest(&c1), Some((DigestScheme::Scheme0, _))));
}

#[test]
fn server_consumes_exactly_the_ffmpeg_handshake_and_leaves_chunk_data() {
    let (server, status, out) = serve(FFMPEG_C2S);
    assert_eq!(status, HandshakeStatus::Done { consumed: FULL });
    assert_eq!(out.len(), FULL);
    assert_eq!(out[0], RTMP_VERSION);
    // The next byte is the first chunk basic header (csid 3: connect).
    assert_eq!(FFMPEG_C2S[FULL], 0x03);
    // FFmpeg publishes with C2 = echo of nginx's S1, not ours: lenient, still Done.
    assert_eq!(server.c2_valid(), Some(false));
}

#[test]
fn server_consumes_exactly_the_librtmp_handshake() {
    let (_, status, out) = serve(LIBRTMP_C2S);
    assert_eq!(status, HandshakeStatus::Done { consumed: FULL });
    assert_eq!(out.len(), FULL);
}

#[test]
fn server_byte_at_a_time_output_matches_single_feed() {
    for capture in [FFMPEG_C2S, LIBRTMP_C2S] {
        let (_, _, bulk) = serve(capture);
        let (server, used, bytewise) = serve_bytewise(capture);
        assert_eq!(used, FULL);
        assert_eq!(bytewise, bulk);
        assert!(server.kind().is_some());
    }
}

#[test]
fn server_uneven_splits_match_single_feed() {
    let (_, _, bulk) = serve(FFMPEG_C2S);
    let mut server = ServerHandshake::new(random(1), 0x1234_5678);
    let mut out = Vec::new();
    let mut pending: &[u8] = FFMPEG_C2S;
    let mut total = 0;
    for size in [1usize, 700, 900, 1, 1535, 2, 5000].iter().cycle() {
        let take = (*size).min(pending.len());
        match server.feed(&pending[..take], &mut out).unwrap() {
            HandshakeStatus::InProgress { consumed } => {
                assert_eq!(consumed, take);
                total += consumed;
                pending = &pending[consumed..];
            }
            HandshakeStatus::Done { consumed } => {
                total += consumed;
                break;
            }
        }
    }
    assert_eq!(total, FULL);
    assert_eq!(out, bulk);
}

#[test]
fn server_feed_after_done_consumes_nothing() {
    let (mut server, _, mut out) = serve(FFMPEG_C2S);
    let len = out.len();
    let status = server.feed(&FFMPEG_C2S[FULL..], &mut out).unwrap();
    assert_eq!(status, HandshakeStatus::Done { consumed: 0 });
    assert_eq!(out.len(), len);
}

/// FFmpeg `ff_rtmp_calc_digest`: HMAC-SHA256 of `buf`, skipping 32 bytes at `gap` if non-zero.
fn ffmpeg_calc_digest(buf: &[u8], gap: usize, key: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    if gap == 0 {
        mac.update(buf);
    } else {
        mac.update(&buf[..gap]);
        mac.update(&buf[gap + 32..]);
    }
    mac.finalize().into_bytes().into()
}

/// FFmpeg `rtmp_validate_digest(buf, off)` (server key, 36 bytes): digest position or 0.
fn ffmpeg_validate_digest(buf: &[u8], off: usize) -> usize {
    let pos = buf[off..off + 4].iter().map(|&b| b as usize).sum::<usize>() % 728 + off + 4;
    let digest = ffmpeg_calc_digest(buf, pos, b"Genuine Adobe Flash Media Server 001");
    if digest[..] == buf[pos..pos + 32] {
        pos
    } else {
        0
    }
}

#[test]
fn our_digest_s1_and_s2_pass_ffmpeg_client_checks() {
    let (_, _, out) = serve(FFMPEG_C2S);
    let (s1, s2) = (&out[1..1 + HANDSHAKE_SIZE], &out[1 + HANDSHAKE_SIZE..FULL]);
    assert_eq!(s1[..4], 0x1234_5678u32.to_be_bytes());
    assert_eq!(s1[4..8], SERVER_VERSION);
    // FFmpeg's rtmp_handshake, transcribed: find the S1 digest (offset 772, then 8) ...
    let mut server_pos = ffmpeg_validate_digest(s1, 772);
    if server_pos == 0 {
        server_pos = ffmpeg_validate_digest(s1, 8);
    }
    // ... we answer in the client's scheme; FFmpeg's C1 uses scheme 0 (offset 8).
    assert_eq!(server_pos, ffmpeg_validate_digest(s1, 8));
    assert_ne!(server_pos, 0);
    // ... then S2's last 32 bytes must be HMAC(HMAC(full server key, C1 digest), S2[..1504]).
    let c1 = &FFMPEG_C2S[1..1 + HANDSHAKE_SIZE];
    let client_pos = c1[8..12].iter().map(|&b| b as usize).sum::<usize>() % 728 + 12;
    let digest = ffmpeg_calc_digest(&c1[client_pos..client_pos + 32], 0, &SERVER_KEY);
    let signature = ffmpeg_calc_digest(&s2[..HANDSHAKE_SIZE - 32], 0, &digest);
    assert_eq!(signature[..], s2[HANDSHAKE_SIZE - 32..]);
}

#[test]
fn nginx_s1_and_s2_pass_client_validation_for_captured_c1() {
    let (_, client_digest) = find_client_digest(&packet(FFMPEG_C2S, 1)).unwrap();
    let s1 = packet(FFMPEG_S2C, 1);
    let s2 = packet(FFMPEG_S2C, 2);
    assert_eq!(FFMPEG_S2C[0], RTMP_VERSION);
    assert_eq!(s1[4..8], [13, 14, 10, 13]);
    // nginx-rtmp always places its S1 digest with scheme 0.
    assert!(matches!(find_server_digest(&s1), Some((DigestScheme::Scheme0, _))));
    assert!(verify_s2(&s2, &client_digest));
}

#[test]
fn ffmpeg_publish_c2_echoes_nginx_s1() {
    // FFmpeg only signs C2 when playing; when publishing it echoes S1.
    assert_eq!(packet(FFMPEG_C2S, 2), packet(FFMPEG_S2C, 1));
}

#[test]
fn simple_s2_is_exact_echo_of_c1() {
    let (_, _, out) = serve(LIBRTMP_C2S);
    let s1 = packet(&out, 1);
    assert_eq!(packet(&out, 2), packet(LIBRTMP_C2S, 1));
    assert_eq!(s1[..4], 0x1234_5678u32.to_be_bytes());
    assert_eq!(s1[4..8], [0; 4]);
    assert_eq!(s1[8..], random(1));
}

#[test]
fn nonzero_version_without_valid_digest_falls_back_to_simple() {
    let mut input = FFMPEG_C2S[..1 + HANDSHAKE_SIZE].to_vec();
    input[100] ^= 0xFF; // breaks the scheme-0 digest (or the data it covers)
    let (server, _, out) = serve(&input);
    assert_eq!(server.kind(), Some(HandshakeKind::Simple));
    assert_eq!(packet(&out, 2)[..], input[1..]);
}

#[test]
fn server_answers_scheme1_c1_with_scheme1_s1() {
    let mut c1 = build_packet(5, CLIENT_VERSION, &random(9));
    let client_digest = imprint_digest(&mut c1, DigestScheme::Scheme1, PLAYER_KEY_TEXT);
    assert_eq!(find_client_digest(&c1), Some((DigestScheme::Scheme1, client_digest)));
    let mut input = vec![RTMP_VERSION];
    input.extend_from_slice(&c1);
    let (server, _, out) = serve(&input);
    assert_eq!(server.kind(), Some(HandshakeKind::Digest));
    assert!(matches!(
        find_server_digest(&packet(&out, 1)),
        Some((DigestScheme::Scheme1, _))
    ));
    assert!(verify_s2(&packet(&out, 2), &client_digest));
}

#[test]
fn server_rejects_wrong_c0_version() {
    for version in [0u8, 6, 0x47] {
        let mut server = ServerHandshake::new(random(1), 0);
        let mut out = Vec::new();
        let input = [version; 10];
        assert_eq!(
            server.feed(&input, &mut out),
            Err(HandshakeError::UnsupportedVersion(version))
        );
        assert!(out.is_empty());
        // The error is sticky.
        assert_eq!(
            server.feed(&input, &mut out),
            Err(HandshakeError::UnsupportedVersion(version))
        );
    }
}

#[test]
fn client_rejects_wrong_s0_version() {
    let mut out = Vec::new();
    let mut client = ClientHandshake::new(HandshakeKind::Simple, random(2), 0, &mut out);
    let mut s2c = FFMPEG_S2C[..FULL].to_vec();
    s2c[0] = 6;
    assert_eq!(client.feed(&s2c, &mut out), Err(HandshakeError::UnsupportedVersion(6)));
}

#[test]
fn client_digest_c1_layout() {
    let mut out = Vec::new();
    let client = ClientHandshake::new(HandshakeKind::Digest, random(4), 0xAABB_CCDD, &mut out);
    assert_eq!(out.len(), 1 + HANDSHAKE_SIZE);
    assert_eq!(out[0], RTMP_VERSION);
    let c1 = packet(&out, 1);
    assert_eq!(c1[..4], 0xAABB_CCDDu32.to_be_bytes());
    assert_eq!(c1[4..8], CLIENT_VERSION);
    assert_eq!(
        find_client_digest(&c1),
        client.client_digest.map(|d| (DigestScheme::Scheme0, d))
    );
    assert_eq!(client.kind(), None);
}

#[test]
fn client_simple_c1_layout() {
    let mut out = Vec::new();
    ClientHandshake::new(HandshakeKind::Simple, random(4), 77, &mut out);
    let c1 = packet(&out, 1);
    assert_eq!(c1[..4], 77u32.to_be_bytes());
    assert_eq!(c1[4..8], [0; 4]);
    assert_eq!(c1[8..], random(4));
}

#[test]
fn round_trip_digest() {
    let (client, server) = round_trip(HandshakeKind::Digest);
    assert_eq!(client.kind(), Some(HandshakeKind::Digest));
    assert_eq!(server.kind(), Some(HandshakeKind::Digest));
    assert_eq!(server.c2_valid(), Some(true));
}

#[test]
fn round_trip_simple() {
    let (client, server) = round_trip(HandshakeKind::Simple);
    assert_eq!(client.kind(), Some(HandshakeKind::Simple));
    assert_eq!(server.kind(), Some(HandshakeKind::Simple));
    assert_eq!(server.c2_valid(), Some(true));
}

#[test]
fn client_digest_c2_is_signed_for_the_server_digest() {
    let mut c2s = Vec::new();
    let mut client = ClientHandshake::new(HandshakeKind::Digest, random(7), 99, &mut c2s);
    let mut server = ServerHandshake::new(random(3), 42);
    let mut s2c = Vec::new();
    server.feed(&c2s, &mut s2c).unwrap();
    let (_, server_digest) = find_server_digest(&packet(&s2c, 1)).unwrap();
    let mut c2 = Vec::new();
    client.feed(&s2c, &mut c2).unwrap();
    assert!(verify_c2(&c2.try_into().unwrap(), &server_digest));
}

#[test]
fn client_byte_at_a_time_matches_single_feed_and_stops_after_s2() {
    let mut c1 = Vec::new();
    let mut bulk_client = ClientHandshake::new(HandshakeKind::Digest, random(7), 1, &mut c1);
    let mut server = ServerHandshake::new(random(3), 2);
    let mut s2c = Vec::new();
    server.feed(&c1, &mut s2c).unwrap();
    s2c.extend_from_slice(b"chunk data");
    let mut bulk = Vec::new();
    let status = bulk_client.feed(&s2c, &mut bulk).unwrap();
    assert_eq!(status, HandshakeStatus::Done { consumed: FULL });

    let mut client = ClientHandshake::new(HandshakeKind::Digest, random(7), 1, &mut Vec::new());
    let mut bytewise = Vec::new();
    let mut used = 0;
    loop {
        match client.feed(&s2c[used..used + 1], &mut bytewise).unwrap() {
            HandshakeStatus::InProgress { consumed } => used += consumed,
            HandshakeStatus::Done { consumed } => {
                used += consumed;
                break;
            }
        }
    }
    assert_eq!(used, FULL);
    assert_eq!(bytewise, bulk);
}

#[test]
fn client_against_nginx_capture_echoes_s1_when_simple() {
    let mut out = Vec::new();
    let mut client = ClientHandshake::new(HandshakeKind::Simple, random(2), 0, &mut out);
    out.clear();
    let status = client.feed(LIBRTMP_S2C, &mut out).unwrap();
    assert_eq!(status, HandshakeStatus::Done { consumed: FULL });
    assert_eq!(out, packet(LIBRTMP_S2C, 1));
}

#[test]
fn digest_client_falls_back_with_simple_only_server() {
    let mut c2s = Vec::new();
    let mut client = ClientHandshake::new(HandshakeKind::Digest, random(2), 0, &mut c2s);
    // A simple-only server: S1 with zero version and plain random, S2 = echo of C1.
    let mut s2c = vec![RTMP_VERSION];
    s2c.extend_from_slice(&build_packet(0, [0; 4], &random(5)));
    s2c.extend_from_slice(&c2s[1..]);
    let mut c2 = Vec::new();
    let status = client.feed(&s2c, &mut c2).unwrap();
    assert_eq!(status, HandshakeStatus::Done { consumed: FULL });
    assert_eq!(client.kind(), Some(HandshakeKind::Simple));
    assert_eq!(c2, s2c[1..1 + HANDSHAKE_SIZE]);
}

#[test]
fn client_rejects_tampered_s2() {
    let mut c2s = Vec::new();
    let mut client = ClientHandshake::new(HandshakeKind::Digest, random(7), 99, &mut c2s);
    let mut server = ServerHandshake::new(random(3), 42);
    let mut s2c = Vec::new();
    server.feed(&c2s, &mut s2c).unwrap();
    s2c[FULL - 1] ^= 1;
    let mut c2 = Vec::new();
    assert_eq!(client.feed(&s2c, &mut c2), Err(HandshakeError::InvalidServerDigest));
    // C2 already went out after S1.
    assert_eq!(c2.len(), HANDSHAKE_SIZE);
    assert_eq!(client.feed(&[], &mut c2), Err(HandshakeError::InvalidServerDigest));
}

#[test]
fn well_known_keys_match_ffmpeg() {
    assert_eq!(&PLAYER_KEY[..30], b"Genuine Adobe Flash Player 001");
    assert_eq!(&SERVER_KEY[..36], b"Genuine Adobe Flash Media Server 001");
    assert_eq!(PLAYER_KEY[30..], KEY_TAIL);
    assert_eq!(SERVER_KEY[36..], KEY_TAIL);
    assert_eq!((KEY_TAIL[0], KEY_TAIL[31]), (0xF0, 0xAE));
}

#[test]
fn digest_offsets_stay_inside_the_packet() {
    let worst = [0xFFu8; HANDSHAKE_SIZE];
    assert_eq!(DigestScheme::Scheme0.digest_offset(&worst), 1020 % 728 + 12);
    assert_eq!(DigestScheme::Scheme1.digest_offset(&worst), 1020 % 728 + 776);
    for sum in 0..=1020usize {
        let mut p = [0u8; HANDSHAKE_SIZE];
        for (i, byte) in p[772..776].iter_mut().enumerate() {
            *byte = (sum.saturating_sub(i * 255)).min(255) as u8;
        }
        assert!(DigestScheme::Scheme1.digest_offset(&p) + DIGEST_SIZE <= HANDSHAKE_SIZE);
    }
}

#[test]
fn error_messages_are_readable() {
    assert_eq!(
        HandshakeError::UnsupportedVersion(6).to_string(),
        "unsupported RTMP handshake version 6"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(HandshakeError::InvalidServerDigest);
    assert!(boxed.to_string().contains("digest"));
}
