//! RTMP handshake (C0 C1 C2 / S0 S1 S2), server and client side, sans-IO.
//!
//! Two flavours exist. The "simple" handshake of the RTMP spec swaps random packets and echoes
//! them back. The Flash Player 9 "digest" (complex) handshake hides an HMAC-SHA256 digest at a
//! data-dependent position inside C1/S1 and signs C2/S2 with a key derived from the peer's
//! digest; FFmpeg and Flash-derived clients send it. The server answers a digest C1 in kind
//! and falls back to the simple echo when a C1 carries no valid digest, as nginx-rtmp and
//! librtmp do. Randomness and the epoch are passed in; no I/O, clock or RNG lives here.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

pub const RTMP_VERSION: u8 = 3;
pub const HANDSHAKE_SIZE: usize = 1536;
pub const RANDOM_SIZE: usize = 1528;

/// Filler for handshake packets (xorshift): it need not be secret, only differ per seed.
pub fn filler_random(seed: u64) -> [u8; RANDOM_SIZE] {
    let mut state = seed | 1;
    let mut random = [0u8; RANDOM_SIZE];
    for byte in random.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    random
}
/// Size of an HMAC-SHA256 digest or signature inside a handshake packet.
pub const DIGEST_SIZE: usize = 32;
/// Version our digest C1 announces (Flash Player 9.0.124.2, as FFmpeg sends).
pub const CLIENT_VERSION: [u8; 4] = [9, 0, 124, 2];
/// Version our digest S1 announces (Flash Media Server 4.5.0.1).
pub const SERVER_VERSION: [u8; 4] = [4, 5, 0, 1];

/// Binary half shared by both well-known (public) handshake keys.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D,
    0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];
/// Key for the digest inside C1 (FFmpeg `rtmp_player_key`, first 30 bytes).
const PLAYER_KEY_TEXT: &[u8; 30] = b"Genuine Adobe Flash Player 001";
/// Key for the digest inside S1 (FFmpeg `rtmp_server_key`, first 36 bytes).
const SERVER_KEY_TEXT: &[u8; 36] = b"Genuine Adobe Flash Media Server 001";
/// Full player key (62 bytes): derives the key that signs C2.
const PLAYER_KEY: [u8; 62] = full_key(PLAYER_KEY_TEXT);
/// Full server key (68 bytes): derives the key that signs S2.
const SERVER_KEY: [u8; 68] = full_key(SERVER_KEY_TEXT);

/// `text` followed by `KEY_TAIL`.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build, never a peer"
)]
const fn full_key<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut key = [0u8; N];
    let mut i = 0;
    while i < N {
        key[i] = if i < text.len() {
            text[i]
        } else {
            KEY_TAIL[i - text.len()]
        };
        i += 1;
    }
    key
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// C0/S0 announced a protocol version other than 3 (e.g. 6, encrypted RTMPE).
    UnsupportedVersion(u8),
    /// The server signed S1 but S2's signature does not match our C1 digest.
    InvalidServerDigest,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(v) => write!(f, "unsupported RTMP handshake version {v}"),
            Self::InvalidServerDigest => f.write_str("server handshake digest is invalid"),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeKind {
    Simple,
    Digest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStatus {
    InProgress { consumed: usize },
    Done { consumed: usize },
}

/// One C1/C2/S1/S2 packet.
pub type Packet = [u8; HANDSHAKE_SIZE];
/// An HMAC-SHA256 digest or signature.
pub type DigestBytes = [u8; DIGEST_SIZE];

/// Where a C1/S1 digest sits: scheme 0 derives it from bytes 8..12, scheme 1 from 772..776.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestScheme {
    Scheme0,
    Scheme1,
}

impl DigestScheme {
    /// Offset of the 32-byte digest inside a C1/S1 packet (at most 1503, so it always fits).
    pub fn digest_offset(self, packet: &Packet) -> usize {
        let base = match self {
            Self::Scheme0 => 8,
            Self::Scheme1 => 772,
        };
        let bytes = packet.iter().skip(base).take(4);
        bytes.fold(0, |sum, &b| sum + usize::from(b)) % 728 + base + 4
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> DigestBytes {
    // HMAC takes keys of any length, so the Err arm cannot happen.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; DIGEST_SIZE];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC of a C1/S1 packet leaving out the 32 digest bytes at `offset`, and those bytes.
fn packet_digest<'a>(packet: &'a Packet, offset: usize, key: &[u8]) -> (DigestBytes, &'a [u8]) {
    let (before, rest) = packet.split_at_checked(offset).unwrap_or((packet, &[]));
    let (stored, after) = rest.split_at_checked(DIGEST_SIZE).unwrap_or((rest, &[]));
    (hmac_sha256(key, &[before, after]), stored)
}

/// A digest found in C1/S1 and the scheme that placed it.
pub type Found = (DigestScheme, DigestBytes);

fn find_digest(packet: &Packet, key: &[u8], order: [DigestScheme; 2]) -> Option<Found> {
    order.into_iter().find_map(|scheme| {
        let (expected, stored) = packet_digest(packet, scheme.digest_offset(packet), key);
        (expected.as_slice() == stored).then_some((scheme, expected))
    })
}

/// Finds a valid client digest in C1 (scheme 0 first, then 1), as a server does.
pub fn find_client_digest(c1: &Packet) -> Option<Found> {
    let order = [DigestScheme::Scheme0, DigestScheme::Scheme1];
    find_digest(c1, PLAYER_KEY_TEXT, order)
}

/// Finds a valid server digest in S1 (scheme 1 first, then 0, like FFmpeg's client).
pub fn find_server_digest(s1: &Packet) -> Option<Found> {
    let order = [DigestScheme::Scheme1, DigestScheme::Scheme0];
    find_digest(s1, SERVER_KEY_TEXT, order)
}

/// Writes the digest of `packet` (key = `key`) at the `scheme` position and returns it.
fn imprint_digest(packet: &mut Packet, scheme: DigestScheme, key: &[u8]) -> DigestBytes {
    let offset = scheme.digest_offset(packet);
    let (digest, _) = packet_digest(packet, offset, key);
    if let Some(slot) = packet.get_mut(offset..offset + DIGEST_SIZE) {
        slot.copy_from_slice(&digest);
    }
    digest
}

/// Signature closing C2/S2: HMAC(key = HMAC(full_key, peer_digest), the first 1504 bytes).
fn response_signature(signed: &[u8], full_key: &[u8], peer_digest: &DigestBytes) -> DigestBytes {
    let key = hmac_sha256(full_key, &[peer_digest]);
    hmac_sha256(&key, &[signed])
}

fn verify_response(packet: &Packet, full_key: &[u8], peer_digest: &DigestBytes) -> bool {
    let (signed, signature) = packet.split_at(HANDSHAKE_SIZE - DIGEST_SIZE);
    response_signature(signed, full_key, peer_digest) == signature
}

/// Whether S2 is signed for the client whose C1 carried `client_digest` (FFmpeg's check).
pub fn verify_s2(s2: &Packet, client_digest: &DigestBytes) -> bool {
    verify_response(s2, &SERVER_KEY, client_digest)
}

/// Whether C2 is signed for the server whose S1 carried `server_digest`.
pub fn verify_c2(c2: &Packet, server_digest: &DigestBytes) -> bool {
    verify_response(c2, &PLAYER_KEY, server_digest)
}

/// C2/S2 for a digest handshake: 1504 bytes derived from the caller's random (SHA-256 in
/// counter mode, so it does not repeat C1/S1; `label` separates C2 from S2), then the signature.
fn signed_response(random: &[u8; RANDOM_SIZE], label: &[u8], full_key: &[u8], peer_digest: &DigestBytes) -> Packet {
    let seed = Sha256::new().chain_update(label).chain_update(random);
    let seed = seed.finalize();
    let mut packet = [0u8; HANDSHAKE_SIZE];
    let (body, signature) = packet.split_at_mut(HANDSHAKE_SIZE - DIGEST_SIZE);
    for (counter, block) in (0u32..).zip(body.chunks_mut(DIGEST_SIZE)) {
        let hash = Sha256::new().chain_update(seed).chain_update(counter.to_be_bytes());
        for (dst, src) in block.iter_mut().zip(hash.finalize()) {
            *dst = src;
        }
    }
    signature.copy_from_slice(&response_signature(body, full_key, peer_digest));
    packet
}

/// C1/S1 layout: time (4 bytes BE), version (4), random (1528).
fn build_packet(time: u32, version: [u8; 4], random: &[u8; RANDOM_SIZE]) -> Packet {
    let mut packet = [0u8; HANDSHAKE_SIZE];
    let header = time.to_be_bytes().into_iter().chain(version);
    for (dst, src) in packet.iter_mut().zip(header.chain(random.iter().copied())) {
        *dst = src;
    }
    packet
}

fn sha256_after_header(packet: &Packet) -> DigestBytes {
    Sha256::digest(packet.get(8..).unwrap_or_default()).into()
}

/// Bytes whose Debug output is elided (random seeds, packet buffers), to keep logs short.
struct Opaque<T>(T);

impl<T> fmt::Debug for Opaque<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

/// A packet `Reader::next` just completed: C1/S1 or C2/S2.
enum Completed {
    First,
    Second,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Version,
    First,
    Second,
    Done,
}

/// Reads the version byte and two 1536-byte packets (C0 C1 C2 or S0 S1 S2) from input split
/// anywhere, buffering at most one packet. Errors are sticky.
#[derive(Debug)]
struct Reader {
    stage: Stage,
    /// The packet being read; once `next` reports it complete, that packet.
    buf: Opaque<Box<Packet>>,
    filled: usize,
    failed: Option<HandshakeError>,
}

impl Reader {
    fn new() -> Self {
        Self {
            stage: Stage::Version,
            buf: Opaque(Box::new([0; HANDSHAKE_SIZE])),
            filled: 0,
            failed: None,
        }
    }

    fn fail(&mut self, error: HandshakeError) -> HandshakeError {
        self.failed = Some(error.clone());
        error
    }

    /// Takes bytes from `input[*consumed..]` (advancing `consumed`) until a packet completes
    /// or the input runs out (`None`). Rejects a version byte other than 3.
    fn next(&mut self, input: &[u8], consumed: &mut usize) -> Result<Option<Completed>, HandshakeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.stage == Stage::Version {
            let Some(&version) = input.get(*consumed) else {
                return Ok(None);
            };
            *consumed += 1;
            self.stage = Stage::First;
            if version != RTMP_VERSION {
                return Err(self.fail(HandshakeError::UnsupportedVersion(version)));
            }
        }
        let (next_stage, completed) = match self.stage {
            Stage::First => (Stage::Second, Completed::First),
            Stage::Second => (Stage::Done, Completed::Second),
            Stage::Version | Stage::Done => return Ok(None),
        };
        // A full buffer here still holds C1/S1, already handed out: start C2/S2.
        if self.filled == HANDSHAKE_SIZE {
            self.filled = 0;
        }
        let space = self.buf.0.get_mut(self.filled..).unwrap_or_default();
        let pairs = space.iter_mut().zip(input.get(*consumed..).unwrap_or_default());
        let used = pairs.map(|(dst, src)| *dst = *src).count();
        self.filled += used;
        *consumed += used;
        if self.filled < HANDSHAKE_SIZE {
            return Ok(None);
        }
        self.stage = next_stage;
        Ok(Some(completed))
    }

    fn status(&self, consumed: usize) -> HandshakeStatus {
        match self.stage {
            Stage::Done => HandshakeStatus::Done { consumed },
            _ => HandshakeStatus::InProgress { consumed },
        }
    }
}

/// Server side: reads C0 C1 C2, writes S0 S1 S2.
#[derive(Debug)]
pub struct ServerHandshake {
    random: Opaque<[u8; RANDOM_SIZE]>,
    epoch: u32,
    reader: Reader,
    kind: Option<HandshakeKind>,
    /// Digest placed in S1 (digest handshake only), to recognise a signed C2.
    server_digest: Option<DigestBytes>,
    /// SHA-256 of S1[8..], to recognise a C2 that echoes S1 without keeping S1 around.
    s1_hash: DigestBytes,
    c2_valid: Option<bool>,
}

impl ServerHandshake {
    pub fn new(random: [u8; RANDOM_SIZE], epoch: u32) -> Self {
        Self {
            random: Opaque(random),
            epoch,
            reader: Reader::new(),
            kind: None,
            server_digest: None,
            s1_hash: [0; DIGEST_SIZE],
            c2_valid: None,
        }
    }

    /// Feed received bytes. Consumes only handshake bytes (never bytes past C2: those are
    /// chunk data the caller keeps). Appends S0+S1+S2 to `out` once C0+C1 are complete.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<HandshakeStatus, HandshakeError> {
        let mut consumed = 0;
        while let Some(packet) = self.reader.next(input, &mut consumed)? {
            match packet {
                Completed::First => self.answer_c1(out),
                Completed::Second => self.check_c2(),
            }
        }
        Ok(self.reader.status(consumed))
    }

    /// Known once C1 arrived.
    pub fn kind(&self) -> Option<HandshakeKind> {
        self.kind
    }

    /// Whether C2 echoed S1 or (digest handshake) carried a valid signature; `None` until C2
    /// arrived. Informational only: many clients send junk C2 and the handshake accepts it.
    pub fn c2_valid(&self) -> Option<bool> {
        self.c2_valid
    }

    fn answer_c1(&mut self, out: &mut Vec<u8>) {
        let c1 = &*self.reader.buf.0;
        let zero_version = c1.get(4..8) == Some(&[0u8; 4][..]);
        let client_digest = find_client_digest(c1).filter(|_| !zero_version);
        let random = &self.random.0;
        let (kind, s1, s2) = match client_digest {
            Some((scheme, client_digest)) => {
                let mut s1 = build_packet(self.epoch, SERVER_VERSION, random);
                self.server_digest = Some(imprint_digest(&mut s1, scheme, SERVER_KEY_TEXT));
                let s2 = signed_response(random, b"S2", &SERVER_KEY, &client_digest);
                (HandshakeKind::Digest, s1, s2)
            }
            None => {
                let s1 = build_packet(self.epoch, [0; 4], random);
                (HandshakeKind::Simple, s1, *c1)
            }
        };
        self.kind = Some(kind);
        self.s1_hash = sha256_after_header(&s1);
        out.push(RTMP_VERSION);
        out.extend_from_slice(&s1);
        out.extend_from_slice(&s2);
    }

    fn check_c2(&mut self) {
        let c2 = &*self.reader.buf.0;
        let echoes_s1 = sha256_after_header(c2) == self.s1_hash;
        let signed = matches!(self.server_digest, Some(digest) if verify_c2(c2, &digest));
        self.c2_valid = Some(echoes_s1 || signed);
    }
}

/// Client side: writes C0 C1 at construction, reads S0 S1 S2, writes C2.
#[derive(Debug)]
pub struct ClientHandshake {
    random: Opaque<[u8; RANDOM_SIZE]>,
    reader: Reader,
    /// Digest we put in C1 (digest handshake only).
    client_digest: Option<DigestBytes>,
    /// Valid digest found in S1; `None` for a simple-only server.
    server_digest: Option<DigestBytes>,
    kind: Option<HandshakeKind>,
}

impl ClientHandshake {
    /// Appends C0+C1 to `out`. With Digest, C1 carries a client digest (scheme 0, FP9 style,
    /// version 9.0.124.2 like FFmpeg).
    pub fn new(kind: HandshakeKind, random: [u8; RANDOM_SIZE], epoch: u32, out: &mut Vec<u8>) -> Self {
        let (c1, client_digest) = match kind {
            HandshakeKind::Simple => (build_packet(epoch, [0; 4], &random), None),
            HandshakeKind::Digest => {
                let mut c1 = build_packet(epoch, CLIENT_VERSION, &random);
                let digest = imprint_digest(&mut c1, DigestScheme::Scheme0, PLAYER_KEY_TEXT);
                (c1, Some(digest))
            }
        };
        out.push(RTMP_VERSION);
        out.extend_from_slice(&c1);
        Self {
            random: Opaque(random),
            reader: Reader::new(),
            client_digest,
            server_digest: None,
            kind: None,
        }
    }

    /// Feed S0 S1 S2; appends C2 to `out` after S1; Done once S2 has been read. Never consumes
    /// bytes past S2. With Digest, a signed S1 obliges S2 to be signed for our C1 digest.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<HandshakeStatus, HandshakeError> {
        let mut consumed = 0;
        while let Some(packet) = self.reader.next(input, &mut consumed)? {
            match packet {
                Completed::First => self.answer_s1(out),
                Completed::Second => self.check_s2()?,
            }
        }
        Ok(self.reader.status(consumed))
    }

    /// Negotiated kind, known once S1 arrived: Digest only if both sides signed.
    pub fn kind(&self) -> Option<HandshakeKind> {
        self.kind
    }

    fn answer_s1(&mut self, out: &mut Vec<u8>) {
        let s1 = &*self.reader.buf.0;
        let found = self.client_digest.and_then(|_| find_server_digest(s1));
        self.server_digest = found.map(|(_, digest)| digest);
        let (kind, c2) = match self.server_digest {
            Some(digest) => {
                let c2 = signed_response(&self.random.0, b"C2", &PLAYER_KEY, &digest);
                (HandshakeKind::Digest, c2)
            }
            None => (HandshakeKind::Simple, *s1),
        };
        self.kind = Some(kind);
        out.extend_from_slice(&c2);
    }

    fn check_s2(&mut self) -> Result<(), HandshakeError> {
        if let (Some(client_digest), Some(_)) = (self.client_digest, self.server_digest) {
            if !verify_s2(&self.reader.buf.0, &client_digest) {
                return Err(self.reader.fail(HandshakeError::InvalidServerDigest));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
