//! The message journal's costs against how much it keeps: recording a
//! message, taking a mark, and reading one recipient's messages after a
//! mark — for a recipient with a new message and for a fresh one with
//! none — at 0, 10,000 and 100,000 kept messages (the default bound, so
//! there every record also evicts). Indexed, none of them should grow
//! with the journal.
//!
//! Run: `cargo bench --bench journal`. Figures are in docs/performance.md.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use otpbench::delivery::journal::{Filter, Journal, DEFAULT_CAPACITY};
use otpbench::delivery::{Channel, Message};
use otpbench::engine::clock::ManualClock;

fn message(n: u64) -> Message {
    Message {
        channel: Channel::Sms,
        to: format!("+7900{n:07}").into(),
        text: "Your code is 123456".into(),
        from: None,
    }
}

/// A journal of the default bound holding `kept` messages, each to a
/// recipient of its own (the load generator's fresh identifiers).
fn journal(kept: u64) -> Journal {
    let journal = Journal::new(DEFAULT_CAPACITY, Arc::new(ManualClock::default()));
    for n in 0..kept {
        journal.record(message(n));
    }
    journal
}

fn journal_costs(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal");
    for kept in [0u64, 10_000, 100_000] {
        // Bounded at `kept`, so it stays there: each record evicts the
        // oldest (as a full journal does under load).
        let j = Journal::new(kept.max(1) as usize, Arc::new(ManualClock::default()));
        for n in 0..kept {
            j.record(message(n));
        }
        let mut n = kept;
        group.bench_with_input(BenchmarkId::new("record", kept), &kept, |b, _| {
            b.iter(|| {
                n += 1;
                j.record(message(n))
            })
        });

        let j = journal(kept);
        group.bench_with_input(BenchmarkId::new("mark", kept), &kept, |b, _| {
            b.iter(|| j.mark())
        });

        let j = journal(kept);
        let mark = j.mark();
        j.record(message(9_999_999));
        let new_message = Filter {
            to: Some("+79009999999".into()),
            after: Some(mark),
            ..Filter::default()
        };
        group.bench_with_input(BenchmarkId::new("query_after_mark", kept), &kept, |b, _| {
            b.iter(|| {
                let found = j.list(&new_message);
                assert_eq!(found.len(), 1);
                found
            })
        });

        let fresh = Filter {
            to: Some("+79999999999".into()),
            after: Some(j.mark()),
            ..Filter::default()
        };
        group.bench_with_input(BenchmarkId::new("query_fresh", kept), &kept, |b, _| {
            b.iter(|| j.list(&fresh))
        });
    }
    group.finish();
}

criterion_group!(benches, journal_costs);
criterion_main!(benches);
