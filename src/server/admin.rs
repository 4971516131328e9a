//! Test-mode routes under `/_admin/` (absent, 404, without `--test-mode`):
//! move the clock, reset all state, read the message journal.
//!
//! - `GET /_admin/clock` → `{"now_ms"}`; `POST /_admin/clock`
//!   `{"advance_ms": n}` → `{"now_ms"}`. Time only moves forward. The
//!   clock is the store's: with Redis, every replica's.
//! - `POST /_admin/reset` → 204: forgets every challenge, send log and
//!   journaled message (the clock keeps its offset).
//! - `GET /_admin/messages?to=&channel=&after=&wait_ms=` → the journal in
//!   the shape of [`super::journal_api`]; `DELETE /_admin/messages` → 204.
//! - `GET /_admin/customers/<phone>` → `{"identifier", "source"}` for a
//!   customer REES46 created on a first send (404 otherwise).
//!
//! Errors are native problem+json.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use hyper::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::dialect::{json_response, native, Rejection};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::Outcome;
use crate::server::{journal_api, State};
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
        Err(rejection) => native::reject(rejection).response,
    }
}

const CUSTOMERS: &str = "/_admin/customers/";

fn customer(state: &State, phone: &str) -> Result<Response<Full<Bytes>>, Rejection> {
    let Some(phone) = journal_api::percent_decode(phone) else {
        return Ok(invalid(format!("{phone:?}: bad percent-encoding")));
    };
    let Ok(phone) = Identifier::phone(&phone) else {
        return Ok(invalid(format!("{phone:?} is not a phone number")));
    };
    match state.dialects.customers.get(&phone) {
        Some(customer) => Ok(ok_json(&customer)),
        None => Err(Rejection::NotFound),
    }
}

fn invalid(reason: String) -> Response<Full<Bytes>> {
    native::render_outcome(&Outcome::InvalidInput { reason }).response
}

fn ok_json(body: &impl Serialize) -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, "application/json", body)
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
    match state.engine.store().now_ms().await {
        Ok(now_ms) => ok_json(&Now { now_ms }),
        Err(error) => store_failure(error),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_ms: u64,
}

async fn advance(state: &State, body: &[u8]) -> Result<Response<Full<Bytes>>, Rejection> {
    let advance_ms = match serde_json::from_slice::<Advance>(body) {
        Ok(Advance { advance_ms }) => advance_ms,
        Err(error) => {
            return Ok(invalid(format!(
                "expected {{\"advance_ms\": <whole milliseconds ≥ 0>}}: {error}"
            )))
        }
    };
    match state.engine.store().advance_clock(advance_ms).await {
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
    native::render_outcome(&outcome).response
}

async fn reset(state: &State) -> Response<Full<Bytes>> {
    match state.engine.store().reset().await {
        Ok(()) => {
            state.journal.clear();
            state.dialects.customers.clear();
            no_content()
        }
        Err(_) => {
            let outcome = Outcome::StoreUnavailable {
                retry_after: Duration::from_secs(1),
            };
            native::render_outcome(&outcome).response
        }
    }
}

async fn messages(state: &State, query: Option<&str>) -> Result<Response<Full<Bytes>>, Rejection> {
    if let Some(provider) = &state.config.provider {
        let reason =
            format!("messages are delivered to the provider; read {provider}/_admin/messages");
        return Ok(invalid(reason));
    }
    match journal_api::JournalQuery::parse(query) {
        Ok(query) => Ok(ok_json(&query.read(&state.journal, &state.stopping).await)),
        Err(reason) => Ok(invalid(reason)),
    }
}
