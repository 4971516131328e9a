//! Send and verify as every dialect of the independent service uses
//! them: draw a code, issue it in the ledger, deliver it through the
//! courier, and withdraw it when no channel took it (the send still
//! counts, DESIGN.md §2). Dialect files turn the results into their
//! wire answers; nothing here knows a status code or a message text.

use rand::Rng;
use uuid::Uuid;

use super::ledger::{Checked, Desk, Issue, Issued, LedgerGone, Lookup, Terms};
use super::Service;

/// The characters a code is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alphabet {
    Digits,
    Letters,
    LettersAndDigits,
}

impl Alphabet {
    fn characters(self) -> &'static [u8] {
        match self {
            Alphabet::Digits => b"0123456789",
            Alphabet::Letters => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            Alphabet::LettersAndDigits => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        }
    }
}

/// A code of `length` characters, each uniform over the alphabet
/// (`random_range` rejects rather than reducing modulo) from the thread's
/// CSPRNG.
pub(super) fn draw(alphabet: Alphabet, length: usize) -> String {
    let characters = alphabet.characters();
    let mut rng = rand::rng();
    (0..length)
        .map(|_| characters[rng.random_range(0..characters.len())] as char)
        .collect()
}

/// Six digits, five minutes, three attempts, five sends an hour: every
/// dialect's documented default but Nomado's and LoyaltyDog's.
pub(super) fn standard_terms() -> Terms {
    Terms {
        ttl_ms: 300_000,
        attempts: 3,
        limits: vec![(5, 3_600_000)],
    }
}

/// What a send came to.
#[derive(Debug)]
pub(super) enum Sent {
    Delivered {
        handle: Uuid,
        code: String,
        text: String,
        sends_left: u32,
    },
    Limited {
        retry_after_ms: u64,
    },
    Undelivered,
}

/// A send of one code: what to make and where it goes.
pub(super) struct Dispatch<'a> {
    pub desk: Desk,
    /// The normalised recipient: key, limit and message `to`.
    pub to: &'a str,
    pub purpose: &'a str,
    pub alphabet: Alphabet,
    pub length: usize,
    pub terms: Terms,
    /// Provider channels, tried in order.
    pub channels: &'a [&'a str],
    /// The message text for a code.
    pub text: &'a (dyn Fn(&str) -> String + Sync),
}

pub(super) async fn send(service: &Service, dispatch: Dispatch<'_>) -> Result<Sent, LedgerGone> {
    let code = draw(dispatch.alphabet, dispatch.length);
    let issued = service
        .ledger
        .issue(Issue {
            desk: dispatch.desk,
            to: dispatch.to.to_string(),
            purpose: dispatch.purpose.to_string(),
            code: code.clone(),
            terms: dispatch.terms,
        })
        .await?;
    let (ticket, handle, sends_left) = match issued {
        Issued::Refused { retry_after_ms } => return Ok(Sent::Limited { retry_after_ms }),
        Issued::Fresh {
            ticket,
            handle,
            sends_left,
        } => (ticket, handle, sends_left),
    };
    let text = (dispatch.text)(&code);
    if !service
        .courier
        .deliver(dispatch.channels, dispatch.to, &text)
        .await
    {
        service.ledger.withdraw(ticket);
        return Ok(Sent::Undelivered);
    }
    Ok(Sent::Delivered {
        handle,
        code,
        text,
        sends_left,
    })
}

pub(super) async fn verify(
    service: &Service,
    desk: Desk,
    lookup: Lookup,
    guess: &str,
) -> Result<Checked, LedgerGone> {
    service.ledger.check(desk, lookup, guess.to_string()).await
}

/// Whole seconds to wait, rounded up and never 0: a client that waits
/// what it is told is never early.
pub(super) fn seconds_up(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}
