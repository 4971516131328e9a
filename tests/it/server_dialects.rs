//! All six dialects on one listener: independent state, each dialect's
//! error shape for its own unknown paths, and each dialect's answer when
//! the store is down.

use std::time::{Duration, Instant};

use otpbench::config::Config;
use otpbench::dialect::Dialect;
use otpbench::server::{ServerConfig, StoreSpec};
use otpbench::store::redis::RedisOptions;
use otpbench::{Observed, OutcomeKind};
use serde_json::json;

use crate::support::dialect::{golden, Speaker};
use crate::support::http::get;
use crate::support::server::TestServer;

/// A recipient each dialect accepts.
fn recipient(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Valify => "01012345678",
        Dialect::Rees46 | Dialect::Nomado => "79991234567",
        _ => "+79991234567",
    }
}

crate::for_each_dialect!(
    sends_on_a_shared_listener_with_its_own_limits,
    unknown_paths_answer_in_the_shape_of_the_prefix,
    a_dead_store_is_answered_fast_in_the_dialects_shape,
    leading_zeros_after_the_plus_make_no_new_phone_number,
);

/// Five sends go through, the sixth is limited — though every other
/// dialect sent to the same phone first on the same listener.
async fn sends_on_a_shared_listener_with_its_own_limits(dialect: Dialect) {
    let server = TestServer::start().await;
    for other in Dialect::ALL.into_iter().filter(|&d| d != dialect) {
        let speaker = Speaker::new(server.addr, other).await;
        let (reply, observed) = speaker.send(recipient(other)).await;
        assert_eq!(observed.kind(), OutcomeKind::Sent, "{}", reply.text());
    }
    let speaker = Speaker::new(server.addr, dialect).await;
    for _ in 0..5 {
        let (reply, observed) = speaker.send(recipient(dialect)).await;
        assert_eq!(observed.kind(), OutcomeKind::Sent, "{}", reply.text());
    }
    // The other dialects' sends to the same phone did not count here.
    let (_, observed) = speaker.send(recipient(dialect)).await;
    assert_eq!(observed.kind(), OutcomeKind::RateLimited, "{dialect:?}");
    let metrics = get(server.addr, "/metrics").await.text();
    let sent = format!(
        "otpbench_requests_total{{dialect=\"{}\",operation=\"send\",outcome=\"sent\"}} 5\n",
        dialect.name()
    );
    let limited = format!(
        "otpbench_requests_total{{dialect=\"{}\",operation=\"send\",outcome=\"rate_limited\"}} 1\n",
        dialect.name()
    );
    assert!(metrics.contains(&sent), "{sent} missing from\n{metrics}");
    assert!(metrics.contains(&limited), "{limited} missing");
    if dialect == Dialect::Loyaltydog {
        let tokens = "otpbench_requests_total{dialect=\"loyaltydog\",operation=\"token\",outcome=\"sent\"} 1\n";
        assert!(metrics.contains(tokens), "{tokens} missing");
    }
}

async fn unknown_paths_answer_in_the_shape_of_the_prefix(dialect: Dialect) {
    let server = TestServer::start().await;
    let (path, body) = match dialect {
        Dialect::Native => {
            for path in ["/v1/x", "/elsewhere"] {
                let native = get(server.addr, path).await;
                assert_eq!(native.status, 404);
                assert_eq!(native.json()["type"], "urn:otpbench:not-found");
            }
            return;
        }
        Dialect::Rees46 => (
            "/loyalty/x",
            json!({"success": false, "payload": {"message": "Not found"}}),
        ),
        Dialect::Sigmasms => (
            "/api/n/x",
            json!({"type": "NotFoundException", "message": "Ресурс не найден", "httpStatus": 404}),
        ),
        Dialect::Valify => ("/api/v1/x", json!({"message": "Not Found"})),
        Dialect::Nomado => ("/2fa/x", json!({"code": 404, "message": "Not found"})),
        Dialect::Loyaltydog => ("/v2/x", json!({"detail": "Not Found"})),
    };
    golden(&get(server.addr, path).await, 404, body);
}

async fn a_dead_store_is_answered_fast_in_the_dialects_shape(dialect: Dialect) {
    // Nothing listens on port 1: every store call fails at once.
    let server = TestServer::with(ServerConfig {
        config: Config {
            secret: Some(vec![7; 32]),
            ..Config::default()
        },
        store: StoreSpec::Redis(RedisOptions {
            timeout: Duration::from_millis(300),
            ..RedisOptions::new("redis://127.0.0.1:1")
        }),
        test_mode: true,
        ..ServerConfig::default()
    })
    .await;
    let speaker = Speaker::new(server.addr, dialect).await;
    let started = Instant::now();
    let (reply, observed) = speaker.send(recipient(dialect)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    if dialect == Dialect::Valify {
        // Valify documents one 5xx (DESIGN.md §3): see server_valify.
        golden(&reply, 500, json!({"message": "Internal Server Error"}));
        assert_eq!(observed, Observed::InternalError);
        return;
    }
    assert_eq!(reply.status, 503, "{dialect:?}: {}", reply.text());
    assert!(
        matches!(
            observed,
            Observed::StoreUnavailable {
                retry_after: Some(_)
            }
        ),
        "{dialect:?}: {observed:?} from {}",
        reply.text()
    );
}

/// Regression: `+14155550188`, `+014155550188` and `+0014155550188` were
/// three identifiers with three send budgets (and the provider got
/// `+00…`). Every spelling of one number is one key, or is refused.
async fn leading_zeros_after_the_plus_make_no_new_phone_number(dialect: Dialect) {
    let server = TestServer::start().await;
    let speaker = Speaker::new(server.addr, dialect).await;
    let (canonical, e164, variants) = match dialect {
        Dialect::Valify => (
            "01012345678",
            "+201012345678",
            ["+0201012345678", "+00201012345678", "00201012345678"],
        ),
        _ => (
            "+14155550188",
            "+14155550188",
            ["+014155550188", "+0014155550188", "0014155550188"],
        ),
    };
    for _ in 0..5 {
        let (reply, observed) = speaker.send(canonical).await;
        assert_eq!(observed.kind(), OutcomeKind::Sent, "{}", reply.text());
    }
    for variant in variants {
        let (reply, observed) = speaker.send(variant).await;
        assert!(
            matches!(
                observed.kind(),
                OutcomeKind::RateLimited | OutcomeKind::InvalidInput
            ),
            "{dialect:?} {variant}: {observed:?} {}",
            reply.text()
        );
    }
    let journal = get(server.addr, "/_admin/messages").await.json();
    let messages = journal["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5, "{journal}");
    assert!(messages.iter().all(|m| m["to"] == e164), "{journal}");
}
