//! The REES46 dialect (seed `000_5a16c3addee4376e.txt`, DESIGN.md §3
//! "rees46"): loyalty-programme OTPs keyed by phone and `event`.
//!
//! - `POST /loyalty/otp/send` `{"shop_id", "shop_secret", "identifier",
//!   "event"}` → 200 `{"success": true}`.
//! - `POST /loyalty/otp/verify` the same fields plus `"code"` → 200
//!   `{"success": true}`.
//! - Errors `{"success": false, "payload": {"message": "…"}}` with the
//!   texts of [`ERRORS`]; 429 and the store's 503 add `Retry-After`.
//!
//! Checks run in this order: a JSON object (else 400 "Bad request"), shop
//! credentials (401), `identifier` (a possible phone number), `event`
//! (`^[A-Za-z0-9_]{1,64}$`), and for verify `code` (a string). The content
//! type is not checked: the vendor's own example is what `curl` sends.
//! Each `event` is an independent challenge for the phone; all events of a
//! phone share its send limits. The first accepted send to a phone creates
//! a customer record with source `loyalty_otp` ([`Customers`], served in
//! test mode at `GET /_admin/customers/<identifier>`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use foldhash::fast::RandomState;

use hyper::StatusCode;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::delivery::Template;
use crate::dialect::client::{text, ClientError, Credentials, SendOp, VerifyOp, WireRequest};
use crate::dialect::wire::{self, with_retry_after};
use crate::dialect::{
    documented, observe_common, secret_eq, Operation, Rejection, Reply, Request, ServeContext,
    WireResponse,
};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::ChallengeRef;
use crate::engine::{SendRequest, VerifyRequest};

pub(crate) const PREFIX: &str = "/loyalty/";
pub const SEND_PATH: &str = "/loyalty/otp/send";
pub const VERIFY_PATH: &str = "/loyalty/otp/verify";
const TENANT: &str = "rees46";
/// The `event` a client sends when the scenario names no purpose.
pub const DEFAULT_EVENT: &str = "default";
/// The source REES46 records on customers it creates.
pub const CUSTOMER_SOURCE: &str = "loyalty_otp";
/// How many customer records are kept (the oldest go first), so memory
/// stays flat under endless load with random phones.
const MAX_CUSTOMERS: usize = 100_000;

const IDENTIFIER_INVALID: &str = "Identifier is not valid";
const EVENT_INVALID: &str = "Event is not valid";
const BAD_REQUEST: &str = "Bad request";

/// Every documented error: outcome, status, message.
pub const ERRORS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::InvalidInput, 400, IDENTIFIER_INVALID),
    (OutcomeKind::InvalidInput, 400, EVENT_INVALID),
    (OutcomeKind::InvalidInput, 400, BAD_REQUEST),
    (OutcomeKind::Unauthorized, 401, "Invalid shop credentials"),
    (OutcomeKind::WrongCode, 400, "Code is not valid"),
    (OutcomeKind::Expired, 400, "Code expired"),
    (OutcomeKind::NotFound, 404, "Code not found"),
    (OutcomeKind::RateLimited, 429, "Too many requests"),
    (OutcomeKind::AttemptsExceeded, 429, "Too many attempts"),
    (OutcomeKind::ProviderUnavailable, 503, "Delivery failed"),
    (OutcomeKind::StoreUnavailable, 503, "Service unavailable"),
    (OutcomeKind::InternalError, 500, "Internal server error"),
    // Requests that never reach an operation.
    (OutcomeKind::NotFound, 404, "Not found"),
    (OutcomeKind::InvalidInput, 405, "Method not allowed"),
    (OutcomeKind::InvalidInput, 413, "Request too large"),
];

/// What this dialect answers besides [`super::COMMON_OUTCOMES`].
pub(crate) const ALSO_PRODUCES: &[OutcomeKind] = &[];

static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Ваш код подтверждения: {{ code }}", "{{ code }}").expect("has a placeholder")
});

pub(crate) fn route(path: &str) -> Option<Operation> {
    match path {
        SEND_PATH => Some(Operation::Send),
        VERIFY_PATH => Some(Operation::Verify),
        _ => None,
    }
}

/// Customers created by OTP sends: phone (E.164) → source.
#[derive(Default)]
pub struct Customers {
    inner: Mutex<CustomerBook>,
}

#[derive(Default)]
struct CustomerBook {
    /// foldhash, not SipHash: the book is looked up on every send, and its
    /// keys are normalised phone numbers, not attacker-chosen hash floods
    /// (the hasher is still keyed per process).
    by_phone: HashMap<Arc<str>, &'static str, RandomState>,
    /// Creation order, for evicting the oldest.
    order: VecDeque<Arc<str>>,
}

/// A customer record as the admin route shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub identifier: String,
    pub source: &'static str,
}

impl Customers {
    /// Creates the customer unless it exists.
    pub fn record(&self, phone: &Identifier) {
        let mut book = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if book.by_phone.contains_key(phone.as_str()) {
            return;
        }
        if book.order.len() >= MAX_CUSTOMERS {
            if let Some(oldest) = book.order.pop_front() {
                book.by_phone.remove(&oldest);
            }
        }
        let phone: Arc<str> = phone.as_str().into();
        book.by_phone.insert(phone.clone(), CUSTOMER_SOURCE);
        book.order.push_back(phone);
    }

    /// The customer with this phone, if one was created.
    pub fn get(&self, phone: &Identifier) -> Option<Customer> {
        let book = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        book.by_phone.get(phone.as_str()).map(|&source| Customer {
            identifier: phone.as_str().to_string(),
            source,
        })
    }

    /// Forgets every customer (`/_admin/reset`).
    pub fn clear(&self) {
        let mut book = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        book.by_phone.clear();
        book.order.clear();
    }
}

pub(crate) async fn serve(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    let outcome = match request.operation {
        Operation::Send => send(context, &request).await,
        Operation::Verify => verify(context, &request).await,
        Operation::Token | Operation::Other => return reject(Rejection::NotFound),
    };
    let outcome = outcome.unwrap_or_else(|refused| refused);
    render(
        &observe(&outcome, context.echo_codes),
        request.operation,
        None,
    )
}

/// The body, the shop credentials, the phone and the event.
fn admit(
    context: &ServeContext<'_>,
    request: &Request<'_>,
) -> Result<(Map<String, Value>, Identifier, String), Outcome> {
    let body = wire::object(request.body).ok_or_else(|| Outcome::invalid(BAD_REQUEST))?;
    let shop = &context.config.rees46;
    let authorized = matches!(
        (wire::string(&body, "shop_id"), wire::string(&body, "shop_secret")),
        (Ok(id), Ok(secret)) if secret_eq(id, &shop.shop_id) && secret_eq(secret, &shop.shop_secret)
    );
    if !authorized {
        return Err(Outcome::Unauthorized);
    }
    let phone = wire::string(&body, "identifier")
        .ok()
        .and_then(|text| Identifier::phone(text).ok())
        .ok_or_else(|| Outcome::invalid(IDENTIFIER_INVALID))?;
    let event = match wire::string(&body, "event") {
        Ok(event) if is_event(event) => event.to_string(),
        _ => return Err(Outcome::invalid(EVENT_INVALID)),
    };
    Ok((body, phone, event))
}

/// `^[A-Za-z0-9_]{1,64}$`.
fn is_event(event: &str) -> bool {
    (1..=64).contains(&event.len())
        && event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn send(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Outcome, Outcome> {
    let (_, phone, event) = admit(context, request)?;
    let send = SendRequest {
        tenant: TENANT.to_string(),
        to: phone.clone(),
        purpose: event,
        channel: None,
        template: TEMPLATE.clone(),
        from: None,
    };
    let outcome = context
        .engine
        .send(&context.config.rees46.policy, send)
        .await;
    if matches!(outcome, Outcome::Sent(_)) {
        context.state.customers.record(&phone);
    }
    Ok(outcome)
}

async fn verify(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Outcome, Outcome> {
    let (body, phone, event) = admit(context, request)?;
    let code = wire::string(&body, "code").map_err(|_| Outcome::invalid(BAD_REQUEST))?;
    let by = ChallengeRef::Key {
        tenant: TENANT.to_string(),
        to: phone,
        purpose: event,
    };
    Ok(context
        .engine
        .verify(VerifyRequest {
            by,
            code: code.to_string(),
        })
        .await)
}

/// What REES46 shows of an outcome: success or a message; no ids, no
/// counts.
pub(crate) fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
    match observe_common(outcome) {
        Observed::InvalidInput { reason }
            if reason == IDENTIFIER_INVALID || reason == EVENT_INVALID =>
        {
            Observed::InvalidInput { reason }
        }
        Observed::InvalidInput { .. } | Observed::UnsupportedMediaType => {
            Observed::invalid(BAD_REQUEST)
        }
        Observed::Forbidden => Observed::Unauthorized,
        other => other,
    }
}

pub(crate) fn render(observed: &Observed, _operation: Operation, _id: Option<&str>) -> Reply {
    let kind = observed.kind();
    if matches!(kind, OutcomeKind::Sent | OutcomeKind::Verified) {
        return Reply::json(
            StatusCode::OK,
            "application/json",
            &Success { success: true },
            kind,
        );
    }
    let (kind, status, message) = match observed {
        Observed::InvalidInput { reason } => ERRORS
            .iter()
            .find(|(k, _, text)| *k == kind && text == reason)
            .copied()
            .unwrap_or((kind, 400, BAD_REQUEST)),
        _ => ERRORS
            .iter()
            .find(|(k, _, _)| *k == kind)
            .copied()
            .unwrap_or((OutcomeKind::InternalError, 500, "Internal server error")),
    };
    with_retry_after(error(status, message, kind), observed)
}

#[derive(Serialize)]
struct Success {
    success: bool,
}

fn error(status: u16, message: &str, kind: OutcomeKind) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"success": false, "payload": {"message": message}});
    Reply::json(status, "application/json", &body, kind)
}

pub(crate) fn reject(rejection: Rejection) -> Reply {
    let (status, message) = match rejection {
        Rejection::NotFound => (404, "Not found"),
        Rejection::MethodNotAllowed(_) => (405, "Method not allowed"),
        Rejection::PayloadTooLarge => (413, "Request too large"),
        Rejection::UnreadableBody => (400, BAD_REQUEST),
    };
    error(
        status,
        message,
        crate::dialect::rejection_outcome(rejection),
    )
}

fn body(credentials: &Credentials, to: &str, purpose: Option<&str>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("shop_id".into(), credentials.shop_id.clone().into());
    body.insert("shop_secret".into(), credentials.shop_secret.clone().into());
    body.insert("identifier".into(), to.into());
    body.insert("event".into(), purpose.unwrap_or(DEFAULT_EVENT).into());
    body
}

pub(crate) fn send_request(
    credentials: &Credentials,
    send: &SendOp,
) -> Result<WireRequest, ClientError> {
    let body = body(credentials, &send.to, send.purpose.as_deref());
    Ok(WireRequest::json(
        SEND_PATH,
        Vec::new(),
        &Value::Object(body),
    ))
}

pub(crate) fn verify_request(
    credentials: &Credentials,
    verify: &VerifyOp,
) -> Result<WireRequest, ClientError> {
    let mut body = body(credentials, &verify.to, verify.purpose.as_deref());
    body.insert("code".into(), verify.code.clone().into());
    Ok(WireRequest::json(
        VERIFY_PATH,
        Vec::new(),
        &Value::Object(body),
    ))
}

pub(crate) fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    if response.status == 200 {
        return match (body.get("success"), operation) {
            (Some(Value::Bool(true)), Operation::Send) => Observed::Sent(Receipt::default()),
            (Some(Value::Bool(true)), Operation::Verify) => Observed::Verified,
            _ => response.unrecognized("a 200 that is not {\"success\": true} for send or verify"),
        };
    }
    let message = body
        .get("payload")
        .and_then(Value::as_object)
        .and_then(|payload| text(payload, "message"));
    let (Some(Value::Bool(false)), Some(message)) = (body.get("success"), message) else {
        return response.unrecognized("an error without success: false and payload.message");
    };
    match ERRORS
        .iter()
        .find(|(_, status, text)| *status == response.status && *text == message)
    {
        Some(&(kind, _, text)) => documented(kind, text, response),
        None => response.unrecognized("an undocumented status and message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_follow_the_documented_pattern() {
        for good in ["verify_phone", "password_recovery", "A1", &"x".repeat(64)] {
            assert!(is_event(good), "{good}");
        }
        for bad in ["", "a-b", "смс", "a b", &"x".repeat(65)] {
            assert!(!is_event(bad), "{bad}");
        }
    }

    #[test]
    fn customers_are_created_once_and_the_oldest_evicted() {
        let customers = Customers::default();
        let first = Identifier::phone("79991234567").unwrap();
        customers.record(&first);
        customers.record(&first);
        assert_eq!(
            customers.get(&first),
            Some(Customer {
                identifier: "+79991234567".into(),
                source: CUSTOMER_SOURCE
            })
        );
        for n in 0..MAX_CUSTOMERS {
            customers.record(&Identifier::phone(&format!("+1415{n:07}")).unwrap());
        }
        assert_eq!(customers.get(&first), None);
        let book = customers.inner.lock().unwrap();
        assert_eq!(book.by_phone.len(), MAX_CUSTOMERS);
        assert_eq!(book.order.len(), MAX_CUSTOMERS);
    }
}
