//! PES reassembly (pure): one elementary stream's packets gathered into whole PES packets,
//! bounded in bytes, and the PES header's PTS/DTS.

/// The largest PES packet kept (a 4K keyframe fits several times over); a longer one is
/// dropped whole, and the stream resumes at the next unit start.
pub const MAX_PES_BYTES: usize = 4 * 1024 * 1024;

/// One reassembled PES packet: its timestamps (90 kHz, 33 bits) and elementary data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pes {
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub data: Vec<u8>,
}

/// Gathers one PID's payloads into PES packets.
#[derive(Debug, Default)]
pub struct PesAssembler {
    buf: Vec<u8>,
    /// True while `buf` holds a PES packet begun with a unit start.
    active: bool,
    /// The declared length of the current packet (0: unbounded, ends at the next start).
    expected: usize,
    /// PES packets dropped for exceeding the bound or a bad header.
    pub dropped: u64,
}

impl PesAssembler {
    /// Adds one TS payload; returns the PES packet it completes, if any (the previous one
    /// at a unit start, or this one when its declared length is reached).
    pub fn push(&mut self, unit_start: bool, payload: &[u8]) -> Option<Pes> {
        let mut done = None;
        if unit_start {
            done = self.finish();
            self.active = true;
            self.buf.clear();
            self.expected = 0;
        }
        if !self.active {
            return done;
        }
        if self.buf.len() + payload.len() > MAX_PES_BYTES {
            self.dropped += 1;
            self.reset();
            return done;
        }
        self.buf.extend_from_slice(payload);
        if self.expected == 0 && self.buf.len() >= 6 {
            let declared = u16::from_be_bytes([self.buf.get(4).copied()?, self.buf.get(5).copied()?]);
            if declared != 0 {
                self.expected = 6 + usize::from(declared);
            }
        }
        if self.expected != 0 && self.buf.len() >= self.expected {
            self.buf.truncate(self.expected);
            return self.finish().or(done);
        }
        done
    }

    /// Ends the packet in progress (a declared-length packet is complete before this).
    pub fn finish(&mut self) -> Option<Pes> {
        if !self.active {
            return None;
        }
        let buf = std::mem::take(&mut self.buf);
        self.reset();
        let pes = parse_pes(buf);
        if pes.is_none() {
            self.dropped += 1;
        }
        pes
    }

    fn reset(&mut self) {
        self.active = false;
        self.expected = 0;
        self.buf.clear();
    }
}

/// The decode time (DTS, else PTS) in the header at the start of a PES packet.
pub fn decode_time(start: &[u8]) -> Option<u64> {
    if start.get(0..3)? != [0, 0, 1] {
        return None;
    }
    match *start.get(7)? >> 6 {
        3 => timestamp(start.get(14..19)?),
        2 => timestamp(start.get(9..14)?),
        _ => None,
    }
}

/// Reads a 33-bit timestamp from its 5-byte PES encoding.
fn timestamp(bytes: &[u8]) -> Option<u64> {
    let b = |i: usize| bytes.get(i).copied().map(u64::from);
    Some(((b(0)? >> 1) & 0x07) << 30 | b(1)? << 22 | (b(2)? >> 1) << 15 | b(3)? << 7 | (b(4)? >> 1))
}

/// Splits a whole PES packet into its timestamps and data; `None` without a start code or
/// with a header longer than the packet.
fn parse_pes(mut buf: Vec<u8>) -> Option<Pes> {
    if buf.get(0..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *buf.get(7)?;
    let header_len = usize::from(*buf.get(8)?);
    let data_start = 9 + header_len;
    if data_start > buf.len() {
        return None;
    }
    let (mut pts, mut dts) = (None, None);
    if flags & 0x80 != 0 {
        pts = Some(timestamp(buf.get(9..14)?)?);
        if flags & 0x40 != 0 {
            dts = Some(timestamp(buf.get(14..19)?)?);
        }
    }
    let data = buf.split_off(data_start);
    Some(Pes { pts, dts, data })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code may panic
    use super::*;
    use crate::ts::tests::encode_ts;

    #[test]
    fn timestamps_round_trip_33_bits() {
        for ts in [0, 1, 90_000, (1 << 33) - 1, 0x1_2345_6789] {
            assert_eq!(timestamp(&encode_ts(2, ts)), Some(ts));
        }
    }

    #[test]
    fn declared_length_completes_without_the_next_start() {
        let mut pes = vec![0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 5];
        pes.extend_from_slice(&encode_ts(2, 900));
        pes.extend_from_slice(b"abc");
        let declared = (pes.len() - 6) as u16;
        pes[4..6].copy_from_slice(&declared.to_be_bytes());
        let mut asm = PesAssembler::default();
        assert_eq!(asm.push(true, &pes[..7]), None);
        let done = asm.push(false, &pes[7..]).unwrap();
        assert_eq!(
            (done.pts, done.dts, done.data.as_slice()),
            (Some(900), None, &b"abc"[..])
        );
    }

    #[test]
    fn oversized_and_headless_packets_are_dropped() {
        let mut asm = PesAssembler::default();
        asm.push(true, &[0, 0, 1, 0xE0, 0, 0, 0x80, 0, 0]);
        let chunk = vec![0u8; 184];
        for _ in 0..(MAX_PES_BYTES / 184 + 2) {
            asm.push(false, &chunk);
        }
        assert_eq!(asm.dropped, 1);
        assert_eq!(asm.finish(), None);
        asm.push(true, &[1, 2, 3]);
        assert_eq!(asm.finish(), None);
        assert_eq!(asm.dropped, 2);
        // Continuation bytes with no start are ignored.
        assert_eq!(asm.push(false, &[0, 0, 1]), None);
    }
}
