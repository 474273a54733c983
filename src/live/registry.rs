//! Registry of live streams by app/stream: publishing (with takeover or reject on conflict),
//! playing, and forgetting streams nobody uses. Lock order: registry, then stream.

use super::stream::Stream;
pub use super::stream::StreamKey;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a new publish does to a stream that already has a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishConflict {
    /// The newcomer replaces the old publisher (which is disconnected); players stay.
    Takeover,
    /// The newcomer is refused; the first publisher goes on untouched.
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyPublishing {
    pub by_conn_id: u64,
}

/// A granted publish: the stream, this publish's generation, and whom it replaced.
#[derive(Debug, Clone)]
pub struct PublishTicket {
    pub stream: Arc<Stream>,
    pub generation: u64,
    pub replaced: Option<u64>,
}

#[derive(Debug)]
pub struct Registry {
    streams: Mutex<HashMap<StreamKey, Arc<Stream>>>,
    gop_cache_bytes: usize,
    /// Ids of connections and subscribers (players, pushes), unique for the process.
    next_id: AtomicU64,
}

impl Registry {
    pub fn new(gop_cache_bytes: usize) -> Self {
        Registry {
            streams: Mutex::new(HashMap::new()),
            gop_cache_bytes,
            next_id: AtomicU64::new(1),
        }
    }

    /// A new connection or subscriber id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<StreamKey, Arc<Stream>>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get_or_create(&self, streams: &mut HashMap<StreamKey, Arc<Stream>>, key: &StreamKey) -> Arc<Stream> {
        let stream = streams
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Stream::new(key.clone(), self.gop_cache_bytes)));
        Arc::clone(stream)
    }

    /// Starts a publish, following `conflict` (the stream's policy) when the stream is live.
    pub fn publish(
        &self,
        key: &StreamKey,
        conn_id: u64,
        conflict: PublishConflict,
    ) -> Result<PublishTicket, AlreadyPublishing> {
        let mut streams = self.lock();
        let stream = self.get_or_create(&mut streams, key);
        if let Some(holder) = stream.publisher() {
            if conflict == PublishConflict::Reject && holder != conn_id {
                return Err(AlreadyPublishing { by_conn_id: holder });
            }
        }
        let (generation, replaced) = stream.begin_publish(conn_id);
        Ok(PublishTicket {
            stream,
            generation,
            replaced: replaced.filter(|old| *old != conn_id),
        })
    }

    /// Ends a publish (a no-op if it was taken over) and forgets an idle stream.
    pub fn unpublish(&self, ticket: &PublishTicket) {
        let mut streams = self.lock();
        ticket.stream.end_publish(ticket.generation);
        Self::forget_if_idle(&mut streams, &ticket.stream);
    }

    /// Gets (or creates, for a player that waits for its publisher) a stream to play.
    pub fn stream_for_play(&self, key: &StreamKey) -> Arc<Stream> {
        let mut streams = self.lock();
        self.get_or_create(&mut streams, key)
    }

    /// Removes a player and forgets the stream if nobody uses it any more.
    pub fn stop_play(&self, stream: &Arc<Stream>, conn_id: u64) {
        let mut streams = self.lock();
        stream.remove_player(conn_id);
        Self::forget_if_idle(&mut streams, stream);
    }

    fn forget_if_idle(streams: &mut HashMap<StreamKey, Arc<Stream>>, stream: &Arc<Stream>) {
        let same = streams.get(&stream.key).is_some_and(|s| Arc::ptr_eq(s, stream));
        if same && stream.is_idle() {
            streams.remove(&stream.key);
        }
    }

    pub fn publishing_count(&self) -> usize {
        self.lock().values().filter(|s| s.publisher().is_some()).count()
    }

    /// The connections that publish a stream now.
    pub fn publishers(&self) -> Vec<u64> {
        self.lock().values().filter_map(|s| s.publisher()).collect()
    }

    /// A known stream, for the API.
    pub fn get(&self, key: &StreamKey) -> Option<Arc<Stream>> {
        self.lock().get(key).cloned()
    }

    /// Every known stream, for the API.
    pub fn snapshot(&self) -> Vec<super::stream::StreamSnapshot> {
        let streams: Vec<Arc<Stream>> = self.lock().values().cloned().collect();
        let mut snapshots: Vec<_> = streams.iter().map(|s| s.snapshot()).collect();
        snapshots.sort_by(|a, b| (&a.app, &a.stream).cmp(&(&b.app, &b.stream)));
        snapshots
    }

    pub fn stream_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::gop_cache::DEFAULT_GOP_CACHE_BYTES;

    fn key(stream: &str) -> StreamKey {
        StreamKey {
            app: "live".into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn reject_policy_refuses_a_second_publisher_until_the_first_leaves() {
        let registry = Registry::new(DEFAULT_GOP_CACHE_BYTES);
        let reject = PublishConflict::Reject;
        let first = registry.publish(&key("a"), 1, reject).unwrap();
        assert_eq!(
            registry.publish(&key("a"), 2, reject).unwrap_err(),
            AlreadyPublishing { by_conn_id: 1 }
        );
        registry.publish(&key("b"), 2, reject).unwrap();
        assert_eq!(registry.publishing_count(), 2);
        registry.unpublish(&first);
        let second = registry.publish(&key("a"), 2, reject).unwrap();
        assert_eq!(second.replaced, None);
    }

    #[test]
    fn takeover_policy_replaces_the_publisher_and_ignores_the_old_ones_end() {
        let registry = Registry::new(DEFAULT_GOP_CACHE_BYTES);
        let first = registry.publish(&key("a"), 1, PublishConflict::Takeover).unwrap();
        let second = registry.publish(&key("a"), 2, PublishConflict::Takeover).unwrap();
        assert_eq!(second.replaced, Some(1));
        registry.unpublish(&first);
        assert_eq!(
            second.stream.publisher(),
            Some(2),
            "old publisher's end does not end the new one"
        );
        registry.unpublish(&second);
        assert_eq!(registry.stream_count(), 0, "idle stream forgotten");
    }

    #[test]
    fn stream_with_a_waiting_player_is_kept_without_a_publisher() {
        let registry = Registry::new(DEFAULT_GOP_CACHE_BYTES);
        let stream = registry.stream_for_play(&key("w"));
        let (_control_tx, control_rx) = crossbeam_channel::bounded(1);
        let (handle, _input) = super::super::player::player_channel(7, Default::default(), control_rx);
        stream.add_player(handle);
        let ticket = registry.publish(&key("w"), 1, PublishConflict::Takeover).unwrap();
        assert!(Arc::ptr_eq(&ticket.stream, &stream));
        registry.unpublish(&ticket);
        assert_eq!(registry.stream_count(), 1, "player still waits");
        registry.stop_play(&stream, 7);
        assert_eq!(registry.stream_count(), 0);
    }
}
