//! Registry of published streams: which connection publishes each app/stream. Its lock
//! guards the map only, never I/O.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub app: String,
    pub stream: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyPublishing {
    pub by_conn_id: u64,
}

#[derive(Debug, Default)]
pub struct Registry {
    publishers: Mutex<HashMap<StreamKey, u64>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims the stream for a publisher; fails if another connection holds it.
    pub fn claim(&self, key: &StreamKey, conn_id: u64) -> Result<(), AlreadyPublishing> {
        let mut publishers = self.publishers.lock().unwrap_or_else(|e| e.into_inner());
        match publishers.get(key) {
            Some(&holder) if holder != conn_id => Err(AlreadyPublishing { by_conn_id: holder }),
            _ => {
                publishers.insert(key.clone(), conn_id);
                Ok(())
            }
        }
    }

    /// Releases the stream if this connection holds it.
    pub fn release(&self, key: &StreamKey, conn_id: u64) {
        let mut publishers = self.publishers.lock().unwrap_or_else(|e| e.into_inner());
        if publishers.get(key) == Some(&conn_id) {
            publishers.remove(key);
        }
    }

    pub fn publishing_count(&self) -> usize {
        self.publishers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stream: &str) -> StreamKey {
        StreamKey {
            app: "live".into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn second_publisher_is_refused_until_the_first_releases() {
        let registry = Registry::new();
        registry.claim(&key("a"), 1).unwrap();
        assert_eq!(registry.claim(&key("a"), 2), Err(AlreadyPublishing { by_conn_id: 1 }));
        registry.claim(&key("b"), 2).unwrap();
        registry.release(&key("a"), 2);
        assert_eq!(registry.publishing_count(), 2, "only the holder releases");
        registry.release(&key("a"), 1);
        registry.claim(&key("a"), 2).unwrap();
    }
}
