//! Time, read only through the [`Clock`] trait.
//!
//! Time is milliseconds since the Unix epoch from a `Clock`, never the
//! system time directly, so tests and the `--test-mode` server can move it
//! instead of sleeping. Expiry, window and retry-after decisions are the
//! store's: each store owns its time source (the memory store a `Clock`
//! from here, the Redis store the Redis server's `TIME`; see
//! [`crate::store`]), and [`crate::store::Store::clock`] hands the rest of
//! the process a `Clock` that reads the same time. This module must not
//! know about stores or HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now" in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Moves the clock forward by `ms` and returns the new time; `None`
    /// for a clock that cannot be moved from here (the wall clock).
    fn advance_ms(&self, ms: u64) -> Option<u64> {
        let _ = ms;
        None
    }
}

/// The latest time a movable clock reads: 9999-12-31T23:59:59.999Z, the
/// last instant an RFC 3339 date can name. A test-mode clock moved there
/// stays there, however much real time passes.
pub const LATEST_MS: u64 = 253_402_300_799_999;

fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        system_now_ms()
    }
}

/// A frozen clock that moves only when told to: the clock of unit tests,
/// property tests and benchmarks.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock {
            now_ms: AtomicU64::new(start_ms),
        }
    }
}

impl Default for ManualClock {
    /// 2023-11-14T22:13:20Z: a fixed, recognisable start.
    fn default() -> Self {
        ManualClock::new(1_700_000_000_000)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn advance_ms(&self, ms: u64) -> Option<u64> {
        Some(self.now_ms.fetch_add(ms, Ordering::SeqCst) + ms)
    }
}

/// The wall clock plus an offset that only grows: the clock of
/// `serve --test-mode`. Time flows as usual, and `POST /_admin/clock`
/// jumps it forward so scenarios can cross a ttl or a window without
/// sleeping. Advancing never moves it backwards, so sliding logs stay
/// ordered; only [`ShiftedClock::reset`] drops the offset, for tests that
/// start over.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_ms: AtomicU64,
}

impl ShiftedClock {
    /// A clock that reads the wall clock until it is advanced.
    pub fn new() -> Self {
        ShiftedClock::default()
    }

    /// Drops the accumulated offset (test-mode reset).
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    /// At most [`LATEST_MS`].
    fn now_ms(&self) -> u64 {
        system_now_ms()
            .saturating_add(self.offset_ms.load(Ordering::SeqCst))
            .min(LATEST_MS)
    }

    /// Jumps forward by `ms` (reading at most [`LATEST_MS`]).
    fn advance_ms(&self, ms: u64) -> Option<u64> {
        let offset = self
            .offset_ms
            .fetch_add(ms, Ordering::SeqCst)
            .saturating_add(ms);
        Some(system_now_ms().saturating_add(offset).min(LATEST_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_a_shifted_clock_stops_at_the_end_of_year_9999() {
        let clock = ShiftedClock::new();
        let to_the_end = LATEST_MS - clock.now_ms() - 5;
        assert!(clock.advance_ms(to_the_end).unwrap() < LATEST_MS);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(clock.now_ms(), LATEST_MS);
        assert_eq!(clock.advance_ms(1_000), Some(LATEST_MS));
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.advance_ms(250), Some(1_250));
        assert_eq!(SystemClock.advance_ms(250), None);
        assert_eq!(clock.now_ms(), 1_250);
    }

    #[test]
    fn shifted_clock_adds_its_offset_to_the_wall_clock() {
        let clock = ShiftedClock::new();
        let before = SystemClock.now_ms();
        let jumped = clock.advance_ms(3_600_000).unwrap();
        assert!(jumped >= before + 3_600_000);
        assert!(clock.now_ms() >= jumped);
        clock.reset();
        assert!(clock.now_ms() < before + 3_600_000);
    }
}
