//! Layers that get the wire wrong, each the way a shipped OTP service
//! did: no content-type check, a framework's error body instead of the
//! vendor's, a 200 for a wrong code, a 400 for a rate limit, no
//! `Retry-After`, any phone text accepted, a requested code length
//! ignored.
//!
//! Each rewrites requests or answers on the dialects' routes through the
//! proxy in `layer`; none touches the engine.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::dialect::{egyptian_mobile, Dialect, Operation};
use crate::engine::clock::Clock;
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, OutcomeKind};
use crate::mutants::layer::{Answer, Forward, Layer, Route, Upstream};

/// Reads every body as JSON whatever its `Content-Type` says: the 415 a
/// dialect documents never comes (a non-JSON body is a 400, or is read).
pub(crate) struct NoMediaTypeCheck;

#[async_trait]
impl Layer for NoMediaTypeCheck {
    async fn call(&self, route: Route, mut request: Forward, upstream: &Upstream) -> Answer {
        if is_operation(route) && !crate::http::json::is_json(&request.head.headers) {
            request
                .head
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        upstream.send(request).await
    }
}

/// Invalid input is answered by the web framework's default error
/// handler (Spring Boot's), not in the dialect's documented shape: the
/// status is kept, the body is `{"timestamp", "status", "error", "path"}`.
pub(crate) struct FrameworkErrorShape {
    /// The store's clock, for the timestamp.
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl Layer for FrameworkErrorShape {
    async fn call(&self, route: Route, request: Forward, upstream: &Upstream) -> Answer {
        let path = request.head.uri.path().to_string();
        let mut answer = upstream.send(request).await;
        if answer.observed(route).kind() == OutcomeKind::InvalidInput {
            let now = UNIX_EPOCH + Duration::from_millis(self.clock.now_ms());
            let body = json!({
                "timestamp": humantime::format_rfc3339_millis(now).to_string(),
                "status": answer.status.as_u16(),
                "error": answer.status.canonical_reason().unwrap_or("Bad Request"),
                "path": path,
            });
            answer.body = Bytes::from(body.to_string());
            answer
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        answer
    }
}

/// A wrong code is answered 200 (with the error body as it was): the
/// status says success, only the body says otherwise.
pub(crate) struct WrongCodeIs200;

#[async_trait]
impl Layer for WrongCodeIs200 {
    async fn call(&self, route: Route, request: Forward, upstream: &Upstream) -> Answer {
        let mut answer = upstream.send(request).await;
        if route.operation == Operation::Verify
            && answer.observed(route).kind() == OutcomeKind::WrongCode
        {
            answer.status = StatusCode::OK;
        }
        answer
    }
}

/// A rate-limited send is answered 400 instead of 429 (the body as it
/// was): clients that back off on 429 never do.
pub(crate) struct RateLimitIs400;

#[async_trait]
impl Layer for RateLimitIs400 {
    async fn call(&self, route: Route, request: Forward, upstream: &Upstream) -> Answer {
        let mut answer = upstream.send(request).await;
        if answer.observed(route).kind() == OutcomeKind::RateLimited {
            answer.status = StatusCode::BAD_REQUEST;
        }
        answer
    }
}

/// Answers carry no `Retry-After` header (the body's own retry field,
/// where there is one, stays).
pub(crate) struct NoRetryAfter;

#[async_trait]
impl Layer for NoRetryAfter {
    async fn call(&self, _route: Route, request: Forward, upstream: &Upstream) -> Answer {
        let mut answer = upstream.send(request).await;
        answer.headers.remove(RETRY_AFTER);
        answer
    }
}

/// Takes any text as a phone number: what the dialect would refuse as
/// malformed is sent anyway (the layer hands the engine a stand-in
/// number made from the text, so the same text is the same recipient).
/// Missing, empty or non-string recipients are still refused: the
/// framework's schema check catches those.
pub(crate) struct AnyPhoneAccepted;

#[async_trait]
impl Layer for AnyPhoneAccepted {
    fn reads(&self, route: Route) -> bool {
        is_operation(route)
    }

    async fn call(&self, route: Route, mut request: Forward, upstream: &Upstream) -> Answer {
        if let Some(mut body) = request.json() {
            let stand_in = recipient(&mut body, route.dialect).and_then(|value| {
                let text = value.as_str()?;
                let refused = !text.trim().is_empty()
                    && !text.contains('@')
                    && !accepts_phone(route.dialect, text);
                refused.then(|| stand_in_phone(route.dialect, text))
            });
            if let Some(phone) = stand_in {
                if let Some(value) = recipient(&mut body, route.dialect) {
                    *value = Value::String(phone);
                }
                request.set_json(body);
            }
        }
        upstream.send(request).await
    }
}

/// Ignores the code length a send asks for (Nomado's `length`): every
/// code has the configured default length.
pub(crate) struct LengthIgnored;

#[async_trait]
impl Layer for LengthIgnored {
    fn reads(&self, route: Route) -> bool {
        route.operation == Operation::Send
    }

    async fn call(&self, _route: Route, mut request: Forward, upstream: &Upstream) -> Answer {
        if let Some(mut body) = request.json() {
            if body.remove("length").is_some() {
                request.set_json(body);
            }
        }
        upstream.send(request).await
    }
}

fn is_operation(route: Route) -> bool {
    matches!(route.operation, Operation::Send | Operation::Verify)
}

/// The field a dialect's request names its recipient in (Valify's may be
/// wrapped in `data`).
pub(crate) fn recipient(body: &mut Map<String, Value>, dialect: Dialect) -> Option<&mut Value> {
    let name = match dialect {
        Dialect::Native | Dialect::Nomado => "to",
        Dialect::Rees46 => "identifier",
        Dialect::Sigmasms => "recipient",
        Dialect::Valify => "phone_number",
        Dialect::Loyaltydog => "target",
    };
    if dialect == Dialect::Valify && matches!(body.get("data"), Some(Value::Object(_))) {
        return body.get_mut("data")?.as_object_mut()?.get_mut(name);
    }
    body.get_mut(name)
}

/// Whether the dialect takes `text` as a phone number.
fn accepts_phone(dialect: Dialect, text: &str) -> bool {
    match dialect {
        Dialect::Valify => egyptian_mobile(text).is_some(),
        _ => Identifier::phone(text).is_ok(),
    }
}

/// A number the dialect accepts, the same for the same text: a US
/// number in the 415 area (an Egyptian mobile for Valify).
fn stand_in_phone(dialect: Dialect, text: &str) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    let n = hasher.finish();
    match dialect {
        Dialect::Valify => format!("010{:08}", n % 100_000_000),
        _ => format!("1415{:07}", n % 10_000_000),
    }
}

/// The dialect's answer for `observed`, as the engine would render it.
pub(crate) fn rendered(route: Route, observed: &Observed) -> Answer {
    let reply = route.dialect.render(observed, route.operation, None);
    Answer {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_in_numbers_are_phones_the_dialect_accepts_and_stable() {
        for dialect in Dialect::ALL {
            let a = stand_in_phone(dialect, "not a phone");
            assert!(accepts_phone(dialect, &a), "{dialect}: {a}");
            assert_eq!(a, stand_in_phone(dialect, "not a phone"));
            assert_ne!(a, stand_in_phone(dialect, "not a phone either"));
        }
    }

    #[test]
    fn the_recipient_is_found_where_each_dialect_names_it() {
        let mut wrapped = json!({"data": {"phone_number": "x"}});
        let wrapped = wrapped.as_object_mut().unwrap();
        assert_eq!(
            recipient(wrapped, Dialect::Valify),
            Some(&mut Value::String("x".into()))
        );
        let mut plain = json!({"identifier": "y"});
        let plain = plain.as_object_mut().unwrap();
        assert_eq!(
            recipient(plain, Dialect::Rees46),
            Some(&mut Value::String("y".into()))
        );
        assert_eq!(recipient(plain, Dialect::Native), None);
    }
}
