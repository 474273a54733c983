//! Keeps peer handshakes inside what srt-protocol 0.4 handles: its listener answers a
//! conclusion whose crypto fields disagree (key material without a key size, a response
//! where a request belongs, key material when the listener has no passphrase) with
//! `unimplemented!`. Such handshakes are dropped here first; the socket thread also runs
//! the core under `catch_unwind` as a last resort.

use srt_protocol::options::KeySize;
use srt_protocol::packet::{ControlTypes, HandshakeVsInfo, Packet, SrtControlPacket};

/// What a caller's handshake says about encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerCrypto {
    /// Not a v5 handshake with extensions (induction, other packets).
    NotStated,
    Plain,
    /// Key material for this key size.
    Encrypted(KeySize),
}

/// Why a handshake is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inconsistent;

/// Reads a packet's crypto claims; `Err` for the combinations the core cannot take.
pub fn caller_crypto(packet: &Packet) -> Result<CallerCrypto, Inconsistent> {
    let Packet::Control(control) = packet else {
        return Ok(CallerCrypto::NotStated);
    };
    let ControlTypes::Handshake(shake) = &control.control_type else {
        return Ok(CallerCrypto::NotStated);
    };
    let HandshakeVsInfo::V5(info) = &shake.info else {
        return Ok(CallerCrypto::NotStated);
    };
    if info.ext_hs.is_none() {
        // Induction: no extensions yet (key material here would be ignored by the core).
        return Ok(CallerCrypto::NotStated);
    }
    match (&info.ext_km, info.key_size) {
        (None, _) => Ok(CallerCrypto::Plain),
        (Some(SrtControlPacket::KeyRefreshRequest(_)), size) if size != KeySize::Unspecified => {
            Ok(CallerCrypto::Encrypted(size))
        }
        _ => Err(Inconsistent),
    }
}
