//! Test-mode routes under `/_admin/` (absent, 404, without `--test-mode`):
//! move the clock, reset all state, read the message journal.
//!
//! - `GET /_admin/clock` → `{"now_ms"}`; `POST /_admin/clock`
//!   `{"advance_ms": n}` → `{"now_ms"}`. Time only moves forward, at most
//!   [`MAX_ADVANCE_MS`] (ten years) per call and never past the year 9999
//!   (400 otherwise). The clock is the store's: with Redis, every
//!   replica's.
//! - `POST /_admin/reset` → 204: forgets every challenge, send log and
//!   journaled message (the clock keeps its offset).
//! - `GET /_admin/messages?to=&channel=&after=&wait_ms=` → the journal in
//!   the shape of the journal's wire view (`delivery::journal`);
//!   `DELETE /_admin/messages` → 204.
//! - `GET /_admin/customers/<phone>` → `{"identifier", "source"}` for a
//!   customer REES46 created on a first send (404 otherwise, its detail
//!   naming the identifier: the customer is unknown, not the path).
//!
//! Errors are native problem+json.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use hyper::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::delivery::journal::{percent_decode, JournalQuery};
use crate::dialect::{not_found_native, reject_native, render_native, Rejection};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Fault, Invalid, Outcome};
use crate::http::json;
use crate::server::State;
use crate::store::StoreError;

pub(crate) async fn handle(
    state: &State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let reply = match (path, method) {
        ("/_admin/clock", &Method::GET) => Ok(now(state).await),
        ("/_admin/clock", &Method::POST) => advance(state, body).await,
        ("/_admin/clock", _) => Err(Rejection::MethodNotAllowed("GET, POST")),
        ("/_admin/reset", &Method::POST) => Ok(reset(state).await),
        ("/_admin/reset", _) => Err(Rejection::MethodNotAllowed("POST")),
        ("/_admin/messages", &Method::GET) => messages(state, query).await,
        ("/_admin/messages", &Method::DELETE) => match &state.config.provider {
            Some(_) => messages(state, None).await,
            None => {
                state.journal.clear();
                Ok(no_content())
            }
        },
        ("/_admin/messages", _) => Err(Rejection::MethodNotAllowed("GET, DELETE")),
        (path, method) if path.starts_with(CUSTOMERS) => match *method {
            Method::GET => customer(state, &path[CUSTOMERS.len()..]),
            _ => Err(Rejection::MethodNotAllowed("GET")),
        },
        _ => Err(Rejection::NotFound),
    };
    match reply {
        Ok(response) => response,
        Err(rejection) => reject_native(rejection).into_response(),
    }
}

const CUSTOMERS: &str = "/_admin/customers/";

fn customer(state: &State, phone: &str) -> Result<Response<Full<Bytes>>, Rejection> {
    let Some(phone) = percent_decode(phone) else {
        return Ok(invalid(
            Invalid::new("identifier", Fault::Malformed)
                .because(format!("{phone:?}: bad percent-encoding")),
        ));
    };
    let Ok(phone) = Identifier::phone(&phone) else {
        return Ok(invalid(
            Invalid::new("identifier", Fault::Malformed)
                .because(format!("{phone:?} is not a phone number")),
        ));
    };
    match state.dialects.customers.get(&phone) {
        Some(customer) => Ok(ok_json(&customer)),
        None => Ok(not_found_native(format!(
            "no customer with identifier {phone}: REES46 creates one on the first accepted send"
        ))
        .into_response()),
    }
}

fn invalid(reason: Invalid) -> Response<Full<Bytes>> {
    render_native(&Outcome::InvalidInput { reason }).into_response()
}

fn ok_json(body: &impl Serialize) -> Response<Full<Bytes>> {
    json::response(StatusCode::OK, "application/json", body)
}

fn no_content() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[derive(Serialize)]
struct Now {
    now_ms: u64,
}

async fn now(state: &State) -> Response<Full<Bytes>> {
    match state.engine.now_ms().await {
        Ok(now_ms) => ok_json(&Now { now_ms }),
        Err(error) => store_failure(error),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_ms: u64,
}

/// The longest jump one `POST /_admin/clock` may make: ten years (of 366
/// days) — past every ttl, window and token lifetime a scenario crosses.
pub(crate) const MAX_ADVANCE_MS: u64 = 10 * 366 * 86_400_000;
/// The latest time the clock may be moved to: 9999-12-31T23:59:59.999Z,
/// the last instant an RFC 3339 date (the journal's `received_at`) can
/// name, and far inside what every store's expiry arithmetic takes.
pub(crate) const MAX_NOW_MS: u64 = crate::engine::clock::LATEST_MS;

async fn advance(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Rejection> {
    let advance_ms = match serde_json::from_slice::<Advance>(body) {
        Ok(Advance { advance_ms }) => advance_ms,
        Err(error) => {
            return Ok(invalid(Invalid::body(Fault::Malformed).because(format!(
                "expected {{\"advance_ms\": <whole milliseconds ≥ 0>}}: {error}"
            ))))
        }
    };
    if advance_ms > MAX_ADVANCE_MS {
        return Ok(invalid(
            Invalid::new("advance_ms", Fault::OutOfRange).because(format!(
                "advance_ms: at most {MAX_ADVANCE_MS} (ten years) per call"
            )),
        ));
    }
    if state.engine.clock().now_ms().saturating_add(advance_ms) > MAX_NOW_MS {
        return Ok(invalid(
            Invalid::new("advance_ms", Fault::OutOfRange)
                .because("advance_ms: the clock would pass 9999-12-31T23:59:59.999Z"),
        ));
    }
    match state.engine.advance_clock(advance_ms).await {
        Ok(Some(now_ms)) => Ok(ok_json(&Now { now_ms })),
        Ok(None) => Err(Rejection::NotFound),
        Err(error) => Ok(store_failure(error)),
    }
}

fn store_failure(error: StoreError) -> Response<Full<Bytes>> {
    let outcome = match error {
        StoreError::Unavailable(_) => Outcome::StoreUnavailable {
            retry_after: Duration::from_secs(1),
        },
        StoreError::Corrupt(_) => Outcome::InternalError,
    };
    render_native(&outcome).into_response()
}

async fn reset(state: &State) -> Response<Full<Bytes>> {
    match state.engine.reset().await {
        Ok(()) => {
            state.journal.clear();
            state.dialects.customers.clear();
            no_content()
        }
        Err(_) => {
            let outcome = Outcome::StoreUnavailable {
                retry_after: Duration::from_secs(1),
            };
            render_native(&outcome).into_response()
        }
    }
}

async fn messages(state: &State, query: Option<&str>) -> Result<Response<Full<Bytes>>, Rejection> {
    if let Some(provider) = &state.config.provider {
        let reason =
            format!("messages are delivered to the provider; read {provider}/_admin/messages");
        return Ok(invalid(
            Invalid::new("provider", Fault::Invalid).because(reason),
        ));
    }
    match JournalQuery::parse(query) {
        Ok(query) => Ok(ok_json(&query.read(&state.journal, &state.stopping).await)),
        Err(reason) => Ok(invalid(
            Invalid::new("query", Fault::Malformed).because(reason),
        )),
    }
}
