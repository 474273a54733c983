//! GOP cache for fast start: the frames since the most recent video keyframe, bounded in
//! bytes, so a new player starts with a picture at once. Sequence headers and metadata are
//! kept by the stream itself, not here.

use super::FrameKind;
use std::collections::VecDeque;

/// Default byte bound of one stream's GOP cache.
pub const DEFAULT_GOP_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// What one cached frame costs besides its payload (the shared frame, its allocation and
/// the queue slot), charged against the bound so a flood of tiny frames after one keyframe
/// cannot hold millions of entries (2 million 2-byte frames once took 270 MB).
pub const GOP_ITEM_OVERHEAD_BYTES: usize = 160;

#[derive(Debug)]
pub struct GopCache<T> {
    items: VecDeque<T>,
    bytes: usize,
    limit: usize,
    /// The current GOP outgrew the bound; nothing is cached until the next keyframe.
    overflowed: bool,
}

impl<T: Clone> GopCache<T> {
    pub fn new(limit: usize) -> Self {
        GopCache {
            items: VecDeque::new(),
            bytes: 0,
            limit,
            overflowed: false,
        }
    }

    /// Offers a frame (not a sequence header or metadata). A video keyframe starts a new GOP;
    /// other frames join the current GOP while it fits.
    pub fn push(&mut self, item: T, kind: FrameKind, keyframe: bool, len: usize) {
        let len = len.saturating_add(GOP_ITEM_OVERHEAD_BYTES);
        if kind == FrameKind::Video && keyframe {
            self.clear();
            self.overflowed = false;
        } else if self.items.is_empty() || self.overflowed {
            return;
        }
        if self.bytes.saturating_add(len) > self.limit {
            self.clear();
            self.overflowed = true;
            return;
        }
        self.bytes = self.bytes.saturating_add(len);
        self.items.push_back(item);
    }

    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }

    /// The cached GOP, oldest first (starts with a keyframe when not empty).
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_holds_the_last_gop_from_its_keyframe() {
        let mut cache = GopCache::new(10_000);
        cache.push(1, FrameKind::Audio, false, 10);
        cache.push(2, FrameKind::Video, false, 10);
        assert!(cache.is_empty(), "nothing before the first keyframe");
        cache.push(3, FrameKind::Video, true, 10);
        cache.push(4, FrameKind::Audio, false, 10);
        cache.push(5, FrameKind::Video, false, 10);
        assert_eq!(cache.items().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        cache.push(6, FrameKind::Video, true, 10);
        cache.push(7, FrameKind::Audio, false, 10);
        assert_eq!(cache.items().copied().collect::<Vec<_>>(), vec![6, 7]);
        assert_eq!(cache.bytes(), 2 * (10 + GOP_ITEM_OVERHEAD_BYTES));
    }

    #[test]
    fn oversized_gop_is_dropped_until_the_next_keyframe() {
        let mut cache = GopCache::new(2 * GOP_ITEM_OVERHEAD_BYTES + 25);
        cache.push(1, FrameKind::Video, true, 10);
        cache.push(2, FrameKind::Video, false, 10);
        cache.push(3, FrameKind::Video, false, 10);
        assert!(cache.is_empty());
        cache.push(4, FrameKind::Audio, false, 1);
        assert!(cache.is_empty(), "stays empty while overflowed");
        cache.push(5, FrameKind::Video, true, 10);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_flood_of_tiny_frames_is_bounded_by_their_count() {
        let mut cache = GopCache::new(DEFAULT_GOP_CACHE_BYTES);
        cache.push(0, FrameKind::Video, true, 1000);
        for i in 1..2_000_000 {
            cache.push(i, FrameKind::Audio, false, 2);
        }
        // 2-byte frames overflow the 16 MiB bound after about 100 000 of them, and then
        // nothing is held until the next keyframe.
        assert!(cache.is_empty(), "{} tiny frames held", cache.len());
    }

    #[test]
    fn keyframe_larger_than_the_bound_is_not_cached() {
        let mut cache = GopCache::new(GOP_ITEM_OVERHEAD_BYTES + 5);
        cache.push(1, FrameKind::Video, true, 10);
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }
}
