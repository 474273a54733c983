//! The retry schedule of a failing push (pure): 1 s after the first failure, doubling up to
//! 30 s, and back to 1 s after a connection that published.

use std::time::Duration;

/// Wait after the first failure.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How long to wait after `failures` consecutive failures (1 or more; 0 is treated as 1).
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY_DELAY
        .checked_mul(1u32 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_and_stop_at_thirty() {
        let seconds: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 16, 30, 30, 30, 30]);
        assert_eq!(retry_delay(0), FIRST_RETRY_DELAY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY);
    }
}
