//! Delivery over HTTP to a provider (`serve --provider URL`): the engine
//! posts each message to `URL/v1/messages` (the mock provider's API).
//!
//! Pooled keep-alive connections (hyper's client); every attempt has its
//! own timeout; a 5xx answer, a timeout or a failed or reset connection is
//! retried with exponential backoff and full jitter, up to
//! [`RetryPolicy::attempts`] attempts; a 4xx answer is final. When a
//! channel gives up, the engine moves on to the next channel of the
//! cascade (see `Engine::send`). Failed attempts are logged at warn with
//! the channel and the cause, never the message (its text holds the
//! code).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::Rng;
use serde::Serialize;

use crate::delivery::{Channel, Delivery, DeliveryError, Message};

/// How hard to try one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per channel, the first included.
    pub attempts: u32,
    /// Longest wait for one attempt's answer.
    pub timeout: Duration,
    /// Backoff before retry n (from 1) is uniform in [0, base · 2^(n-1)].
    pub backoff_base: Duration,
    /// Cap of one backoff.
    pub backoff_max: Duration,
    /// Requests in flight to the provider at once (so connections too);
    /// more wait for a turn.
    pub max_in_flight: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            timeout: Duration::from_secs(2),
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            max_in_flight: 256,
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .backoff_base
            .saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(self.backoff_max);
        let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

/// Posts messages to a provider.
pub struct HttpDelivery {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Uri,
    policy: RetryPolicy,
    in_flight: tokio::sync::Semaphore,
}

#[derive(Serialize)]
struct Wire<'a> {
    channel: Channel,
    to: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
}

impl HttpDelivery {
    /// A delivery to the provider at `base_url` (`http://host:port`).
    pub fn new(base_url: &str, policy: RetryPolicy) -> Result<HttpDelivery, String> {
        let base = base_url.trim_end_matches('/');
        if !base.starts_with("http://") {
            return Err(format!("{base_url}: expected an http:// URL of a provider"));
        }
        let endpoint: Uri = format!("{base}/v1/messages")
            .parse()
            .map_err(|e| format!("{base_url}: not a URL: {e}"))?;
        if endpoint.host().is_none() {
            return Err(format!("{base_url}: no host"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(policy.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(HttpDelivery {
            client,
            endpoint,
            policy,
            in_flight: tokio::sync::Semaphore::new(policy.max_in_flight.max(1)),
        })
    }

    async fn attempt(&self, body: Bytes) -> Result<(), Failure> {
        let _turn = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| Failure::Final(DeliveryError::Connection("delivery closed".into())))?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| Failure::Final(DeliveryError::Rejected(e.to_string())))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read the body so the connection can go back to the pool.
            let _ = response.into_body().collect().await;
            Ok::<StatusCode, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.policy.timeout, exchange).await {
            Err(_) => Err(Failure::Retry(DeliveryError::Timeout)),
            Ok(Err(error)) => Err(Failure::Retry(DeliveryError::Connection(with_causes(
                &error,
            )))),
            Ok(Ok(status)) if status.is_success() => Ok(()),
            Ok(Ok(status)) if status.is_server_error() => {
                Err(Failure::Retry(DeliveryError::Rejected(status.to_string())))
            }
            Ok(Ok(status)) => Err(Failure::Final(DeliveryError::Rejected(status.to_string()))),
        }
    }
}

/// An error with the chain of its causes (hyper's own text is only
/// "client error (Connect)"; the operator wants "connection refused").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

enum Failure {
    Retry(DeliveryError),
    Final(DeliveryError),
}

#[async_trait]
impl Delivery for HttpDelivery {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        let wire = Wire {
            channel: message.channel,
            to: &message.to,
            text: &message.text,
            from: message.from.as_deref(),
        };
        let body = Bytes::from(
            serde_json::to_vec(&wire).map_err(|e| DeliveryError::Rejected(e.to_string()))?,
        );
        let mut last = DeliveryError::Timeout;
        let attempts = self.policy.attempts.max(1);
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(self.policy.backoff(attempt - 1)).await;
            }
            // Logged with the channel and the cause, never the message:
            // its text holds the code. Giving up is the engine's warning.
            match self.attempt(body.clone()).await {
                Ok(()) => return Ok(()),
                Err(Failure::Final(error)) => {
                    tracing::warn!(channel = %message.channel, attempt, cause = %error, "provider refused the message");
                    return Err(error);
                }
                Err(Failure::Retry(error)) => {
                    tracing::warn!(channel = %message.channel, attempt, attempts, cause = %error, "provider attempt failed");
                    last = error;
                }
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let policy = RetryPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
            ..RetryPolicy::default()
        };
        for retry in 1..10 {
            let ceiling = (100u64 << (retry - 1)).min(250);
            for _ in 0..100 {
                assert!(policy.backoff(retry).as_millis() as u64 <= ceiling);
            }
        }
    }

    #[test]
    fn only_http_provider_urls_are_taken() {
        assert!(HttpDelivery::new("http://127.0.0.1:8090", RetryPolicy::default()).is_ok());
        assert!(HttpDelivery::new("http://127.0.0.1:8090/", RetryPolicy::default()).is_ok());
        for bad in ["ftp://x", "127.0.0.1:8090", "http://"] {
            assert!(
                HttpDelivery::new(bad, RetryPolicy::default()).is_err(),
                "{bad}"
            );
        }
    }
}
