//! The journal's kept messages and their indexes, without locks or
//! waiting (`Journal` adds those around it).
//!
//! Messages sit in one deque in id order, and ids have no gaps inside it
//! (only the oldest is evicted, and a clear empties everything), so the
//! entry of an id is found by subtraction. Beside it, per recipient and
//! per channel, a deque of the ids kept for that key, also in order: a
//! message is pushed onto its two lists when recorded and popped off
//! their fronts when evicted, since the oldest message is the oldest of
//! its recipient and of its channel too. So a query by recipient (or
//! channel) after some id is a binary search in that key's list and a
//! walk over its matches — it never looks at other recipients' messages —
//! and the indexes hold exactly one id per kept message per index, so
//! they stay within the journal's bound.

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::hash_map::Entry as Slot;
use hashbrown::HashMap;

use crate::delivery::journal::{Entry, Filter};
use crate::delivery::{Channel, Message};

/// The kept messages, indexed.
pub(crate) struct Kept {
    entries: VecDeque<Entry>,
    /// The id the next message gets (ids keep increasing across clears).
    next_id: u64,
    capacity: usize,
    /// Ids kept per recipient, oldest first; a recipient with none kept
    /// has no key. foldhash, not SipHash: it is hashed on every record and
    /// every query, and the process keys it anew each run.
    by_to: HashMap<Arc<str>, VecDeque<u64>, RandomState>,
    /// Ids kept per channel, oldest first, by `Channel as usize`.
    by_channel: [VecDeque<u64>; Channel::ALL.len()],
}

impl Kept {
    /// Nothing kept; at most `capacity` (at least one) messages later.
    pub(crate) fn new(capacity: usize) -> Kept {
        Kept {
            entries: VecDeque::new(),
            next_id: 1,
            capacity: capacity.max(1),
            by_to: HashMap::default(),
            by_channel: Default::default(),
        }
    }

    /// Keeps `message`, evicting the oldest when full; returns its id.
    pub(crate) fn push(&mut self, message: Message, received_at_ms: u64) -> u64 {
        if self.entries.len() >= self.capacity {
            self.evict_oldest();
        }
        let id = self.next_id;
        self.next_id += 1;
        // One hash and one probe, whether the recipient is new or not.
        self.by_to
            .entry(message.to.clone())
            .or_insert_with(|| VecDeque::with_capacity(1))
            .push_back(id);
        self.by_channel[message.channel as usize].push_back(id);
        self.entries.push_back(Entry {
            id,
            message,
            received_at_ms,
        });
        id
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = self.entries.pop_front() else {
            return;
        };
        if let Slot::Occupied(mut found) = self.by_to.entry(oldest.message.to) {
            let ids = found.get_mut();
            debug_assert_eq!(ids.front(), Some(&oldest.id));
            ids.pop_front();
            if ids.is_empty() {
                found.remove();
            } else {
                shrink(ids);
            }
        }
        let ids = &mut self.by_channel[oldest.message.channel as usize];
        debug_assert_eq!(ids.front(), Some(&oldest.id));
        ids.pop_front();
    }

    /// Forgets every message; ids go on from where they were.
    pub(crate) fn clear(&mut self) {
        self.entries = VecDeque::new();
        self.by_to = HashMap::default();
        self.by_channel = Default::default();
    }

    /// How many messages are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The newest id given so far (0 before the first message): a mark
    /// after which only later messages match.
    pub(crate) fn newest_id(&self) -> u64 {
        self.next_id - 1
    }

    /// The kept entry with this id.
    fn entry(&self, id: u64) -> Option<&Entry> {
        let first = self.entries.front()?.id;
        let offset = usize::try_from(id.checked_sub(first)?).ok()?;
        self.entries.get(offset)
    }

    /// Entries matching `filter`, oldest first, in O(log n + matches) for
    /// a recipient (or channel) and O(entries after the mark) without one.
    pub(crate) fn matching(&self, filter: &Filter) -> Vec<Entry> {
        let after = filter.after.unwrap_or(0);
        let ids = match (&filter.to, filter.channel) {
            (Some(to), _) => match self.by_to.get(to.as_str()) {
                Some(ids) => ids,
                None => return Vec::new(),
            },
            (None, Some(channel)) => &self.by_channel[channel as usize],
            (None, None) => {
                let start = self.entries.partition_point(|e| e.id <= after);
                return self.entries.range(start..).cloned().collect();
            }
        };
        let start = ids.partition_point(|&id| id <= after);
        ids.range(start..)
            .filter_map(|&id| self.entry(id))
            .filter(|e| filter.channel.is_none_or(|c| e.message.channel == c))
            .cloned()
            .collect()
    }
}

/// Gives back a list's spare room once it is mostly empty, so a recipient
/// that once had many messages does not keep their room for its few.
fn shrink(ids: &mut VecDeque<u64>) {
    if ids.capacity() > 64 && ids.capacity() > 4 * ids.len() {
        ids.shrink_to(2 * ids.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The journal as a plain list: keep the newest `capacity`, scan for
    /// matches.
    struct Naive {
        entries: Vec<Entry>,
        next_id: u64,
        capacity: usize,
    }

    impl Naive {
        fn push(&mut self, message: Message, at: u64) -> u64 {
            if self.entries.len() == self.capacity {
                self.entries.remove(0);
            }
            let id = self.next_id;
            self.next_id += 1;
            self.entries.push(Entry {
                id,
                message,
                received_at_ms: at,
            });
            id
        }

        fn matching(&self, filter: &Filter) -> Vec<Entry> {
            self.entries
                .iter()
                .filter(|e| filter.after.is_none_or(|a| e.id > a))
                .filter(|e| filter.channel.is_none_or(|c| e.message.channel == c))
                .filter(|e| filter.to.as_deref().is_none_or(|to| *e.message.to == *to))
                .cloned()
                .collect()
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Record { to: u8, channel: usize },
        Query(Filter),
        Clear,
    }

    const RECIPIENTS: u8 = 4;

    fn recipient(n: u8) -> String {
        format!("+7900000000{n}")
    }

    fn op() -> impl Strategy<Value = Op> {
        let channel = 0..3usize;
        let filter = (
            proptest::option::of(0..RECIPIENTS + 1),
            proptest::option::of(channel.clone()),
            proptest::option::of(0..40u64),
        )
            .prop_map(|(to, channel, after)| Filter {
                to: to.map(recipient),
                channel: channel.map(|c| Channel::ALL[c]),
                after,
            });
        prop_oneof![
            8 => (0..RECIPIENTS, channel).prop_map(|(to, channel)| Op::Record { to, channel }),
            4 => filter.prop_map(Op::Query),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Any interleaving of records (with evictions: the capacities
        /// are small), queries and clears answers as the plain list does.
        #[test]
        fn answers_as_a_plain_scan_does(
            capacity in 1..8usize,
            ops in proptest::collection::vec(op(), 0..80),
        ) {
            let mut kept = Kept::new(capacity);
            let mut naive = Naive { entries: Vec::new(), next_id: 1, capacity };
            for (at, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Record { to, channel } => {
                        let message = Message {
                            channel: Channel::ALL[channel],
                            to: recipient(to).into(),
                            text: format!("code {at}").into(),
                            from: None,
                        };
                        let id = kept.push(message.clone(), at as u64);
                        prop_assert_eq!(id, naive.push(message, at as u64));
                    }
                    Op::Query(filter) => {
                        prop_assert_eq!(kept.matching(&filter), naive.matching(&filter));
                    }
                    Op::Clear => {
                        kept.clear();
                        naive.entries.clear();
                    }
                }
                prop_assert_eq!(kept.len(), naive.entries.len());
                prop_assert_eq!(kept.newest_id(), naive.next_id - 1);
                // The indexes hold one id per kept message, and no
                // recipient without one.
                let indexed: usize = kept.by_to.values().map(VecDeque::len).sum();
                prop_assert_eq!(indexed, kept.len());
                prop_assert!(kept.by_to.values().all(|ids| !ids.is_empty()));
                let by_channel: usize = kept.by_channel.iter().map(VecDeque::len).sum();
                prop_assert_eq!(by_channel, kept.len());
            }
        }
    }

    #[test]
    fn a_list_gives_back_room_its_recipient_no_longer_needs() {
        let mut kept = Kept::new(1_000);
        let message = |to: &str| Message {
            channel: Channel::Sms,
            to: to.into(),
            text: "x".into(),
            from: None,
        };
        for _ in 0..999 {
            kept.push(message("+1"), 0);
        }
        kept.push(message("+2"), 0);
        for _ in 0..990 {
            kept.push(message("+3"), 0);
        }
        let ids = kept.by_to.get("+1").expect("+1 still has messages");
        assert_eq!(ids.len(), 9);
        assert!(ids.capacity() < 100, "kept room for {}", ids.capacity());
    }
}
