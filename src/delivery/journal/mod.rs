//! The message journal: every delivered message, newest kept, searchable,
//! with long-poll.
//!
//! Without `--provider`, `serve` delivers straight into a journal (no
//! network hop) and test mode serves it at `GET /_admin/messages` in the
//! same shape as the mock provider's journal. The journal is bounded (the
//! newest 100,000 messages by default), so memory stays flat under load.
//!
//! Every inbox-reading client and load run leans on it, so its cost must
//! not grow with its size (DESIGN.md §4): messages are indexed per
//! recipient and per channel (`index`), a mark is the newest id (O(1)),
//! and a query by recipient after a mark costs O(its matches). Long-poll
//! readers wait per recipient: a message wakes only the readers waiting
//! for its recipient, and those waiting for any message — never every
//! reader, who would each look again for nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use foldhash::fast::RandomState;
use hashbrown::HashMap;
use tokio::sync::Notify;

use crate::delivery::{Channel, Delivery, DeliveryError, Message};

mod index;
mod wire;
use crate::engine::clock::Clock;
use index::Kept;
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

/// The readers waiting for one recipient's messages.
struct Readers {
    arrived: Arc<Notify>,
    count: usize,
}

struct Inner {
    kept: Kept,
    /// Readers inside [`Journal::wait`] for one recipient, by recipient;
    /// a recipient nobody waits for has no key. Counted under the lock, so
    /// a writer that finds no key can skip the wake-up without losing one.
    waiting: HashMap<Arc<str>, Readers, RandomState>,
    /// Readers waiting for any recipient (a filter without `to`).
    waiting_any: usize,
    /// Queries answered, for tests that count wasted wake-ups.
    lookups: u64,
}

/// A bounded, searchable record of delivered messages.
pub struct Journal {
    /// A std mutex: the critical sections are a push or an indexed
    /// lookup, never an await, so a tokio mutex would only add cost.
    inner: Mutex<Inner>,
    /// Wakes the readers waiting for any recipient.
    arrived_any: Notify,
    clock: Arc<dyn Clock>,
}

impl Journal {
    /// A journal keeping the newest `capacity` messages.
    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                kept: Kept::new(capacity),
                waiting: HashMap::default(),
                waiting_any: 0,
                lookups: 0,
            }),
            arrived_any: Notify::new(),
            clock,
        }
    }

    /// A journal stamping messages with the wall clock (the mock
    /// provider's: its time is never moved).
    pub fn on_wall_clock(capacity: usize) -> Journal {
        Journal::new(capacity, Arc::new(crate::engine::clock::SystemClock))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the indexes whole before anything that can
        // panic (allocation aside), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a message and wakes the readers waiting for its recipient
    /// (and those waiting for any); returns its id.
    pub fn record(&self, message: Message) -> u64 {
        let received_at_ms = self.clock.now_ms();
        let (id, wake, wake_any) = {
            let mut inner = self.lock();
            let wake = inner
                .waiting
                .get(&*message.to)
                .map(|readers| readers.arrived.clone());
            let id = inner.kept.push(message, received_at_ms);
            (id, wake, inner.waiting_any > 0)
        };
        if let Some(arrived) = wake {
            arrived.notify_waiters();
        }
        if wake_any {
            self.arrived_any.notify_waiters();
        }
        id
    }

    /// Matching entries, oldest first.
    pub fn list(&self, filter: &Filter) -> Vec<Entry> {
        let mut inner = self.lock();
        inner.lookups += 1;
        inner.kept.matching(filter)
    }

    /// The newest id given so far (0 before any message): read only the
    /// messages after it with `Filter::after`. O(1).
    pub fn mark(&self) -> u64 {
        self.lock().kept.newest_id()
    }

    /// Matching entries; when there are none yet, waits up to `wait` for
    /// one to arrive. Returns an empty list on timeout.
    pub async fn wait(&self, filter: &Filter, wait: Duration) -> Vec<Entry> {
        let deadline = tokio::time::Instant::now() + wait;
        let waiting = Waiting::new(self, filter.to.as_deref());
        let arrived = waiting.arrived();
        loop {
            // Register interest before looking, so a message recorded
            // between the look and the await still wakes us.
            let notified = arrived.notified();
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
        self.lock().kept.clear();
    }

    /// How many messages are kept now.
    pub fn len(&self) -> usize {
        self.lock().kept.len()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queries answered so far (each look of a long-poll counts).
    pub fn lookups(&self) -> u64 {
        self.lock().lookups
    }
}

/// Counts a reader as waiting, for its recipient or for any, for as long
/// as it lives (also when its future is dropped mid-wait).
struct Waiting<'a> {
    journal: &'a Journal,
    /// `None`: waiting for any recipient.
    to: Option<(Arc<str>, Arc<Notify>)>,
}

impl<'a> Waiting<'a> {
    fn new(journal: &'a Journal, to: Option<&str>) -> Waiting<'a> {
        let mut inner = journal.lock();
        let to = match to {
            None => {
                inner.waiting_any += 1;
                None
            }
            Some(to) => {
                let to: Arc<str> = to.into();
                let readers = inner.waiting.entry(to.clone()).or_insert_with(|| Readers {
                    arrived: Arc::new(Notify::new()),
                    count: 0,
                });
                readers.count += 1;
                Some((to, readers.arrived.clone()))
            }
        };
        Waiting { journal, to }
    }

    fn arrived(&self) -> &Notify {
        match &self.to {
            Some((_, arrived)) => arrived,
            None => &self.journal.arrived_any,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut inner = self.journal.lock();
        match &self.to {
            None => inner.waiting_any -= 1,
            Some((to, _)) => {
                if let Some(readers) = inner.waiting.get_mut(&**to) {
                    readers.count -= 1;
                    if readers.count == 0 {
                        inner.waiting.remove(&**to);
                    }
                }
            }
        }
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

    /// Regression: every recorded message woke every long-polling reader,
    /// and each looked through the journal again for nothing.
    #[tokio::test]
    async fn a_message_wakes_only_the_readers_of_its_recipient() {
        let journal = Arc::new(journal(100));
        let reader = journal.clone();
        let waiter = tokio::spawn(async move {
            let filter = Filter {
                to: Some("+2".into()),
                ..Filter::default()
            };
            reader.wait(&filter, Duration::from_secs(30)).await
        });
        // The reader has looked once and sleeps.
        while journal.lookups() == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..50 {
            journal.record(message("+1", Channel::Sms));
            tokio::task::yield_now().await;
        }
        assert_eq!(journal.lookups(), 1, "woken by other recipients' messages");
        journal.record(message("+2", Channel::Sms));
        let found = waiter.await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(journal.lookups(), 2);
        assert!(journal.lock().waiting.is_empty(), "the reader left its key");
    }

    #[tokio::test]
    async fn a_reader_of_every_recipient_is_woken_by_any() {
        let journal = Arc::new(journal(100));
        let reader = journal.clone();
        let waiter = tokio::spawn(async move {
            let filter = Filter {
                channel: Some(Channel::Email),
                ..Filter::default()
            };
            reader.wait(&filter, Duration::from_secs(30)).await
        });
        while journal.lookups() == 0 {
            tokio::task::yield_now().await;
        }
        journal.record(message("+1", Channel::Sms));
        journal.record(message("a@b.c", Channel::Email));
        let found = waiter.await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[0].message.to, "a@b.c");
        assert_eq!(journal.lock().waiting_any, 0);
    }

    #[test]
    fn a_mark_is_the_newest_id() {
        let journal = journal(2);
        assert_eq!(journal.mark(), 0);
        for _ in 0..3 {
            journal.record(message("+1", Channel::Sms));
        }
        assert_eq!(journal.mark(), 3);
        journal.clear();
        assert_eq!(journal.mark(), 3);
        let after = Filter {
            to: Some("+1".into()),
            after: Some(journal.mark()),
            ..Filter::default()
        };
        assert!(journal.list(&after).is_empty());
        journal.record(message("+1", Channel::Sms));
        assert_eq!(journal.list(&after).len(), 1);
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
