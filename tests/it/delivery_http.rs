//! The engine delivering over HTTP to the mock provider, under each fault.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use otpbench::delivery::http::{HttpDelivery, RetryPolicy};
use otpbench::delivery::{Channel, Delivery, Message};
use otpbench::engine::code::CodeHasher;
use otpbench::engine::Engine;
use otpbench::Outcome;
use serde_json::{json, Value};

use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::{memory_store, policy, send_request, verify_request};

type Provider = TestProvider;

async fn provider() -> Provider {
    TestProvider::start().await
}

/// What these tests need of the provider besides faults.
trait ProviderExt {
    async fn journaled(&self) -> Vec<Value>;
    async fn stats(&self, channel: &str, counter: &str) -> u64;
    fn delivery(&self, timeout_ms: u64) -> Arc<HttpDelivery>;
    fn engine(&self, timeout_ms: u64) -> Engine;
}

impl ProviderExt for TestProvider {
    async fn journaled(&self) -> Vec<Value> {
        get(self.addr, "/_admin/messages").await.json()["messages"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn stats(&self, channel: &str, counter: &str) -> u64 {
        get(self.addr, "/_admin/stats").await.json()["channels"][channel][counter]
            .as_u64()
            .unwrap_or(0)
    }

    /// Retries enough that a 50% fault fails a send about once in a million.
    fn delivery(&self, timeout_ms: u64) -> Arc<HttpDelivery> {
        let policy = RetryPolicy {
            attempts: 20,
            timeout: Duration::from_millis(timeout_ms),
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            ..RetryPolicy::default()
        };
        Arc::new(HttpDelivery::new(&format!("http://{}", self.addr), policy).unwrap())
    }

    fn engine(&self, timeout_ms: u64) -> Engine {
        let delivery: Arc<dyn Delivery> = self.delivery(timeout_ms);
        Engine::new(memory_store(), delivery, CodeHasher::new(b"k"))
    }
}

async fn send_all(engine: &Engine, count: usize) {
    for n in 0..count {
        let to = format!("+1415555{n:04}");
        let outcome = engine
            .send(&policy(3, &[]), send_request(&to, "login"))
            .await;
        assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    }
}

/// Sends (each must succeed) until the provider has injected the fault
/// `counter` at least once and at least four sends went through; returns
/// how many were sent. A fault injected with probability ½ per request is
/// missed by 60 sends once in 10^18 runs, so the test cannot flake on luck.
async fn send_until_injected(p: &Provider, engine: &Engine, counter: &str) -> usize {
    for sent in 1..=60 {
        let to = format!("+1415555{sent:04}");
        let outcome = engine
            .send(&policy(3, &[]), send_request(&to, "login"))
            .await;
        assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
        if sent >= 4 && p.stats("sms", counter).await > 0 {
            return sent;
        }
    }
    panic!("60 sends and the provider never injected `{counter}`")
}

#[tokio::test]
async fn latency_within_the_timeout_is_delivered() {
    let p = provider().await;
    p.faults(json!({"rules": [{"latency_ms": {"uniform": [20, 80]}}]}))
        .await;
    send_all(&p.engine(1_000), 5).await;
    assert_eq!(p.journaled().await.len(), 5);
    assert_eq!(p.stats("sms", "delayed").await, 5);
}

#[tokio::test]
async fn half_the_requests_failing_still_delivers_after_retries() {
    let p = provider().await;
    p.faults(json!({"rules": [{"error_rate": 0.5, "error_status": 503}]}))
        .await;
    send_all(&p.engine(1_000), 20).await;
    assert_eq!(p.journaled().await.len(), 20);
    assert!(p.stats("sms", "errors").await > 0, "no error was injected");
}

#[tokio::test]
async fn resets_are_retried() {
    let p = provider().await;
    p.faults(json!({"rules": [{"reset_rate": 0.5}]})).await;
    let sent = send_until_injected(&p, &p.engine(1_000), "reset").await;
    assert_eq!(p.journaled().await.len(), sent);
}

#[tokio::test]
async fn hangs_time_out_and_are_retried() {
    let p = provider().await;
    p.faults(json!({"rules": [{"hang_rate": 0.5}]})).await;
    let sent = send_until_injected(&p, &p.engine(200), "hung").await;
    assert_eq!(p.journaled().await.len(), sent);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let p = provider().await;
    p.faults(json!({"rules": [{"error_rate": 1.0, "error_status": 422}]}))
        .await;
    let delivery = p.delivery(1_000);
    let message = Message {
        channel: Channel::Sms,
        to: "+1".into(),
        text: "x".into(),
        from: None,
    };
    assert!(delivery.deliver(&message).await.is_err());
    assert_eq!(p.stats("sms", "requests").await, 1);
}

#[tokio::test]
async fn a_channel_down_cascades_to_the_next() {
    let p = provider().await;
    p.faults(json!({"rules": [{"channel": "sms", "down": true}]}))
        .await;
    let engine = p.engine(1_000);
    let mut policy = policy(3, &[]);
    policy.channels = vec![Channel::Sms, Channel::Telegram, Channel::Email];
    let outcome = engine
        .send(&policy, send_request("+14155550100", "login"))
        .await;
    let Outcome::Sent(sent) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(sent.channel, Channel::Telegram);
    let journaled = p.journaled().await;
    assert_eq!(journaled.len(), 1);
    assert_eq!(journaled[0]["channel"], "telegram");
    assert!(journaled[0]["text"]
        .as_str()
        .unwrap()
        .contains(sent.code.as_str()));
}

#[tokio::test]
async fn every_channel_down_is_provider_unavailable_and_revokes() {
    let p = provider().await;
    let engine = p.engine(1_000);
    let mut policy = policy(3, &["2/1h"]);
    policy.channels = vec![Channel::Sms, Channel::Telegram];
    let Outcome::Sent(old) = engine
        .send(&policy, send_request("+14155550100", "login"))
        .await
    else {
        panic!("first send failed")
    };
    p.faults(json!({"rules": [{"down": true}]})).await;
    let outcome = engine
        .send(&policy, send_request("+14155550100", "login"))
        .await;
    assert_eq!(outcome, Outcome::ProviderUnavailable);
    let verify = verify_request("+14155550100", "login", old.code.as_str());
    assert_eq!(engine.verify(verify).await, Outcome::NotFound);
    // The failed send still counted: the limit of 2 is reached.
    p.faults(json!({"rules": []})).await;
    let limited = engine
        .send(&policy, send_request("+14155550100", "login"))
        .await;
    assert!(
        matches!(limited, Outcome::RateLimited { .. }),
        "{limited:?}"
    );
    // A down channel answers 503, which is retried like any 5xx: every
    // attempt of the policy on each channel, then the next channel.
    assert_eq!(p.stats("sms", "down").await, 20);
    assert_eq!(p.stats("telegram", "down").await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_deliveries_are_all_journaled_once() {
    let p = provider().await;
    let delivery = p.delivery(10_000);
    let tasks: Vec<_> = (0..10_000u32)
        .map(|n| {
            let delivery = delivery.clone();
            tokio::spawn(async move {
                let message = Message {
                    channel: Channel::Sms,
                    to: format!("+1{n:010}").into(),
                    text: format!("code {n}").into(),
                    from: None,
                };
                delivery.deliver(&message).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let journaled = p.journaled().await;
    assert_eq!(journaled.len(), 10_000);
    let recipients: BTreeSet<&str> = journaled
        .iter()
        .map(|m| m["to"].as_str().unwrap())
        .collect();
    assert_eq!(recipients.len(), 10_000, "a message was lost or duplicated");
}

#[tokio::test]
async fn serve_with_a_provider_delivers_there() {
    use crate::support::server::TestServer;
    use otpbench::server::ServerConfig;

    let p = provider().await;
    let server = TestServer::with(ServerConfig {
        test_mode: true,
        provider: Some(format!("http://{}", p.addr)),
        retry: RetryPolicy {
            attempts: 2,
            backoff_base: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let sent =
        crate::support::http::post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"}))
            .await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let journaled = p.journaled().await;
    assert_eq!(journaled.len(), 1);
    assert!(journaled[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Your otpbench code is "));
    let here = get(server.addr, "/_admin/messages").await;
    assert_eq!(here.status, 400);
    assert!(here.json()["detail"]
        .as_str()
        .unwrap()
        .contains(&p.addr.to_string()));
    p.faults(json!({"rules": [{"down": true}]})).await;
    let failed =
        crate::support::http::post(server.addr, "/v1/otp/send", json!({"to": "+14155550101"}))
            .await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.json()["type"], "urn:otpbench:provider-unavailable");
}
