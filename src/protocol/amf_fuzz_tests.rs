//! Deterministic fuzz loops over both decoders: random byte strings and mutations of valid
//! encodings must never panic, and a decoded value reports at most the input's length.

use super::tests::{encoded, hex};
use super::tests::{every_type, ffmpeg_connect, ffmpeg_metadata};
use super::{decode_all, decode_value, AmfError};
use crate::protocol::amf3;
use crate::protocol::amf3::tests::encoded as amf3_encoded;

/// Deterministic xorshift64 generator for the fuzz loops.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
    /// Random bytes, biased towards small values (markers, short lengths).
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| {
                if self.next().is_multiple_of(3) {
                    self.next() as u8
                } else {
                    (self.next() % 0x13) as u8
                }
            })
            .collect()
    }
    /// Flips, replaces, inserts or removes a few bytes of `input`, or cuts it.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(out.len());
            match self.below(5) {
                0 if !out.is_empty() => out[at] ^= 1 << self.below(8),
                1 if !out.is_empty() => out[at] = self.next() as u8,
                2 => out.insert(at, self.next() as u8),
                3 if !out.is_empty() => {
                    out.remove(at);
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

/// Decodes `input` with AMF0; returns whether one value decoded.
fn check_amf0(input: &[u8]) -> bool {
    let _ = decode_all(input, 8);
    let Ok((value, used)) = decode_value(input, 8) else {
        return false;
    };
    assert!(used <= input.len());
    let again = encoded(&value);
    let redecoded = decode_value(&again, 8).map(|(_, n)| n == again.len());
    assert!(
        over_budget(&redecoded) || redecoded == Ok(true),
        "re-encoding of {value:?}: {redecoded:?}"
    );
    true
}

/// The encoders write AMF3 referenced values out in full, and an inline container is copied
/// into the reference table at every level, so a re-encoded reference bomb may cost more than
/// the decode budget its compact form fitted in.
fn over_budget(result: &Result<bool, AmfError>) -> bool {
    matches!(result, Err(AmfError::TooManyValues { .. } | AmfError::TooLarge { .. }))
}

/// Decodes `input` with AMF3; returns whether it decoded.
fn check_amf3(input: &[u8]) -> bool {
    let Ok((value, used)) = amf3::decode_value(input, 8) else {
        return false;
    };
    assert!(used <= input.len());
    let again = amf3_encoded(&value);
    let redecoded = amf3::decode_value(&again, 8).map(|(_, n)| n == again.len());
    assert!(
        over_budget(&redecoded) || redecoded == Ok(true),
        "re-encoding of {value:?}: {redecoded:?}"
    );
    true
}

#[test]
fn fuzz_amf0_random_and_mutated_inputs_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let seeds = [encoded(&every_type()), ffmpeg_connect(), ffmpeg_metadata(5)];
    let mut decoded = 0;
    for _ in 0..20_000 {
        decoded += usize::from(check_amf0(&rng.bytes(64)));
        let seed = &seeds[rng.below(seeds.len())];
        decoded += usize::from(check_amf0(&rng.mutate(seed)));
    }
    assert!(
        decoded > 1_000,
        "only {decoded} inputs decoded: the fuzz loop explores too little"
    );
}

#[test]
fn fuzz_amf3_random_and_mutated_inputs_never_panic() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let seeds = [
        amf3_encoded(&amf3::tests::every_type()),
        hex("09 05 01 0a 13 03 43 03 61 04 01 0a 01 04 02"),
        hex("09 05 01 0a 0b 01 03 78 04 01 01 0a 02"),
        hex("09 07 01 06 01 06 05 61 62 06 00"),
        amf3::tests::reference_bomb(4),
    ];
    let mut decoded = 0;
    for _ in 0..20_000 {
        decoded += usize::from(check_amf3(&rng.bytes(64)));
        let seed = &seeds[rng.below(seeds.len())];
        let mutated = rng.mutate(seed);
        decoded += usize::from(check_amf3(&mutated));
        // The same bytes behind an AMF0 switch marker.
        let mut switched = vec![0x11];
        switched.extend_from_slice(&mutated);
        check_amf0(&switched);
    }
    assert!(
        decoded > 1_000,
        "only {decoded} inputs decoded: the fuzz loop explores too little"
    );
}
