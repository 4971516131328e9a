//! Time with the Redis store: decisions are made at the Redis server's
//! time, and a call that comes too late changes nothing.
//!
//! # Now
//!
//! Every script reads `TIME` itself. What it makes of it is the store's
//! [`RedisClock`]: the server's time (production), that time plus an offset
//! kept in Redis at `NS:clock` (`serve --test-mode`: `POST /_admin/clock`
//! on any replica moves every replica), or the kept value alone (tests that
//! need exact times). On a single Redis the script reads `NS:clock` itself;
//! on a Cluster, where it lives in another slot, the engine reads it just
//! before the call and passes it in (one more round trip, test mode only).
//!
//! # Deadlines
//!
//! A call the engine has given up on (`store_unavailable`) must not take
//! effect when a stalled Redis resumes. So every script first compares
//! `TIME` with a deadline it is handed and, at or past it, returns without
//! touching anything. The deadline is on the Redis server's clock, and is
//! derived without trusting the engine host's wall clock at all:
//!
//! - an [`Anchor`] is one `TIME` reading `r` with the local monotonic
//!   instant `a` its reply arrived at. The reading was taken before `a`, so
//!   at any later local instant `x` Redis's clock reads at least
//!   `r + (x − a)·(1 − drift)` (drift: 1000 ppm, well beyond what NTP lets
//!   a clock run off);
//! - a call that starts at local `s` must be taken up by Redis before
//!   `t = s + timeout`, and the engine waits for its answer until
//!   `t + grace` (grace = timeout/4). Its deadline is
//!   `D = r + (t − a)·(1 − drift)`: a script that sees `TIME < D` is
//!   running before local instant `t` — while the engine still waits —
//!   and its reply has at least `grace` to come back.
//!
//! The guarantee: an operation answered `store_unavailable` changed
//! nothing, provided (1) a reply that left Redis in time arrives within
//! the grace (125 ms with the default 500 ms timeout, so a stalled Redis
//! is answered after 625 ms), and (2) Redis's clock did not step
//! backwards since the anchor was read — the store reads it again every
//! 250 ms in the background, and NTP slews rather than steps offsets
//! under 128 ms. On a Cluster the anchor comes from one node and the
//! scripts run on others: (2) then also needs the nodes' clocks to agree
//! within the grace. Host clock skew between engine and Redis plays no
//! part.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::clock::Clock;

/// Where the Redis store's "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedisClock {
    /// The Redis server's `TIME`.
    #[default]
    Server,
    /// `TIME` plus an offset kept in Redis, grown by
    /// [`Store::advance_clock`](crate::store::Store::advance_clock): the
    /// clock of `serve --test-mode`, shared by every engine on the
    /// namespace.
    Shifted,
    /// A time kept in Redis that stands still until advanced, starting at
    /// `start_ms`: the clock of tests and benchmarks that assert exact
    /// times.
    Manual { start_ms: u64 },
}

impl RedisClock {
    /// Whether `TIME` is part of now (else the kept value alone is).
    pub(crate) fn follows_server(self) -> bool {
        !matches!(self, RedisClock::Manual { .. })
    }

    /// Whether a value is kept in Redis (and can be advanced).
    pub(crate) fn is_kept(self) -> bool {
        !matches!(self, RedisClock::Server)
    }

    /// The kept value while Redis holds none.
    pub(crate) fn initial_offset_ms(self) -> u64 {
        match self {
            RedisClock::Manual { start_ms } => start_ms,
            RedisClock::Server | RedisClock::Shifted => 0,
        }
    }
}

/// How far two clocks may run apart, in parts per million.
const DRIFT_PPM: u128 = 1_000;

/// One reading of the Redis server's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anchor {
    /// `TIME`, in microseconds since the Unix epoch.
    pub(crate) redis_us: u64,
    /// When its reply arrived (so the reading is no later than this).
    pub(crate) at: Instant,
    /// The kept clock value read with it.
    pub(crate) offset_ms: u64,
}

impl Anchor {
    /// The Redis time (µs) before which a script is sure to start before
    /// local instant `by`; see the module docs.
    pub(crate) fn deadline_us(&self, by: Instant) -> u64 {
        let ahead = by.saturating_duration_since(self.at).as_micros();
        let ahead = ahead - ahead * DRIFT_PPM / 1_000_000;
        self.redis_us
            .saturating_add(u64::try_from(ahead).unwrap_or(u64::MAX))
    }

    /// How old the reading is.
    pub(crate) fn age(&self) -> Duration {
        self.at.elapsed()
    }
}

/// The store's time as this process last read it: the [`Clock`] for what
/// is not a store decision.
#[derive(Debug)]
pub(crate) struct StoreTime {
    clock: RedisClock,
    read: Mutex<Reading>,
}

#[derive(Debug, Default)]
struct Reading {
    anchor: Option<Anchor>,
    /// How often this engine has moved the clock: a reading begun before a
    /// move must not bring back the kept value from before it.
    moves: u64,
}

impl StoreTime {
    pub(crate) fn new(clock: RedisClock) -> StoreTime {
        StoreTime {
            clock,
            read: Mutex::new(Reading::default()),
        }
    }

    pub(crate) fn clock(&self) -> RedisClock {
        self.clock
    }

    fn reading(&self) -> std::sync::MutexGuard<'_, Reading> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn anchor(&self) -> Option<Anchor> {
        self.reading().anchor
    }

    /// A mark to pass to [`StoreTime::set_anchor`] for a reading begun now.
    pub(crate) fn mark(&self) -> u64 {
        self.reading().moves
    }

    /// Takes a reading begun at `mark`; if this engine moved the clock
    /// since, the kept value it moved to stays.
    pub(crate) fn set_anchor(&self, mut anchor: Anchor, mark: u64) -> Anchor {
        let mut reading = self.reading();
        if let (Some(old), true) = (reading.anchor, reading.moves != mark) {
            anchor.offset_ms = old.offset_ms;
        }
        reading.anchor = Some(anchor);
        anchor
    }

    /// Takes the kept value this engine just moved the clock to.
    pub(crate) fn set_offset(&self, offset_ms: u64) {
        let mut reading = self.reading();
        reading.moves += 1;
        if let Some(anchor) = reading.anchor.as_mut() {
            anchor.offset_ms = offset_ms;
        }
    }

    /// Now by `clock`, from a server time and a kept value.
    pub(crate) fn compose(clock: RedisClock, server_ms: u64, offset_ms: u64) -> u64 {
        let now = if clock.follows_server() {
            server_ms.saturating_add(offset_ms)
        } else {
            offset_ms
        };
        now.min(crate::engine::clock::LATEST_MS)
    }
}

impl Clock for StoreTime {
    /// The last reading carried forward by the monotonic clock; before the
    /// first reading, this host's wall clock.
    fn now_ms(&self) -> u64 {
        match self.anchor() {
            Some(anchor) => {
                let server_ms = anchor.redis_us / 1000 + anchor.age().as_millis() as u64;
                StoreTime::compose(self.clock, server_ms, anchor.offset_ms)
            }
            None => {
                let wall_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                StoreTime::compose(self.clock, wall_ms, self.clock.initial_offset_ms())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_the_store_clock_stops_at_the_end_of_year_9999() {
        use crate::engine::clock::LATEST_MS;
        assert_eq!(
            StoreTime::compose(RedisClock::Shifted, LATEST_MS - 5, 1_000),
            LATEST_MS
        );
        assert_eq!(
            StoreTime::compose(RedisClock::Server, u64::MAX, 1),
            LATEST_MS
        );
        assert_eq!(StoreTime::compose(RedisClock::Shifted, 1_000, 5), 1_005);
    }

    #[test]
    fn a_deadline_is_the_reading_plus_the_local_wait_less_drift() {
        let at = Instant::now();
        let anchor = Anchor {
            redis_us: 5_000_000,
            at,
            offset_ms: 0,
        };
        // 10 s ahead: 10,000,000 µs less 1000 ppm.
        let deadline = anchor.deadline_us(at + Duration::from_secs(10));
        assert_eq!(deadline, 5_000_000 + 10_000_000 - 10_000);
        // An instant before the reading arrived cannot be met.
        assert_eq!(anchor.deadline_us(at - Duration::from_millis(1)), 5_000_000);
    }

    #[test]
    fn now_follows_the_clock_kind() {
        assert_eq!(StoreTime::compose(RedisClock::Server, 1_000, 0), 1_000);
        assert_eq!(StoreTime::compose(RedisClock::Shifted, 1_000, 60), 1_060);
        let manual = RedisClock::Manual { start_ms: 7 };
        assert_eq!(StoreTime::compose(manual, 1_000, 60), 60);
        assert_eq!(manual.initial_offset_ms(), 7);
        let time = StoreTime::new(manual);
        assert_eq!(time.now_ms(), 7);
        let reading = |offset_ms| Anchor {
            redis_us: 1_000_000,
            at: Instant::now(),
            offset_ms,
        };
        time.set_anchor(reading(99), time.mark());
        assert_eq!(time.now_ms(), 99);
        // A reading that began before this engine moved the clock keeps
        // the moved value; the next one takes what Redis holds.
        let mark = time.mark();
        time.set_offset(150);
        time.set_anchor(reading(99), mark);
        assert_eq!(time.now_ms(), 150);
        time.set_anchor(reading(160), time.mark());
        assert_eq!(time.now_ms(), 160);
    }
}
