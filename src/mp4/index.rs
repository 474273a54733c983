//! The segment index (`sidx`) kept in a fixed room after the `moov`: one reference per
//! keyframe fragment group, refreshed in place; a file with more groups than the room holds
//! is coarsened (neighbours merged, every 2nd, 4th... keyframe fragment starts a
//! reference), as the FLV keyframe index is. The rest of the room is a `free` box.

use super::boxes::{begin_full, end, free, u16, u32, u64};

/// Bytes of a version-1 `sidx` without references.
const SIDX_FIXED: usize = 40;
const REFERENCE_LEN: usize = 12;
/// References the default room holds.
pub const INDEX_CAPACITY: usize = 2048;
/// The room reserved after the `moov` for [`INDEX_CAPACITY`] references and a `free` box.
pub const INDEX_ROOM: usize = SIDX_FIXED + REFERENCE_LEN * INDEX_CAPACITY + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reference {
    offset: u64,
    size: u64,
    /// Decode time of the reference track's first sample.
    start: u64,
    sync: bool,
    keys: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentIndex {
    capacity: usize,
    stride: u32,
    refs: Vec<Reference>,
}

impl SegmentIndex {
    /// An empty index for a room of `room` bytes.
    pub fn for_room(room: usize) -> SegmentIndex {
        let capacity = room.saturating_sub(SIDX_FIXED + 8) / REFERENCE_LEN;
        SegmentIndex {
            capacity: capacity.clamp(1, usize::from(u16::MAX)),
            stride: 1,
            refs: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Accounts for a fragment at `offset` of `size` bytes whose reference-track samples
    /// begin at decode time `start` (`sync`: with a keyframe).
    pub fn add(&mut self, offset: u64, size: u64, start: u64, sync: bool) {
        let starts_new = |index: &SegmentIndex| match index.refs.last() {
            None => true,
            Some(last) => sync && last.keys >= index.stride,
        };
        if !starts_new(self) {
            if let Some(last) = self.refs.last_mut() {
                last.size = (offset + size).saturating_sub(last.offset);
                last.keys += u32::from(sync);
            }
            return;
        }
        if self.refs.len() >= self.capacity {
            self.coarsen();
            if !starts_new(self) {
                return self.add(offset, size, start, sync);
            }
        }
        self.refs.push(Reference {
            offset,
            size,
            start,
            sync,
            keys: u32::from(sync),
        });
    }

    /// Merges neighbours and doubles how many keyframe fragments a reference spans.
    fn coarsen(&mut self) {
        let merged = self
            .refs
            .chunks(2)
            .filter_map(|pair| {
                let (first, last) = (pair.first()?, pair.last()?);
                Some(Reference {
                    size: (last.offset + last.size).saturating_sub(first.offset),
                    keys: pair.iter().map(|r| r.keys).sum(),
                    ..*first
                })
            })
            .collect();
        self.refs = merged;
        self.stride = self.stride.saturating_mul(2);
    }

    /// The room's bytes (exactly `room`) for an index at file offset `at`: the `sidx`
    /// (reference track `track`, whose samples end at decode time `end`) then `free`;
    /// only `free` while the index is empty.
    pub fn write(&self, at: u64, room: usize, track: u32, end_time: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(room);
        if let Some(first) = self.refs.first() {
            let sidx = begin_full(&mut out, b"sidx", 1, 0);
            u32(&mut out, track);
            u32(&mut out, super::init::TIMESCALE);
            u64(&mut out, first.start);
            let len = SIDX_FIXED + REFERENCE_LEN * self.refs.len();
            u64(&mut out, first.offset.saturating_sub(at + len as u64));
            u16(&mut out, 0);
            u16(&mut out, u16::try_from(self.refs.len()).unwrap_or(u16::MAX));
            for (i, r) in self.refs.iter().enumerate() {
                let next = self.refs.get(i + 1).map_or(end_time, |n| n.start);
                u32(&mut out, u32::try_from(r.size).unwrap_or(u32::MAX) & 0x7FFF_FFFF);
                u32(
                    &mut out,
                    u32::try_from(next.saturating_sub(r.start)).unwrap_or(u32::MAX),
                );
                u32(&mut out, if r.sync { 0x9000_0000 } else { 0 });
            }
            end(&mut out, sidx);
        }
        let rest = room.saturating_sub(out.len());
        free(&mut out, rest);
        out.truncate(room);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_index_is_a_free_box() {
        let index = SegmentIndex::for_room(100);
        assert_eq!(
            index.write(50, 100, 1, 0),
            [&[0, 0, 0, 100][..], b"free", &[0; 92]].concat()
        );
    }

    #[test]
    fn references_start_at_keyframe_fragments() {
        let room = SIDX_FIXED + 2 * REFERENCE_LEN + 8 + 4;
        let mut index = SegmentIndex::for_room(room);
        index.add(1000, 100, 0, true);
        index.add(1100, 50, 500, false);
        index.add(1150, 70, 900, true);
        assert_eq!(index.len(), 2);
        let bytes = index.write(900, room, 1, 1500);
        let sidx_len = SIDX_FIXED + 2 * REFERENCE_LEN;
        assert_eq!(
            &bytes[..sidx_len],
            &[
                &(sidx_len as u32).to_be_bytes()[..],
                b"sidx",
                &[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x03, 0xE8],
                &[0; 8],
                &(1000 - 900 - sidx_len as u64).to_be_bytes(),
                &[0, 0, 0, 2],
                &[0, 0, 0, 150, 0, 0, 3, 132, 0x90, 0, 0, 0],
                &[0, 0, 0, 70, 0, 0, 2, 88, 0x90, 0, 0, 0],
            ]
            .concat()[..]
        );
        assert_eq!(&bytes[sidx_len..], [&[0, 0, 0, 12][..], b"free", &[0; 4]].concat());
    }

    #[test]
    fn a_full_index_is_coarsened() {
        let mut index = SegmentIndex::for_room(SIDX_FIXED + 4 * REFERENCE_LEN + 8);
        for i in 0..9u64 {
            index.add(i * 10, 10, i * 1000, true);
        }
        // 4 refs of 1 key, then merged to 2 of 2 keys, then 4 of 2 keys (stride 2), merged
        // again when the 9th arrives: stride 4.
        assert_eq!(index.stride, 4);
        let starts: Vec<u64> = index.refs.iter().map(|r| r.start).collect();
        assert_eq!(starts, [0, 4000, 8000]);
        let sizes: Vec<u64> = index.refs.iter().map(|r| r.size).collect();
        assert_eq!(sizes, [40, 40, 10]);
    }
}
