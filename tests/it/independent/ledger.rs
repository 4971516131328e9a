//! The OTP state of the independent service — every challenge, every
//! send, the REES46 customer list and the clock — owned by one task that
//! takes one command at a time from a channel. Each operation is atomic
//! because nothing else ever touches the state: no locks, no
//! compare-and-set. Brute force on purpose: challenges and sends are
//! plain vectors scanned in full, windows are counted entry by entry.
//! Knows nothing of HTTP or of any dialect's wording, and never delivers.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How long state outlives its use: expired challenges still answer
/// `expired` for a day, and no send window is longer than a day.
const DAY_MS: u64 = 86_400_000;

/// The largest single clock move accepted (a century).
pub(super) const MAX_ADVANCE_MS: u64 = 100 * 366 * DAY_MS;

/// Which API a challenge was made through. Each is a tenant of its own:
/// a number's sends in one dialect do not count in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Desk {
    Native,
    Rees46,
    Sigmasms,
    Valify,
    Nomado,
    Loyaltydog,
}

/// What a new code is issued under.
#[derive(Debug, Clone)]
pub(super) struct Terms {
    pub ttl_ms: u64,
    pub attempts: u32,
    /// `(sends, window in ms)`, all of which must have room.
    pub limits: Vec<(u32, u64)>,
}

/// A request for a new code.
#[derive(Debug)]
pub(super) struct Issue {
    pub desk: Desk,
    pub to: String,
    pub purpose: String,
    pub code: String,
    pub terms: Terms,
}

/// The answer to an [`Issue`].
#[derive(Debug)]
pub(super) enum Issued {
    Fresh {
        /// To withdraw the challenge if delivery fails.
        ticket: u64,
        handle: Uuid,
        /// Sends left in the window with the least room.
        sends_left: u32,
    },
    Refused {
        /// Until every window has room again.
        retry_after_ms: u64,
    },
}

/// Which challenge a guess is for.
#[derive(Debug)]
pub(super) enum Lookup {
    /// By its handle; with `to`, the challenge must also be that
    /// recipient's (and, with a purpose, that purpose's).
    Handle {
        handle: Uuid,
        to: Option<String>,
        purpose: Option<String>,
    },
    /// The recipient's active challenge for a purpose.
    Key { to: String, purpose: String },
}

/// The answer to a guess.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Checked {
    Verified,
    Wrong { attempts_left: u32 },
    Expired,
    Exhausted { expires_in_ms: u64 },
    Missing,
}

/// The task is gone (it only ends if it panicked).
#[derive(Debug)]
pub(super) struct LedgerGone;

impl std::fmt::Display for LedgerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the ledger task has stopped")
    }
}

enum Command {
    Issue(Issue, oneshot::Sender<Issued>),
    Check {
        desk: Desk,
        lookup: Lookup,
        guess: String,
        reply: oneshot::Sender<Checked>,
    },
    Withdraw(u64),
    Enrol(String),
    Customer(String, oneshot::Sender<bool>),
    Advance(u64, oneshot::Sender<u64>),
    Now(oneshot::Sender<u64>),
}

/// A handle on the task; cheap to clone.
#[derive(Clone)]
pub(super) struct Ledger {
    commands: mpsc::UnboundedSender<Command>,
}

impl Ledger {
    /// Starts the task; it ends when the last handle is dropped.
    pub(super) fn start() -> Ledger {
        let (commands, inbox) = mpsc::unbounded_channel();
        tokio::spawn(Book::new().serve(inbox));
        Ledger { commands }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, LedgerGone> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| LedgerGone)?;
        answer.await.map_err(|_| LedgerGone)
    }

    pub(super) async fn issue(&self, issue: Issue) -> Result<Issued, LedgerGone> {
        self.ask(|reply| Command::Issue(issue, reply)).await
    }

    pub(super) async fn check(
        &self,
        desk: Desk,
        lookup: Lookup,
        guess: String,
    ) -> Result<Checked, LedgerGone> {
        self.ask(|reply| Command::Check {
            desk,
            lookup,
            guess,
            reply,
        })
        .await
    }

    /// Revokes a challenge whose code could not be delivered (a newer
    /// one for the same key stays).
    pub(super) fn withdraw(&self, ticket: u64) {
        let _ = self.commands.send(Command::Withdraw(ticket));
    }

    /// Records a REES46 customer created by a first send.
    pub(super) fn enrol(&self, phone: String) {
        let _ = self.commands.send(Command::Enrol(phone));
    }

    pub(super) async fn is_customer(&self, phone: String) -> Result<bool, LedgerGone> {
        self.ask(|reply| Command::Customer(phone, reply)).await
    }

    /// Moves the clock forward; the new time in ms since the epoch.
    pub(super) async fn advance(&self, ms: u64) -> Result<u64, LedgerGone> {
        self.ask(|reply| Command::Advance(ms, reply)).await
    }

    pub(super) async fn now(&self) -> Result<u64, LedgerGone> {
        self.ask(Command::Now).await
    }
}

struct Challenge {
    ticket: u64,
    handle: Uuid,
    desk: Desk,
    to: String,
    purpose: String,
    /// HMAC of handle and code under the ledger's key: the code itself
    /// is never kept.
    digest: Vec<u8>,
    expires_at: u64,
    attempts_left: u32,
}

struct SendMark {
    desk: Desk,
    to: String,
    at: u64,
}

/// The state, only ever touched by the task.
struct Book {
    key: [u8; 32],
    /// Added to the wall clock by `POST /_admin/clock`; only grows.
    offset_ms: u64,
    next_ticket: u64,
    challenges: Vec<Challenge>,
    sends: Vec<SendMark>,
    customers: Vec<String>,
}

impl Book {
    fn new() -> Book {
        Book {
            key: rand::random(),
            offset_ms: 0,
            next_ticket: 1,
            challenges: Vec::new(),
            sends: Vec::new(),
            customers: Vec::new(),
        }
    }

    async fn serve(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = inbox.recv().await {
            match command {
                Command::Issue(issue, reply) => {
                    let _ = reply.send(self.issue(issue));
                }
                Command::Check {
                    desk,
                    lookup,
                    guess,
                    reply,
                } => {
                    let _ = reply.send(self.check(desk, &lookup, &guess));
                }
                Command::Withdraw(ticket) => self.withdraw(ticket),
                Command::Enrol(phone) => {
                    if !self.customers.contains(&phone) {
                        self.customers.push(phone);
                    }
                }
                Command::Customer(phone, reply) => {
                    let _ = reply.send(self.customers.contains(&phone));
                }
                Command::Advance(ms, reply) => {
                    self.offset_ms = self.offset_ms.saturating_add(ms);
                    let _ = reply.send(self.now());
                }
                Command::Now(reply) => {
                    let _ = reply.send(self.now());
                }
            }
        }
    }

    fn now(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        wall.saturating_add(self.offset_ms)
    }

    /// Forgets what can no longer matter.
    fn sweep(&mut self, now: u64) {
        self.challenges
            .retain(|c| now < c.expires_at.saturating_add(DAY_MS));
        self.sends.retain(|s| now < s.at.saturating_add(DAY_MS));
    }

    fn digest(&self, handle: &Uuid, code: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(handle.as_bytes());
        mac.update(code.as_bytes());
        mac
    }

    fn issue(&mut self, issue: Issue) -> Issued {
        let now = self.now();
        self.sweep(now);
        let mut earlier: Vec<u64> = self
            .sends
            .iter()
            .filter(|s| s.desk == issue.desk && s.to == issue.to)
            .map(|s| s.at)
            .collect();
        earlier.sort_unstable();
        let mut retry_after_ms = 0;
        let mut sends_left = u32::MAX;
        for &(count, window) in &issue.terms.limits {
            let inside: Vec<u64> = earlier
                .iter()
                .copied()
                .filter(|&at| now < at + window)
                .collect();
            let used = inside.len() as u32;
            if used >= count {
                // Room comes back when the send that fills the window
                // from below slides out of it.
                let blocking = inside[(used - count) as usize];
                retry_after_ms = retry_after_ms.max(blocking + window - now);
            } else {
                sends_left = sends_left.min(count - used - 1);
            }
        }
        if retry_after_ms > 0 {
            return Issued::Refused { retry_after_ms };
        }
        self.sends.push(SendMark {
            desk: issue.desk,
            to: issue.to.clone(),
            at: now,
        });
        self.challenges
            .retain(|c| !(c.desk == issue.desk && c.to == issue.to && c.purpose == issue.purpose));
        let handle = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let digest = self
            .digest(&handle, &issue.code)
            .finalize()
            .into_bytes()
            .to_vec();
        self.challenges.push(Challenge {
            ticket,
            handle,
            desk: issue.desk,
            to: issue.to,
            purpose: issue.purpose,
            digest,
            expires_at: now + issue.terms.ttl_ms,
            attempts_left: issue.terms.attempts,
        });
        Issued::Fresh {
            ticket,
            handle,
            sends_left,
        }
    }

    fn withdraw(&mut self, ticket: u64) {
        self.challenges.retain(|c| c.ticket != ticket);
    }

    fn check(&mut self, desk: Desk, lookup: &Lookup, guess: &str) -> Checked {
        let now = self.now();
        self.sweep(now);
        let found = self.challenges.iter().position(|c| {
            c.desk == desk
                && match lookup {
                    Lookup::Handle {
                        handle,
                        to,
                        purpose,
                    } => {
                        c.handle == *handle
                            && to.as_ref().is_none_or(|to| *to == c.to)
                            && purpose.as_ref().is_none_or(|p| *p == c.purpose)
                    }
                    Lookup::Key { to, purpose } => c.to == *to && c.purpose == *purpose,
                }
        });
        let Some(index) = found else {
            return Checked::Missing;
        };
        let challenge = &self.challenges[index];
        if now >= challenge.expires_at {
            return Checked::Expired;
        }
        if challenge.attempts_left == 0 {
            return Checked::Exhausted {
                expires_in_ms: challenge.expires_at - now,
            };
        }
        // `verify_slice` compares in constant time.
        if self
            .digest(&challenge.handle, guess)
            .verify_slice(&challenge.digest)
            .is_ok()
        {
            self.challenges.swap_remove(index);
            return Checked::Verified;
        }
        let challenge = &mut self.challenges[index];
        challenge.attempts_left -= 1;
        Checked::Wrong {
            attempts_left: challenge.attempts_left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    fn issue(book: &mut Book, to: &str, code: &str) -> Issued {
        book.issue(Issue {
            desk: Desk::Loyaltydog,
            to: to.into(),
            purpose: "p".into(),
            code: code.into(),
            terms: Terms {
                ttl_ms: 300_000,
                attempts: 3,
                limits: vec![(5, HOUR_MS), (10, DAY_MS)],
            },
        })
    }

    fn refused_for(issued: Issued) -> u64 {
        match issued {
            Issued::Refused { retry_after_ms } => retry_after_ms,
            fresh => panic!("expected a refusal, got {fresh:?}"),
        }
    }

    #[test]
    fn a_longer_window_holds_behind_a_shorter_one_and_says_until_when() {
        let mut book = Book::new();
        for left in (0..5).rev() {
            assert!(
                matches!(issue(&mut book, "+1", "1"), Issued::Fresh { sends_left, .. } if sends_left == left)
            );
        }
        let wait = refused_for(issue(&mut book, "+1", "1"));
        assert!((HOUR_MS - 1000..=HOUR_MS).contains(&wait), "{wait}");
        assert!(
            matches!(issue(&mut book, "+2", "1"), Issued::Fresh { .. }),
            "another recipient"
        );

        book.offset_ms += HOUR_MS;
        for _ in 0..5 {
            assert!(matches!(issue(&mut book, "+1", "1"), Issued::Fresh { .. }));
        }
        book.offset_ms += HOUR_MS;
        // The hour has room again, the day does not: until the first
        // send of the day is a day old.
        let wait = refused_for(issue(&mut book, "+1", "1"));
        assert!(
            (22 * HOUR_MS - 1000..=22 * HOUR_MS).contains(&wait),
            "{wait}"
        );
        book.offset_ms += wait;
        assert!(matches!(issue(&mut book, "+1", "1"), Issued::Fresh { .. }));
    }

    #[test]
    fn a_withdrawn_send_leaves_a_newer_challenge_and_still_counts() {
        let mut book = Book::new();
        let key = || Lookup::Key {
            to: "+1".into(),
            purpose: "p".into(),
        };
        let ticket = |issued| match issued {
            Issued::Fresh { ticket, .. } => ticket,
            refused => panic!("refused: {refused:?}"),
        };
        let old = ticket(issue(&mut book, "+1", "111111"));
        ticket(issue(&mut book, "+1", "222222"));
        book.withdraw(old);
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "111111"),
            Checked::Wrong { attempts_left: 2 }
        );
        assert_eq!(book.check(Desk::Native, &key(), "222222"), Checked::Missing);
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "222222"),
            Checked::Verified
        );
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "222222"),
            Checked::Missing
        );

        let third = ticket(issue(&mut book, "+1", "333333"));
        book.withdraw(third);
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "333333"),
            Checked::Missing
        );
        // All three sends count, the withdrawn one too.
        assert!(matches!(
            issue(&mut book, "+1", "444444"),
            Issued::Fresh { sends_left: 1, .. }
        ));
    }

    #[test]
    fn expiry_comes_before_the_attempt_cap() {
        let mut book = Book::new();
        issue(&mut book, "+1", "123456");
        let key = || Lookup::Key {
            to: "+1".into(),
            purpose: "p".into(),
        };
        for left in [2, 1, 0] {
            assert_eq!(
                book.check(Desk::Loyaltydog, &key(), "000000"),
                Checked::Wrong {
                    attempts_left: left
                }
            );
        }
        assert!(matches!(
            book.check(Desk::Loyaltydog, &key(), "123456"),
            Checked::Exhausted { .. }
        ));
        book.offset_ms += 300_000;
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "123456"),
            Checked::Expired
        );
        book.offset_ms += DAY_MS;
        assert_eq!(
            book.check(Desk::Loyaltydog, &key(), "123456"),
            Checked::Missing,
            "swept"
        );
    }
}
