//! Speaking a dialect to a test server through the product's executor
//! (`otpbench::client::Target`): requests built by the dialect's client
//! side, sessions (LoyaltyDog's JWT) kept and renewed by the executor,
//! answers classified by `Dialect::classify` — so every golden test checks
//! both sides at once. Raw bytes still go through `support::http`.

use std::net::SocketAddr;

use otpbench::client::{BaseUrl, Called, ClockMode, CodeSource, Endpoint, Target, TargetSpec};
use otpbench::dialect::{
    Credentials, Dialect, Operation, SendOp, VerifyOp, WireRequest, WireResponse,
};
use otpbench::server::StoreSpec;
use otpbench::Observed;
use serde_json::{json, Value};

use crate::support::http::{get, request, Reply};

/// A dialect on a server, through the product's executor.
pub struct Speaker {
    pub addr: SocketAddr,
    pub dialect: Dialect,
    pub target: Target,
}

impl Speaker {
    /// Ready to talk, with the default test credentials.
    pub async fn new(addr: SocketAddr, dialect: Dialect) -> Speaker {
        Speaker::with(addr, dialect, Credentials::default()).await
    }

    /// Ready to talk with these credentials.
    pub async fn with(addr: SocketAddr, dialect: Dialect, credentials: Credentials) -> Speaker {
        let here = Endpoint::Url(BaseUrl::local(addr));
        let spec = TargetSpec {
            base: here.clone(),
            credentials,
            code_source: CodeSource::Inbox,
            // The server journals in-process and serves its journal.
            provider: Some(here),
            clock: ClockMode::Admin,
            ..TargetSpec::embedded(dialect)
        };
        let target = Target::open(spec, &StoreSpec::Memory)
            .await
            .expect("the target opens");
        Speaker {
            addr,
            dialect,
            target,
        }
    }

    pub async fn send(&self, to: &str) -> (Reply, Observed) {
        self.send_op(SendOp {
            to: to.into(),
            ..SendOp::default()
        })
        .await
    }

    pub async fn send_op(&self, op: SendOp) -> (Reply, Observed) {
        replied(self.target.send(&op).await)
    }

    pub async fn verify(&self, to: &str, id: Option<&str>, code: &str) -> (Reply, Observed) {
        let op = VerifyOp {
            to: to.into(),
            id: id.map(str::to_string),
            code: code.into(),
            ..VerifyOp::default()
        };
        replied(self.target.verify(&op).await)
    }

    /// The access token the executor holds (LoyaltyDog).
    pub async fn access_token(&self) -> String {
        let session = self.target.current_session().await.expect("a session");
        session.access_token.expect("an access token")
    }

    /// A POST of raw bytes to `path` with these headers.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        request(self.addr, "POST", path, headers, body).await
    }

    /// Classifies a reply to `operation` the way the client would.
    pub fn classify(&self, operation: Operation, reply: &Reply) -> Observed {
        classify(self.dialect, operation, reply)
    }
}

/// The executor's answer as the tests' reply.
fn replied(called: Result<Called, otpbench::client::CallError>) -> (Reply, Observed) {
    let Called {
        exchange, observed, ..
    } = called.expect("the target answers");
    let headers = exchange
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    let reply = Reply {
        status: exchange.status,
        headers,
        body: exchange.body.to_vec(),
    };
    (reply, observed)
}

/// Sends a built request.
pub async fn call(addr: SocketAddr, wire: &WireRequest) -> Reply {
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    headers.extend(wire.headers.iter().map(|(k, v)| (*k, v.as_str())));
    request(addr, "POST", wire.path, &headers, &wire.body).await
}

/// Classifies a reply to `operation` as `dialect`'s client would.
pub fn classify(dialect: Dialect, operation: Operation, reply: &Reply) -> Observed {
    let headers = header_map(reply);
    dialect.classify(operation, &response(reply, &headers))
}

fn header_map(reply: &Reply) -> hyper::HeaderMap {
    let mut headers = hyper::HeaderMap::new();
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn response<'a>(reply: &'a Reply, headers: &'a hyper::HeaderMap) -> WireResponse<'a> {
    WireResponse {
        status: reply.status,
        headers,
        body: &reply.body,
    }
}

/// The codes of every message journaled to `to` (E.164 or e-mail), oldest
/// first: every dialect's template ends with the code.
pub async fn codes_sent_to(addr: SocketAddr, to: &str) -> Vec<String> {
    let to = to.replace('+', "%2B");
    let reply = get(addr, &format!("/_admin/messages?to={to}")).await;
    let messages = reply.json()["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .iter()
        .map(|message| {
            let text = message["text"].as_str().unwrap();
            text.split_whitespace().last().unwrap().to_string()
        })
        .collect()
}

/// The code in the newest message journaled to `to`.
pub async fn latest_code(addr: SocketAddr, to: &str) -> String {
    codes_sent_to(addr, to).await.pop().expect("a message")
}

/// Moves the server's clock forward.
pub async fn advance(addr: SocketAddr, ms: u64) {
    let body = json!({"advance_ms": ms}).to_string();
    let reply = request(
        addr,
        "POST",
        "/_admin/clock",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Asserts status and exact JSON body.
#[track_caller]
pub fn golden(reply: &Reply, status: u16, body: Value) {
    assert_eq!(
        (reply.status, reply.json()),
        (status, body),
        "{}",
        reply.text()
    );
}
