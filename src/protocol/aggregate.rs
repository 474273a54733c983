//! Aggregate messages (RTMP message type 22): a run of sub-messages, each laid out like an
//! FLV tag (11-byte header, body, 4-byte back pointer). This parses one sub-message at a
//! time from a byte slice; the FLV reader builds its tag parser on the same layout.

/// Sub-message header: type, 24-bit size, 24-bit timestamp, extended byte, 24-bit stream id.
pub const SUB_HEADER_LEN: usize = 11;
/// The back pointer after each sub-message's body.
pub const BACK_POINTER_LEN: usize = 4;

/// One sub-message of an aggregate (or one FLV tag), borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubMessage<'a> {
    /// The type byte with its reserved/filter bits cleared (8 audio, 9 video, 18 data).
    pub type_id: u8,
    /// The whole type byte as sent.
    pub type_byte: u8,
    pub timestamp: u32,
    pub stream_id: u32,
    pub body: &'a [u8],
    /// The trailing back pointer: the sub-message's size with its header, when well formed.
    pub back_pointer: u32,
    /// Bytes of input the sub-message took, back pointer included.
    pub used: usize,
}

impl SubMessage<'_> {
    /// What the back pointer must say: header plus body length.
    pub fn expected_back_pointer(&self) -> u32 {
        (SUB_HEADER_LEN + self.body.len()) as u32
    }
}

/// Parses the sub-message at the start of `input`; `None` when it is not complete.
pub fn parse_sub_message(input: &[u8]) -> Option<SubMessage<'_>> {
    let &[type_byte, s0, s1, s2, t0, t1, t2, t3, i0, i1, i2] = input.first_chunk::<SUB_HEADER_LEN>()?;
    let size = u32::from_be_bytes([0, s0, s1, s2]) as usize;
    let body_end = SUB_HEADER_LEN + size;
    let used = body_end + BACK_POINTER_LEN;
    let body = input.get(SUB_HEADER_LEN..body_end)?;
    let back = input.get(body_end..used).and_then(|b| <[u8; 4]>::try_from(b).ok())?;
    Some(SubMessage {
        type_id: type_byte & 0x1F,
        type_byte,
        timestamp: u32::from_be_bytes([t3, t0, t1, t2]),
        stream_id: u32::from_be_bytes([0, i0, i1, i2]),
        body,
        back_pointer: u32::from_be_bytes(back),
        used,
    })
}

/// The audio and video sub-messages of an aggregate whose own timestamp is `timestamp`: their
/// timestamps are relative to the first sub-message's. Parsing stops at the first incomplete
/// or malformed sub-message (a wrong back pointer), keeping what came before it.
pub fn media_parts(payload: &[u8], timestamp: u32) -> Vec<(u8, u32, &[u8])> {
    let mut parts = Vec::new();
    let mut rest = payload;
    let mut first_timestamp = None;
    while let Some(sub) = parse_sub_message(rest) {
        if sub.back_pointer != sub.expected_back_pointer() || !matches!(sub.type_id, 8 | 9 | 18) {
            break;
        }
        let base = *first_timestamp.get_or_insert(sub.timestamp);
        if matches!(sub.type_id, 8 | 9) {
            parts.push((
                sub.type_id,
                timestamp.wrapping_add(sub.timestamp.wrapping_sub(base)),
                sub.body,
            ));
        }
        rest = rest.get(sub.used..).unwrap_or(&[]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(type_id: u8, timestamp: u32, body: &[u8], back: u32) -> Vec<u8> {
        let size = (body.len() as u32).to_be_bytes();
        let ts = timestamp.to_be_bytes();
        let mut out = vec![type_id, size[1], size[2], size[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0];
        out.extend_from_slice(body);
        out.extend_from_slice(&back.to_be_bytes());
        out
    }

    #[test]
    fn sub_messages_are_rebased_on_the_aggregate_timestamp() {
        let mut payload = sub(9, 1000, &[0x17, 1], 13);
        payload.extend(sub(8, 1020, &[0xAF, 1, 5], 14));
        payload.extend(sub(18, 1030, &[2], 12));
        payload.extend(sub(9, 0x0100_0010, &[0x27], 12));
        let parts = media_parts(&payload, 50);
        assert_eq!(
            parts,
            vec![
                (9, 50, &[0x17, 1][..]),
                (8, 70, &[0xAF, 1, 5][..]),
                (9, 50u32.wrapping_add(0x0100_0010 - 1000), &[0x27][..]),
            ]
        );
    }

    #[test]
    fn a_bad_back_pointer_or_truncation_ends_the_parts() {
        let mut payload = sub(8, 0, &[1], 12);
        payload.extend(sub(8, 10, &[2], 99));
        payload.extend(sub(8, 20, &[3], 12));
        assert_eq!(media_parts(&payload, 0), vec![(8, 0, &[1][..])]);
        let whole = sub(9, 0, &[1, 2, 3], 14);
        for cut in 0..whole.len() {
            assert!(parse_sub_message(&whole[..cut]).is_none(), "cut at {cut}");
        }
        assert_eq!(parse_sub_message(&whole).map(|s| s.used), Some(whole.len()));
    }
}
