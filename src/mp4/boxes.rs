//! ISO BMFF box bytes: writing a box (size patched when it ends) and reading box headers
//! back (32-bit, 64-bit and to-end sizes), bounded, never panicking on hostile input.

/// Starts a box: its size (filled by [`end`]) and type; returns where it starts.
pub fn begin(out: &mut Vec<u8>, kind: &[u8; 4]) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    at
}

/// Starts a full box (version and 24-bit flags after the type).
pub fn begin_full(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32) -> usize {
    let at = begin(out, kind);
    out.extend_from_slice(&((u32::from(version) << 24) | (flags & 0xFF_FFFF)).to_be_bytes());
    at
}

/// Ends the box started at `at`: writes its size.
pub fn end(out: &mut [u8], at: usize) {
    let size = u32::try_from(out.len().saturating_sub(at)).unwrap_or(u32::MAX);
    if let Some(field) = out.get_mut(at..at + 4) {
        field.copy_from_slice(&size.to_be_bytes());
    }
}

pub fn u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A `free` box of exactly `len` bytes (at least 8).
pub fn free(out: &mut Vec<u8>, len: usize) {
    let at = begin(out, b"free");
    out.resize(at + len.max(8), 0);
    end(out, at);
}

/// A box header read back: type, header length and whole size (header included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    pub header_len: u64,
    pub size: u64,
}

/// Reads a box header from the start of `bytes`; `remaining` is how many bytes the
/// enclosing space has from there (for size 0, "to the end"). None: too short or invalid.
pub fn header(bytes: &[u8], remaining: u64) -> Option<BoxHeader> {
    let size32 = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    let (header_len, size) = match size32 {
        0 => (8, remaining),
        1 => (16, u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)),
        n => (8, u64::from(n)),
    };
    (size >= header_len).then_some(BoxHeader { kind, header_len, size })
}

/// The child boxes of a box body: (type, body) of each complete child, in order.
pub fn children(body: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut found = Vec::new();
    let mut pos = 0usize;
    while let Some(rest) = body.get(pos..) {
        let Some(h) = header(rest, rest.len() as u64) else {
            break;
        };
        let (Ok(start), Ok(end)) = (usize::try_from(h.header_len), usize::try_from(h.size)) else {
            break;
        };
        let Some(inner) = rest.get(start..end) else { break };
        found.push((h.kind, inner));
        pos += end;
    }
    found
}

/// The first child of type `kind`.
pub fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).into_iter().find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// Big-endian reads at an offset (None past the end).
pub fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

pub fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_sized_and_read_back() {
        let mut out = Vec::new();
        let outer = begin(&mut out, b"moov");
        let inner = begin_full(&mut out, b"mvhd", 1, 2);
        u32(&mut out, 7);
        end(&mut out, inner);
        free(&mut out, 10);
        end(&mut out, outer);
        assert_eq!(
            out,
            [
                &[0, 0, 0, 34][..],
                b"moov",
                &[0, 0, 0, 16],
                b"mvhd",
                &[1, 0, 0, 2, 0, 0, 0, 7],
                &[0, 0, 0, 10],
                b"free",
                &[0, 0],
            ]
            .concat()
        );
        let h = header(&out, out.len() as u64).unwrap();
        assert_eq!((h.kind, h.header_len, h.size), (*b"moov", 8, 34));
        let kids = children(&out[8..]);
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].0, *b"mvhd");
        assert_eq!(child(&out[8..], b"free").unwrap().len(), 2);
        assert_eq!(
            header(&[0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0, 0, 0, 0, 0, 0, 20], 99)
                .unwrap()
                .size,
            20
        );
        assert_eq!(header(&[0, 0, 0, 0, b'm', b'd', b'a', b't'], 99).unwrap().size, 99);
        assert_eq!(header(&[0, 0, 0, 4, b'b', b'a', b'd', b'!'], 99), None);
        assert_eq!(header(&[0, 0], 99), None);
        assert!(
            children(&[0, 0, 0, 40, b'x', b'x', b'x', b'x']).is_empty(),
            "a torn child is not listed"
        );
    }
}
