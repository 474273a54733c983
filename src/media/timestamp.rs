//! RTMP timestamps: 32-bit milliseconds that wrap around (every ~49.7 days, or at once when
//! an encoder starts near the top). The one place for the wrap-aware arithmetic every
//! consumer needs (serial number arithmetic, RFC 1982: of two timestamps, the later is the
//! one less than half the circle ahead): the signed step between two timestamps, which of two
//! is later, and the time since a stream's first frame.

/// The signed step from `from` to `to`, the shorter way round the 32-bit circle.
pub fn delta(from: u32, to: u32) -> i32 {
    to.wrapping_sub(from) as i32
}

/// Whether `timestamp` is `reference` or later (less than half the circle ahead of it).
pub fn is_at_or_after(timestamp: u32, reference: u32) -> bool {
    delta(reference, timestamp) >= 0
}

/// Milliseconds from `base` to `timestamp`; 0 when `timestamp` is before `base`.
pub fn since(base: u32, timestamp: u32) -> u32 {
    u32::try_from(delta(base, timestamp)).unwrap_or(0)
}

/// A stream's timestamps counted from its first frame: the first timestamp mapped is 0, the
/// rest keep their spacing across wrap-around, and one before the first is 0 (a player's or
/// a push's outgoing clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinceFirst {
    base: Option<u32>,
}

impl SinceFirst {
    pub fn new() -> Self {
        SinceFirst::default()
    }

    /// A clock whose 0 is `base` already.
    pub fn from_base(base: u32) -> Self {
        SinceFirst { base: Some(base) }
    }

    /// Whether a first timestamp was mapped.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// The first timestamp mapped, if any.
    pub fn base(&self) -> Option<u32> {
        self.base
    }

    /// Maps `timestamp`, making it the base if it is the first.
    pub fn map(&mut self, timestamp: u32) -> u32 {
        since(*self.base.get_or_insert(timestamp), timestamp)
    }

    /// What `map` would return, without making `timestamp` the base (0 before any).
    pub fn peek(&self, timestamp: u32) -> u32 {
        self.base.map_or(0, |base| since(base, timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_order_go_the_short_way_round_the_wrap() {
        assert_eq!(delta(100, 140), 40);
        assert_eq!(delta(140, 100), -40);
        assert_eq!(delta(u32::MAX - 20, 19), 40, "across the wrap");
        assert_eq!(delta(19, u32::MAX - 20), -40);
        assert!(is_at_or_after(19, u32::MAX - 20));
        assert!(is_at_or_after(7, 7));
        assert!(!is_at_or_after(u32::MAX - 20, 19));
        assert!(
            !is_at_or_after(0x8000_0000, 0),
            "half the circle ahead counts as behind"
        );
        assert!(is_at_or_after(0x7FFF_FFFF, 0));
    }

    #[test]
    fn time_since_a_base_is_zero_before_it() {
        assert_eq!(since(5000, 5066), 66);
        assert_eq!(since(5000, 4990), 0);
        assert_eq!(since(u32::MAX - 9, 30), 40);
        assert_eq!(since(0, i32::MAX as u32), i32::MAX as u32);
        assert_eq!(since(0, 1 << 31), 0);
    }

    #[test]
    fn since_first_counts_from_the_first_timestamp_mapped() {
        let mut clock = SinceFirst::new();
        assert!(!clock.started());
        assert_eq!(clock.peek(5000), 0);
        assert_eq!(clock.map(5000), 0);
        assert_eq!(clock.base(), Some(5000));
        assert_eq!(clock.map(4990), 0);
        assert_eq!(clock.map(5040), 40);
        assert_eq!(clock.peek(6000), 1000);
    }
}
