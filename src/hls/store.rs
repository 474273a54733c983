//! One stream's HLS media in memory: the init segment, the last segments (each a list of
//! parts), bounded in bytes, and a condition variable so blocking playlist reloads and
//! preload-hinted part requests wait for a part (with a deadline). Nothing goes to disk.
//!
//! Bounds: the playlist lists the last `window` finished segments; two more are kept for
//! players a little behind, older ones are dropped. Past `max_bytes`, the oldest segments are
//! dropped first; a segment in progress that alone passes the bound takes no more parts
//! (they are dropped until the next segment starts).

use super::playlist::{PartInfo, SegmentInfo};
use super::segmenter::{Output, Part};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Finished segments kept beyond the playlist's window, for players a little behind.
pub const EXTRA_SEGMENTS: usize = 2;

#[derive(Debug)]
struct Segment {
    msn: u64,
    parts: Vec<(Arc<Vec<u8>>, u64, bool)>,
    complete: bool,
    /// Parts were dropped for the byte bound: it takes no more.
    full: bool,
    /// Its init segment's number.
    init: u64,
    /// It follows a new init segment (`EXT-X-DISCONTINUITY`).
    discontinuity: bool,
    /// Discontinuities up to and including it.
    discontinuity_sequence: u64,
}

impl Segment {
    fn bytes(&self) -> usize {
        self.parts.iter().map(|(data, _, _)| data.len()).sum()
    }

    fn duration_ms(&self) -> u64 {
        self.parts.iter().map(|(_, d, _)| d).sum()
    }
}

/// The media of one stream (pure state; `Store` guards it).
#[derive(Debug)]
pub struct Media {
    pub window: usize,
    pub max_bytes: usize,
    /// Init segments by number, the ones kept segments use and the latest.
    inits: VecDeque<(u64, Arc<Vec<u8>>)>,
    next_init: u64,
    discontinuities: u64,
    segments: VecDeque<Segment>,
    next_msn: u64,
    bytes: usize,
    ended: bool,
    /// The longest part and finished segment so far (ms): the playlist's targets never
    /// go down.
    pub longest_part_ms: u64,
    pub longest_segment_ms: u64,
}

/// What a request for a part or a playlist position waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub msn: u64,
    /// None: the whole segment.
    pub part: Option<u64>,
}

impl Media {
    pub fn new(window: usize, max_bytes: usize) -> Media {
        Media {
            window: window.max(1),
            max_bytes,
            inits: VecDeque::new(),
            next_init: 0,
            discontinuities: 0,
            segments: VecDeque::new(),
            next_msn: 0,
            bytes: 0,
            ended: false,
            longest_part_ms: 0,
            longest_segment_ms: 0,
        }
    }

    /// Takes the segmenter's output.
    pub fn apply(&mut self, output: Output) {
        match output {
            Output::Init(init) => {
                self.inits.push_back((self.next_init, Arc::new(init)));
                self.next_init += 1;
            }
            Output::Part(part) => self.add_part(part),
        }
    }

    fn add_part(&mut self, part: Part) {
        let Part {
            data,
            duration_ms,
            independent,
            new_segment,
            discontinuity,
        } = part;
        if new_segment || self.segments.back().is_none_or(|s| s.complete) {
            self.complete_open();
            self.discontinuities += u64::from(discontinuity);
            self.segments.push_back(Segment {
                msn: self.next_msn,
                parts: Vec::new(),
                complete: false,
                full: false,
                init: self.next_init.saturating_sub(1),
                discontinuity,
                discontinuity_sequence: self.discontinuities,
            });
            self.next_msn += 1;
        }
        if !new_segment && self.segments.back().is_some_and(|s| s.full) {
            return;
        }
        self.longest_part_ms = self.longest_part_ms.max(duration_ms);
        self.bytes += data.len();
        if let Some(open) = self.segments.back_mut() {
            open.parts.push((Arc::new(data), duration_ms, independent));
        }
        self.trim();
    }

    /// Drops segments past the window and, past the byte bound, the oldest ones (and the
    /// init segments no kept segment uses, but the latest).
    fn trim(&mut self) {
        let oldest_init = self.segments.front().map_or(u64::MAX, |s| s.init);
        while self.inits.len() > 1 && self.inits.front().is_some_and(|(n, _)| *n < oldest_init) {
            self.inits.pop_front();
        }
        let keep = self.window + EXTRA_SEGMENTS + 1;
        while self.segments.len() > keep || (self.bytes > self.max_bytes && self.segments.len() > 1) {
            if let Some(old) = self.segments.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.bytes());
            }
        }
        if self.bytes > self.max_bytes {
            if let Some(open) = self.segments.back_mut() {
                open.full = true;
                if let Some((data, _, _)) = open.parts.pop() {
                    self.bytes = self.bytes.saturating_sub(data.len());
                }
            }
        }
    }

    /// The stream ended: the open segment is finished and the playlist gets its end tag.
    pub fn end(&mut self) {
        self.complete_open();
        self.ended = true;
    }

    fn complete_open(&mut self) {
        if let Some(open) = self.segments.back_mut().filter(|s| !s.complete) {
            open.complete = true;
            self.longest_segment_ms = self.longest_segment_ms.max(open.duration_ms());
        }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Init segment number `n`.
    pub fn init(&self, n: u64) -> Option<Arc<Vec<u8>>> {
        self.inits
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, init)| Arc::clone(init))
    }

    /// The latest init segment's number.
    pub fn latest_init(&self) -> u64 {
        self.next_init.saturating_sub(1)
    }

    fn segment(&self, msn: u64) -> Option<&Segment> {
        let first = self.segments.front()?.msn;
        self.segments.get(usize::try_from(msn.checked_sub(first)?).ok()?)
    }

    /// A finished segment's bytes (its parts one after the other).
    pub fn segment_bytes(&self, msn: u64) -> Option<Vec<u8>> {
        let segment = self.segment(msn).filter(|s| s.complete)?;
        Some(
            segment
                .parts
                .iter()
                .flat_map(|(data, _, _)| data.iter().copied())
                .collect(),
        )
    }

    pub fn part_bytes(&self, msn: u64, part: u64) -> Option<Arc<Vec<u8>>> {
        let segment = self.segment(msn)?;
        let (data, _, _) = segment.parts.get(usize::try_from(part).ok()?)?;
        Some(Arc::clone(data))
    }

    /// Whether a request for `at` can be answered: it exists, or a later part does, or the
    /// stream ended.
    pub fn has(&self, at: Position) -> bool {
        if self.ended {
            return true;
        }
        let Some(last) = self.segments.back() else { return false };
        match at.part {
            None => at.msn < last.msn || (at.msn == last.msn && last.complete),
            Some(part) => at.msn < last.msn || (at.msn == last.msn && (last.parts.len() as u64) > part),
        }
    }

    /// The next segment number a part will be added to, and that part's index.
    pub fn next_part(&self) -> Position {
        match self.segments.back() {
            Some(open) if !open.complete => Position {
                msn: open.msn,
                part: Some(open.parts.len() as u64),
            },
            _ => Position {
                msn: self.next_msn,
                part: Some(0),
            },
        }
    }

    /// The segments the playlist lists (the last `window` finished ones and the open one).
    pub fn listed(&self) -> Vec<SegmentInfo> {
        let finished = self.segments.iter().filter(|s| s.complete).count();
        let skip = finished.saturating_sub(self.window);
        self.segments
            .iter()
            .skip(skip)
            .map(|s| SegmentInfo {
                msn: s.msn,
                duration_ms: s.duration_ms(),
                complete: s.complete,
                init: s.init,
                discontinuity: s.discontinuity,
                discontinuity_sequence: s.discontinuity_sequence,
                parts: s
                    .parts
                    .iter()
                    .map(|(_, duration_ms, independent)| PartInfo {
                        duration_ms: *duration_ms,
                        independent: *independent,
                    })
                    .collect(),
            })
            .collect()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A stream's media behind a lock, with waiting.
#[derive(Debug)]
pub struct Store {
    media: Mutex<Media>,
    changed: Condvar,
}

impl Store {
    pub fn new(window: usize, max_bytes: usize) -> Store {
        Store {
            media: Mutex::new(Media::new(window, max_bytes)),
            changed: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Media> {
        self.media.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies outputs and wakes the waiting requests.
    pub fn apply(&self, outputs: impl IntoIterator<Item = Output>) {
        let mut media = self.lock();
        for output in outputs {
            media.apply(output);
        }
        drop(media);
        self.changed.notify_all();
    }

    pub fn end(&self) {
        self.lock().end();
        self.changed.notify_all();
    }

    /// Waits until `at` can be answered or `timeout` passes; the lock, and whether it can.
    pub fn wait_for(&self, at: Position, timeout: Duration) -> (MutexGuard<'_, Media>, bool) {
        let deadline = Instant::now() + timeout;
        let mut media = self.lock();
        loop {
            if media.has(at) {
                return (media, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return (media, false);
            }
            media = self
                .changed
                .wait_timeout(media, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(size: usize, duration_ms: u64, new_segment: bool) -> Output {
        Output::Part(Part {
            data: vec![7; size],
            duration_ms,
            independent: new_segment,
            new_segment,
            discontinuity: false,
        })
    }

    #[test]
    fn segments_gather_parts_and_the_window_slides() {
        let mut media = Media::new(2, 1 << 20);
        media.apply(Output::Init(vec![1, 2]));
        for msn in 0..6 {
            media.apply(part(10, 500, true));
            media.apply(part(10, 500, false));
            assert!(media.has(Position { msn, part: Some(1) }));
            assert!(!media.has(Position { msn, part: Some(2) }));
            assert!(!media.has(Position { msn, part: None }), "open segment");
        }
        let listed = media.listed();
        let numbers: Vec<u64> = listed.iter().map(|s| s.msn).collect();
        assert_eq!(numbers, [3, 4, 5], "two finished and the open one");
        assert_eq!(listed[0].duration_ms, 1000);
        assert_eq!(media.longest_segment_ms, 1000);
        assert!(!listed[2].complete);
        assert_eq!(media.segment_bytes(4).unwrap().len(), 20);
        assert!(media.segment_bytes(5).is_none(), "not finished");
        assert!(media.segment_bytes(0).is_none(), "dropped");
        assert!(media.segment_bytes(2).is_some(), "kept for players behind");
        assert_eq!(media.part_bytes(5, 1).unwrap().len(), 10);
        assert_eq!(media.next_part(), Position { msn: 5, part: Some(2) });
        assert_eq!(media.bytes(), 10 * 2 * (2 + EXTRA_SEGMENTS + 1));
        media.end();
        assert!(media.has(Position { msn: 9, part: Some(0) }));
        assert!(media.segment_bytes(5).is_some());
    }

    #[test]
    fn the_byte_bound_drops_the_oldest_segments_then_parts_of_a_huge_one() {
        let mut media = Media::new(6, 100);
        for _ in 0..4 {
            media.apply(part(30, 500, true));
        }
        assert!(media.bytes() <= 100);
        assert_eq!(media.listed().first().map(|s| s.msn), Some(1));
        media.apply(part(90, 500, true));
        media.apply(part(90, 500, false));
        assert!(media.bytes() <= 100, "{}", media.bytes());
        assert_eq!(media.listed().iter().map(|s| s.msn).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn a_new_init_segment_starts_a_discontinuous_segment_and_old_inits_go() {
        let mut media = Media::new(1, 1 << 20);
        media.apply(Output::Init(vec![1]));
        media.apply(part(10, 500, true));
        media.apply(Output::Init(vec![2]));
        media.apply(Output::Part(Part {
            data: vec![3; 10],
            duration_ms: 500,
            independent: true,
            new_segment: true,
            discontinuity: true,
        }));
        let listed = media.listed();
        let seen: Vec<(u64, bool, u64)> = listed
            .iter()
            .map(|s| (s.init, s.discontinuity, s.discontinuity_sequence))
            .collect();
        assert_eq!(seen, [(0, false, 0), (1, true, 1)]);
        assert_eq!(media.latest_init(), 1);
        assert_eq!(media.init(0).unwrap().as_slice(), [1]);
        for _ in 0..4 {
            media.apply(part(10, 500, true));
        }
        assert!(media.init(0).is_none(), "no kept segment uses it");
        assert_eq!(media.init(1).unwrap().as_slice(), [2]);
    }

    #[test]
    fn waiting_ends_when_the_part_arrives() {
        let store = Arc::new(Store::new(3, 1 << 20));
        store.apply([part(5, 500, true)]);
        let at = Position { msn: 0, part: Some(1) };
        let found = store.wait_for(at, Duration::from_millis(10)).1;
        assert!(!found);
        let writer = Arc::clone(&store);
        let thread = std::thread::spawn(move || writer.apply([part(5, 500, false)]));
        let (media, found) = store.wait_for(at, Duration::from_secs(30));
        assert!(found && media.part_bytes(0, 1).is_some());
        drop(media);
        thread.join().unwrap();
    }
}
