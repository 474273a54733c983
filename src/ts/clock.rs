//! The 90 kHz MPEG clock to the frame timeline (pure): 33-bit timestamps unwrapped across
//! their wrap (about 26.5 hours) and made relative to the first one seen, in milliseconds.

const WRAP: i64 = 1 << 33;
const HALF: i64 = 1 << 32;

/// Unwraps 33-bit timestamps of one program (audio and video share it).
#[derive(Debug, Default)]
pub struct Clock {
    /// The last unwrapped value and the first one (the timeline's zero).
    last: Option<i64>,
    base: i64,
}

impl Clock {
    /// The unwrapped 90 kHz value of `raw`, taken as the nearest to the last one seen.
    pub fn unwrap(&mut self, raw: u64) -> i64 {
        let raw = (raw as i64) & (WRAP - 1);
        let value = match self.last {
            None => {
                self.base = raw;
                raw
            }
            Some(last) => {
                let mut delta = (raw - last).rem_euclid(WRAP);
                if delta >= HALF {
                    delta -= WRAP;
                }
                last + delta
            }
        };
        self.last = Some(value);
        value
    }

    /// Milliseconds of an unwrapped value since the first timestamp (earlier ones are 0),
    /// on the 32-bit timeline of RTMP.
    pub fn ms(&self, unwrapped: i64) -> u32 {
        let ms = (unwrapped - self.base).max(0) / 90;
        (ms & 0xFFFF_FFFF) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_zero_and_counts_milliseconds() {
        let mut clock = Clock::default();
        let first = clock.unwrap(900_000);
        assert_eq!(clock.ms(first), 0);
        let later = clock.unwrap(900_000 + 90 * 40);
        assert_eq!(clock.ms(later), 40);
        let earlier = clock.unwrap(900_000 - 90 * 10);
        assert_eq!(clock.ms(earlier), 0);
    }

    #[test]
    fn unwraps_across_33_bits() {
        let mut clock = Clock::default();
        let start = (1u64 << 33) - 90 * 100;
        let first = clock.unwrap(start);
        let wrapped = clock.unwrap(90 * 50);
        assert_eq!(clock.ms(first), 0);
        assert_eq!(clock.ms(wrapped), 150);
        // A slightly late timestamp from before the wrap is still before it.
        let late = clock.unwrap(start + 90);
        assert_eq!(clock.ms(late), 1);
    }
}
