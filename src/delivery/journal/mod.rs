//! The message journal: every delivered message, newest kept, searchable,
//! with long-poll.
//!
//! Without `--provider`, `serve` delivers straight into a journal (no
//! network hop) and test mode serves it at `GET /_admin/messages` in the
//! same shape as the mock provider's journal. The journal is bounded (the
//! newest 100,000 messages by default), so memory stays flat under load.
//! Waiters are woken by a `tokio::sync::Notify`, so a test never has to
//! sleep and poll.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::delivery::{Channel, Delivery, DeliveryError, Message};

mod wire;
use crate::engine::clock::Clock;
pub use wire::MAX_WAIT;
pub(crate) use wire::{percent_decode, JournalQuery};

/// How many messages the journal keeps by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// One journaled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Increasing from 1; `after=` filters on it.
    pub id: u64,
    pub message: Message,
    /// When it was journaled, by the engine's clock (ms since the epoch).
    pub received_at_ms: u64,
}

/// Which entries a reader wants. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub to: Option<String>,
    pub channel: Option<Channel>,
    /// Only entries with an id greater than this.
    pub after: Option<u64>,
}

impl Filter {
    fn matches(&self, entry: &Entry) -> bool {
        self.after.is_none_or(|after| entry.id > after)
            && self.channel.is_none_or(|c| entry.message.channel == c)
            && self.to.as_deref().is_none_or(|to| *entry.message.to == *to)
    }
}

struct Inner {
    entries: VecDeque<Entry>,
    next_id: u64,
    /// Readers inside [`Journal::wait`]; counted under the lock, so a
    /// writer that sees none can skip the wake-up without losing one.
    waiters: usize,
}

/// A bounded, searchable record of delivered messages.
pub struct Journal {
    /// A std mutex: the critical sections are a push or a scan, never an
    /// await, so a tokio mutex would only add cost.
    inner: Mutex<Inner>,
    arrived: Notify,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl Journal {
    /// A journal keeping the newest `capacity` messages.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                next_id: 1,
                waiters: 0,
            }),
            arrived: Notify::new(),
            capacity: capacity.max(1),
            clock,
        }
    }

    /// A journal stamping messages with the wall clock (the mock
    /// provider's: its time is never moved).
    pub fn on_wall_clock(capacity: usize) -> Journal {
        Journal::new(capacity, Arc::new(crate::engine::clock::SystemClock))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the deque half-updated
        // (push/pop are atomic), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a message and wakes every waiter; returns its id.
    pub fn record(&self, message: Message) -> u64 {
        let received_at_ms = self.clock.now_ms();
        let (id, wake) = {
            let mut inner = self.lock();
            let id = inner.next_id;
            inner.next_id += 1;
            if inner.entries.len() == self.capacity {
                inner.entries.pop_front();
            }
            inner.entries.push_back(Entry {
                id,
                message,
                received_at_ms,
            });
            (id, inner.waiters > 0)
        };
        if wake {
            self.arrived.notify_waiters();
        }
        id
    }

    /// Matching entries, oldest first.
    pub fn list(&self, filter: &Filter) -> Vec<Entry> {
        matching(&self.lock(), filter)
    }

    /// Matching entries; when there are none yet, waits up to `wait` for
    /// one to arrive. Returns an empty list on timeout.
    pub async fn wait(&self, filter: &Filter, wait: Duration) -> Vec<Entry> {
        let deadline = tokio::time::Instant::now() + wait;
        let _waiting = Waiting::new(self);
        loop {
            // Register interest before looking, so a message recorded
            // between the look and the await still wakes us.
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self.list(filter);
            if !found.is_empty() {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Forgets every message (ids keep increasing).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// How many messages are kept now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn matching(inner: &Inner, filter: &Filter) -> Vec<Entry> {
    // Ids increase along the deque, so `after` can skip by binary search.
    let start = match filter.after {
        Some(after) => inner.entries.partition_point(|e| e.id <= after),
        None => 0,
    };
    inner
        .entries
        .range(start..)
        .filter(|e| filter.matches(e))
        .cloned()
        .collect()
}

/// Counts a reader as waiting for as long as it lives (also when its
/// future is dropped mid-wait).
struct Waiting<'a>(&'a Journal);

impl<'a> Waiting<'a> {
    fn new(journal: &'a Journal) -> Waiting<'a> {
        journal.lock().waiters += 1;
        Waiting(journal)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.lock().waiters -= 1;
    }
}

#[async_trait]
impl Delivery for Journal {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        self.record(message.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::ManualClock;

    fn message(to: &str, channel: Channel) -> Message {
        Message {
            channel,
            to: to.into(),
            text: "code 123456".into(),
            from: None,
        }
    }

    fn journal(capacity: usize) -> Journal {
        Journal::new(capacity, Arc::new(ManualClock::default()))
    }

    #[test]
    fn filters_by_recipient_channel_and_id() {
        let journal = journal(10);
        journal.record(message("+1", Channel::Sms));
        journal.record(message("+2", Channel::Sms));
        journal.record(message("+1", Channel::Telegram));
        let ids = |f: Filter| journal.list(&f).iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(Filter::default()), vec![1, 2, 3]);
        assert_eq!(
            ids(Filter {
                to: Some("+1".into()),
                ..Filter::default()
            }),
            vec![1, 3]
        );
        assert_eq!(
            ids(Filter {
                channel: Some(Channel::Sms),
                ..Filter::default()
            }),
            vec![1, 2]
        );
        assert_eq!(
            ids(Filter {
                after: Some(1),
                ..Filter::default()
            }),
            vec![2, 3]
        );
    }

    #[test]
    fn keeps_only_the_newest_messages() {
        let journal = journal(3);
        for _ in 0..5 {
            journal.record(message("+1", Channel::Sms));
        }
        let ids: Vec<u64> = journal
            .list(&Filter::default())
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, vec![3, 4, 5]);
        journal.clear();
        assert!(journal.is_empty());
        assert_eq!(journal.record(message("+1", Channel::Sms)), 6);
    }

    #[tokio::test]
    async fn wait_returns_as_soon_as_a_matching_message_lands() {
        let journal = Arc::new(journal(10));
        let writer = journal.clone();
        let filter = Filter {
            to: Some("+2".into()),
            ..Filter::default()
        };
        let waiter = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let found = journal.wait(&filter, Duration::from_secs(30)).await;
            (found, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        writer.record(message("+1", Channel::Sms));
        writer.record(message("+2", Channel::Sms));
        let (found, waited) = waiter.await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[0].message.to, "+2");
        assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_gives_up_after_its_timeout() {
        let journal = journal(10);
        let found = journal
            .wait(&Filter::default(), Duration::from_millis(500))
            .await;
        assert!(found.is_empty());
    }
}
