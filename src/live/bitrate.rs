//! A stream's recent bitrate for the API and /metrics: bytes counted into fixed time slots,
//! the rate taken over the last [`BITRATE_WINDOW`]. Time is an argument (callers pass
//! `Instant::now()`), so it never reads a clock itself and tests are exact.

use std::time::{Duration, Instant};

/// The bitrate is measured over this much recent time.
pub const BITRATE_WINDOW: Duration = Duration::from_secs(5);
/// Slots the window is cut into (the window slides by one slot at a time).
const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which slot since `origin` this holds (slots are reused round-robin).
    index: u64,
    bytes: u64,
}

#[derive(Debug, Clone)]
pub struct BitrateWindow {
    origin: Instant,
    slots: [Slot; SLOTS],
}

impl BitrateWindow {
    pub fn new(now: Instant) -> Self {
        BitrateWindow {
            origin: now,
            slots: [Slot::default(); SLOTS],
        }
    }

    fn slot_len() -> Duration {
        BITRATE_WINDOW / SLOTS as u32
    }

    fn slot_index(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        u64::try_from(since.as_nanos() / Self::slot_len().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Counts `bytes` received at `now`.
    pub fn add(&mut self, now: Instant, bytes: u64) {
        let index = self.slot_index(now);
        let Some(slot) = self.slots.get_mut((index % SLOTS as u64) as usize) else {
            return;
        };
        if slot.index != index {
            *slot = Slot { index, bytes: 0 };
        }
        slot.bytes = slot.bytes.saturating_add(bytes);
    }

    /// Bits per second over the last window (or since `new` when that is shorter).
    pub fn bits_per_second(&self, now: Instant) -> u64 {
        let current = self.slot_index(now);
        let oldest = current.saturating_sub(SLOTS as u64 - 1);
        let bytes: u64 = self
            .slots
            .iter()
            .filter(|s| (oldest..=current).contains(&s.index))
            .map(|s| s.bytes)
            .sum();
        // The time those slots cover: from the oldest slot's start (or the origin) to now.
        let window_start = Self::slot_len().saturating_mul(u32::try_from(oldest).unwrap_or(u32::MAX));
        let covered = now.saturating_duration_since(self.origin).saturating_sub(window_start);
        if covered.is_zero() {
            return 0;
        }
        (u128::from(bytes) * 8 * 1_000_000 / covered.as_micros().max(1))
            .try_into()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn steady_rate_is_measured_from_the_start_and_over_the_window() {
        let start = Instant::now();
        let mut window = BitrateWindow::new(start);
        assert_eq!(window.bits_per_second(start), 0);
        // 12_500 bytes every 100 ms = 1 Mbit/s, for 20 s.
        for n in 1..=200u32 {
            window.add(start + MS * (n * 100), 12_500);
            if n == 10 {
                assert_eq!(window.bits_per_second(start + MS * 1000), 1_000_000);
            }
        }
        // The window's edges are slot bounds, so a sample on an edge may count: within 3%.
        let rate = window.bits_per_second(start + MS * 20_000);
        assert!((970_000..=1_030_000).contains(&rate), "{rate}");
    }

    #[test]
    fn rate_falls_to_zero_when_bytes_stop_and_follows_a_change() {
        let start = Instant::now();
        let mut window = BitrateWindow::new(start);
        for n in 1..=100u32 {
            window.add(start + MS * (n * 100), 25_000);
        }
        let at = |ms: u32| start + MS * ms;
        let rate = window.bits_per_second(at(10_000));
        assert!((1_940_000..=2_060_000).contains(&rate), "{rate}");
        assert_eq!(window.bits_per_second(at(10_000) + BITRATE_WINDOW + MS * 500), 0);
        // Then half the rate: after a full window only the new rate is left.
        for n in 101..=200u32 {
            window.add(at(n * 100), 12_500);
        }
        let rate = window.bits_per_second(at(20_000));
        assert!((970_000..=1_030_000).contains(&rate), "{rate}");
    }

    #[test]
    fn a_clock_before_the_origin_counts_as_the_origin() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut window = BitrateWindow::new(start);
        window.add(start - Duration::from_millis(500), 1000);
        assert_eq!(window.bits_per_second(start - Duration::from_millis(500)), 0);
        assert_eq!(window.bits_per_second(start + Duration::from_secs(1)), 8000);
    }
}
