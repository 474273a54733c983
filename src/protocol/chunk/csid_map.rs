//! `CsidMap`: per-chunk-stream state keyed by csid, for the decoder's hot path. A peer uses a
//! handful of chunk streams (at most `max_chunk_streams`), so a linear scan of a short vector
//! beats hashing the csid for every chunk.

/// A small map from csid to `V` with the subset of the `HashMap` API the decoder uses.
#[derive(Debug)]
pub(super) struct CsidMap<V> {
    entries: Vec<(u32, V)>,
}

impl<V> CsidMap<V> {
    pub(super) fn new() -> Self {
        CsidMap { entries: Vec::new() }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, csid: &u32) -> Option<&V> {
        self.entries.iter().find(|(k, _)| k == csid).map(|(_, v)| v)
    }

    pub(super) fn get_mut(&mut self, csid: &u32) -> Option<&mut V> {
        self.entries.iter_mut().find(|(k, _)| k == csid).map(|(_, v)| v)
    }

    pub(super) fn contains_key(&self, csid: &u32) -> bool {
        self.entries.iter().any(|(k, _)| k == csid)
    }

    /// Sets the state of `csid`; returns the previous one.
    pub(super) fn insert(&mut self, csid: u32, value: V) -> Option<V> {
        match self.get_mut(&csid) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((csid, value));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CsidMap;

    #[test]
    fn behaves_like_a_map() {
        let mut map = CsidMap::new();
        assert_eq!(map.insert(3, "a"), None);
        assert_eq!(map.insert(70_000, "b"), None);
        assert_eq!(map.insert(3, "c"), Some("a"));
        assert_eq!((map.len(), map.get(&3), map.get(&70_000)), (2, Some(&"c"), Some(&"b")));
        assert!(map.contains_key(&70_000) && !map.contains_key(&4));
        if let Some(v) = map.get_mut(&70_000) {
            *v = "d";
        }
        assert_eq!(map.get(&70_000), Some(&"d"));
        assert_eq!(map.get_mut(&9), None);
    }
}
