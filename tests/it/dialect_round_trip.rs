//! Server render → client classify is the identity on what a dialect
//! carries: for every outcome each dialect can produce, with arbitrary
//! details, classifying the rendered response gives back exactly the
//! dialect's view of that outcome (`Dialect::observe`).

use std::time::Duration;

use otpbench::delivery::Channel;
use otpbench::dialect::{Dialect, Operation, WireResponse};
use otpbench::engine::code::{Alphabet, Code};
use otpbench::engine::outcome::{ChallengeId, Sent};
use otpbench::{Fault, Invalid, Observed, Outcome, OutcomeKind};
use proptest::prelude::*;

fn channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

fn sent() -> impl Strategy<Value = Outcome> {
    (
        prop::sample::select(vec![
            Alphabet::Numeric,
            Alphabet::Alpha,
            Alphabet::Alphanumeric,
        ]),
        1usize..=20,
        0u64..1_000_000_000,
        0u32..100,
        prop::option::of(0u32..1000),
        channel(),
    )
        .prop_map(|(alphabet, length, ttl_ms, attempts, sends, channel)| {
            Outcome::Sent(Sent {
                id: ChallengeId::random(),
                code: Code::generate(alphabet, length),
                expires_in: Duration::from_millis(ttl_ms),
                attempts_remaining: attempts,
                sends_remaining: sends,
                channel,
            })
        })
}

/// Invalid-input reasons as servers produce them: the fields the dialects
/// name, every fault, with and without an explanation, one or two problems.
fn reason() -> impl Strategy<Value = Invalid> {
    let field = prop::sample::select(vec![
        "to",
        "purpose",
        "identifier",
        "event",
        "phone_number",
        "target",
        "code",
        "body",
        "widgetId",
        "template",
        "length",
    ]);
    let fault = prop::sample::select(Fault::ALL.to_vec());
    let why = prop::option::of("[A-Za-z0-9 ,.()+-]{1,30}");
    let problem = (field, fault, why);
    prop::collection::vec(problem, 1..=2).prop_map(|problems| {
        let mut reason: Option<Invalid> = None;
        for (field, fault, why) in problems {
            let mut next = match reason.take() {
                None => Invalid::new(field, fault),
                Some(reason) => reason.and(field, fault),
            };
            if let Some(why) = why {
                next = next.explain_last(why);
            }
            reason = Some(next);
        }
        reason.expect("one problem at least")
    })
}

fn wait() -> impl Strategy<Value = Duration> {
    (0u64..10_000_000).prop_map(Duration::from_millis)
}

fn outcome(kind: OutcomeKind) -> BoxedStrategy<Outcome> {
    match kind {
        OutcomeKind::Sent => sent().boxed(),
        OutcomeKind::WrongCode => (0u32..10)
            .prop_map(|n| Outcome::WrongCode {
                attempts_remaining: n,
            })
            .boxed(),
        OutcomeKind::AttemptsExceeded => wait()
            .prop_map(|w| Outcome::AttemptsExceeded { retry_after: w })
            .boxed(),
        OutcomeKind::RateLimited => wait()
            .prop_map(|w| Outcome::RateLimited { retry_after: w })
            .boxed(),
        OutcomeKind::StoreUnavailable => wait()
            .prop_map(|w| Outcome::StoreUnavailable { retry_after: w })
            .boxed(),
        OutcomeKind::InvalidInput => reason().prop_map(Outcome::invalid).boxed(),
        OutcomeKind::Verified => Just(Outcome::Verified).boxed(),
        OutcomeKind::Expired => Just(Outcome::Expired).boxed(),
        OutcomeKind::NotFound => Just(Outcome::NotFound).boxed(),
        OutcomeKind::Unauthorized => Just(Outcome::Unauthorized).boxed(),
        OutcomeKind::Forbidden => Just(Outcome::Forbidden).boxed(),
        OutcomeKind::UnsupportedMediaType => Just(Outcome::UnsupportedMediaType).boxed(),
        OutcomeKind::ProviderUnavailable => Just(Outcome::ProviderUnavailable).boxed(),
        OutcomeKind::InternalError => Just(Outcome::InternalError).boxed(),
        OutcomeKind::Unrecognized => unreachable!("never produced by a server"),
    }
}

/// Any producible (dialect, outcome, operation, echo) with the parts the
/// server adds to a receipt (Nomado's recipient and text).
fn case() -> impl Strategy<Value = (Dialect, Outcome, Operation, bool, String, String)> {
    prop::sample::select(Dialect::ALL.to_vec())
        .prop_flat_map(|dialect| {
            let kinds = dialect.produces().to_vec();
            (Just(dialect), prop::sample::select(kinds))
        })
        .prop_flat_map(|(dialect, kind)| {
            let operations = match kind {
                OutcomeKind::Sent => vec![Operation::Send],
                OutcomeKind::Verified => vec![Operation::Verify],
                _ => vec![Operation::Send, Operation::Verify],
            };
            (
                Just(dialect),
                outcome(kind),
                prop::sample::select(operations),
                any::<bool>(),
                "[0-9]{8,15}",
                "[A-Za-z ]{0,20}\\{\\{CODE\\}\\}[a-z ]{0,10}",
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn classify_undoes_render((dialect, outcome, operation, echo, to, text) in case()) {
        let mut observed = dialect.observe(&outcome, echo);
        if let (Dialect::Nomado, Observed::Sent(receipt)) = (dialect, &mut observed) {
            receipt.to = Some(to);
            receipt.text = Some(text);
        }
        let id = ChallengeId::random().to_string();
        let reply = dialect.render(&observed, operation, Some(&id));
        prop_assert_eq!(reply.outcome, observed.kind());
        let response = WireResponse { status: reply.status.as_u16(), headers: &reply.headers, body: &reply.body };
        let classified = dialect.classify(operation, &response);
        prop_assert_eq!(
            &classified, &observed,
            "{} {:?}: {} {}", dialect.name(), operation, reply.status, String::from_utf8_lossy(&reply.body)
        );
    }
}

crate::for_each_dialect!(
    produces_the_core_outcomes,
    responses_outside_the_documented_shapes_are_unrecognized,
);

async fn produces_the_core_outcomes(dialect: Dialect) {
    for kind in [
        OutcomeKind::Sent,
        OutcomeKind::Verified,
        OutcomeKind::WrongCode,
        OutcomeKind::Expired,
        OutcomeKind::AttemptsExceeded,
        OutcomeKind::NotFound,
        OutcomeKind::RateLimited,
        OutcomeKind::InvalidInput,
        OutcomeKind::Unauthorized,
        OutcomeKind::ProviderUnavailable,
        OutcomeKind::StoreUnavailable,
    ] {
        assert!(dialect.produces().contains(&kind), "{dialect:?} {kind}");
    }
}

async fn responses_outside_the_documented_shapes_are_unrecognized(dialect: Dialect) {
    let headers = hyper::HeaderMap::new();
    // What each vendor document allows beyond these (any text at a
    // documented status, bodies the document leaves open) is in
    // `dialect_tolerance`, dialect by dialect.
    let both = [Operation::Send, Operation::Verify];
    let cases: &[(u16, &str, &[Operation])] = &[
        (200, "{}", &[Operation::Send]),
        (200, "not json", &both),
        (418, r#"{"message": "I'm a teapot"}"#, &both),
    ];
    for (status, body, operations) in cases {
        let response = WireResponse {
            status: *status,
            headers: &headers,
            body: body.as_bytes(),
        };
        for &operation in *operations {
            let observed = dialect.classify(operation, &response);
            assert_eq!(
                observed.kind(),
                OutcomeKind::Unrecognized,
                "{dialect:?} {status} {body}: {observed:?}"
            );
        }
    }
}
