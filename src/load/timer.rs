//! Waiting for a request's intended start to the tens of microseconds.
//!
//! tokio's timer wheel ticks in whole milliseconds, so a request meant to
//! start at 0.1 ms would leave at 1 ms and carry 0.9 ms of the generator's
//! own lateness into a latency measured from the intended start — more
//! than a whole loopback exchange. On Linux each lane of a worker owns a
//! `timerfd` (a kernel high-resolution timer that wakes the runtime
//! through epoll like any socket); elsewhere it falls back to tokio's
//! timer.
//!
//! Waking an idle core still takes time: tens of microseconds here, and
//! hundreds at the tail on a virtual machine. With a `spin` the timer
//! sleeps until that long before the deadline and then yields in a loop
//! until it (`--spin`): the wake-up leaves the measurement, at the price
//! of a busy core. A deadline nearer than [`NEAR`] is always waited for
//! that way: arming the timer and waking from it costs more than that on
//! a virtual machine (the timer's reprogramming is a trap to the host),
//! so at high rates the timer itself made the releasing core the
//! bottleneck — one pinned worker topped out near 50,000 arrivals/s with
//! its lanes' answers read late, where yielding keeps 100,000/s. This
//! module only waits; what to wait for is the schedule's.

use std::time::{Duration, Instant};

/// A deadline this near is waited for by yielding to the runtime (which
/// reads the lanes' answers meanwhile), never by arming the timer.
pub(crate) const NEAR: Duration = Duration::from_micros(50);

/// One lane's timer.
pub(crate) struct PreciseTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    spin: Duration,
}

impl PreciseTimer {
    /// A timer that busy-waits the last `spin` before each deadline; it
    /// falls back to tokio's timer when a timerfd cannot be made. Call on
    /// the runtime that will wait on it.
    pub(crate) fn new(spin: Duration) -> PreciseTimer {
        PreciseTimer {
            #[cfg(target_os = "linux")]
            fd: linux::timerfd().ok(),
            spin,
        }
    }

    /// Returns at `deadline` (at once if it has passed), never before it.
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left > NEAR.max(self.spin) {
            // `left > spin`, so this is after now.
            self.sleep(deadline - self.spin).await;
        }
        while Instant::now() < deadline {
            // Other lanes' answers are read in between.
            tokio::task::yield_now().await;
        }
    }

    async fn sleep(&mut self, deadline: Instant) {
        let now = Instant::now();
        if deadline <= now {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            if linux::wait(fd, deadline - now).await.is_ok() {
                return;
            }
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    pub(super) fn timerfd() -> io::Result<AsyncFd<OwnedFd>> {
        // SAFETY: plain syscall; the descriptor is owned right away.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns; the
        // `AsyncFd` owns it (and keeps it open) from here on.
        unsafe { AsyncFd::register_with_interest(OwnedFd::from_raw_fd(fd), Interest::READABLE) }
            .map_err(io::Error::from)
    }

    /// Arms the timer `after` from now and waits for it to fire.
    pub(super) async fn wait(fd: &AsyncFd<OwnedFd>, after: Duration) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                // A zero it_value disarms: wait at least 1 ns.
                tv_nsec: (after.subsec_nanos().max(u32::from(after.as_secs() == 0))) as _,
            },
        };
        // SAFETY: a valid timerfd and a valid itimerspec.
        let set = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if set < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
                continue;
            }
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn waits_until_the_deadline_and_not_for_a_past_one() {
        for spin in [Duration::ZERO, Duration::from_micros(200)] {
            let mut timer = PreciseTimer::new(spin);
            for micros in [300u64, 2_500, 0, 30, 49, 51] {
                let deadline = Instant::now() + Duration::from_micros(micros);
                timer.sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "{micros} µs");
            }
        }
        let mut timer = PreciseTimer::new(Duration::ZERO);
        let past = Instant::now() - Duration::from_millis(5);
        let before = Instant::now();
        timer.sleep_until(past).await;
        assert!(before.elapsed() < Duration::from_millis(5));
    }

    #[tokio::test]
    async fn a_near_wait_does_not_block_the_runtime() {
        // The near wait yields to the runtime rather than blocking it: a task
        // spawned beside it gets to run before the deadline passes. (A
        // preempted test thread can miss one try; a blocking wait misses
        // every one.)
        let mut ran_first = 0;
        for _ in 0..100 {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            let other = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
            let mut timer = PreciseTimer::new(Duration::ZERO);
            let deadline = Instant::now() + Duration::from_micros(45);
            timer.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
            ran_first += usize::from(done.load(Ordering::SeqCst));
            other.await.unwrap();
        }
        assert!(ran_first > 0, "the near wait never yielded");
    }
}
