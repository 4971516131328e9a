//! Delivery to the SMS/e-mail gateway (otpbench's mock provider, DESIGN.md
//! §4) the way a real service would reach it: `POST /v1/messages` over
//! HTTP. Says only whether a message got through; knows no challenge and
//! no dialect.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

/// Tries per channel, and how long each may take.
const TRIES: usize = 2;
const TRY_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) struct Courier {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port` of the provider.
    base: String,
}

impl Courier {
    pub(super) fn new(base: String) -> Courier {
        Courier {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
        }
    }

    /// Whether the provider accepted the message on the first channel
    /// that takes it, trying `channels` in order (a cascade).
    pub(super) async fn deliver(&self, channels: &[&str], to: &str, text: &str) -> bool {
        for channel in channels {
            for _ in 0..TRIES {
                if self.post(channel, to, text).await {
                    return true;
                }
            }
        }
        false
    }

    async fn post(&self, channel: &str, to: &str, text: &str) -> bool {
        let body = json!({"channel": channel, "to": to, "text": text}).to_string();
        let Ok(request) = Request::post(format!("{}/v1/messages", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
        else {
            return false;
        };
        match tokio::time::timeout(TRY_TIMEOUT, self.client.request(request)).await {
            Ok(Ok(response)) => response.status().is_success(),
            _ => false,
        }
    }
}
