//! The wait between the attempts of a command that hit a version conflict: exponential
//! back-off with full jitter, drawn from a small per-thread generator.

use std::cell::Cell;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

/// The wait before retry number `retry` (1 for the first): drawn at random between zero and
/// `base` doubled for each retry after the first, but at most `cap` (exponential back-off with
/// full jitter). The randomness matters more than the doubling: writers that collided and
/// waited the same time would collide again.
pub(crate) fn retry_pause(base: Duration, cap: Duration, retry: u32) -> Duration {
    let doublings = retry.saturating_sub(1).min(31);
    let bound = base.saturating_mul(1 << doublings).min(cap);
    let bound_nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    // Scales a random u64 onto 0..=bound without the bias of a modulo.
    let nanos = (u128::from(random_u64()) * (u128::from(bound_nanos) + 1)) >> 64;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(bound_nanos))
}

thread_local! {
    /// The state of this thread's jitter generator. Jitter needs no cryptographic quality,
    /// only different draws in different threads and processes, hence no dependency.
    static JITTER: Cell<u64> = Cell::new(jitter_seed());
}

/// A seed that no other thread or process shares: std draws each thread's hasher keys from
/// the operating system's randomness, and hashing the clock with them spreads even threads
/// started at the same instant. Never zero, which would keep xorshift at zero forever.
fn jitter_seed() -> u64 {
    std::hash::RandomState::new().hash_one(SystemTime::now()) | 1
}

/// The next number of this thread's xorshift64* generator.
fn random_u64() -> u64 {
    JITTER.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::retry_pause;

    const BASE: Duration = Duration::from_millis(2);
    const CAP: Duration = Duration::from_millis(50);

    #[test]
    fn retry_pause_doubles_its_bound_up_to_the_cap() {
        for (retry, bound) in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 50), (40, 50)] {
            let bound = Duration::from_millis(bound);
            let pauses: Vec<Duration> = (0..2000).map(|_| retry_pause(BASE, CAP, retry)).collect();
            assert!(pauses.iter().all(|pause| *pause <= bound), "retry {retry}");
            // Full jitter: the draws cover the range, not one point of it.
            assert!(
                pauses.iter().any(|pause| *pause < bound / 4),
                "retry {retry}"
            );
            assert!(
                pauses.iter().any(|pause| *pause > bound * 3 / 4),
                "retry {retry}"
            );
        }
    }

    #[test]
    fn zero_backoff_retries_at_once() {
        assert!((1..50).all(|retry| retry_pause(Duration::ZERO, CAP, retry).is_zero()));
    }

    #[test]
    fn threads_draw_different_pauses() {
        let draw = || -> Vec<Duration> { (0..8).map(|_| retry_pause(BASE, CAP, 6)).collect() };
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        assert_ne!(here, there);
    }
}
