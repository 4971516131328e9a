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
//! phone share its send limits. Delivery cascades through the policy's
//! channels (default sms, telegram, email) that the customer has a
//! contact for — the ones keyed by its phone; a customer here has no
//! e-mail, so e-mail is skipped and "Delivery failed" answered when
//! nothing is left. The first accepted send to a phone creates
//! a customer record with source `loyalty_otp` ([`Customers`], served in
//! test mode at `GET /_admin/customers/<identifier>`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use foldhash::fast::RandomState;
use serde::Serialize;

use crate::delivery::Channel;
use crate::dialect::prelude::*;

/// The REES46 dialect.
pub struct Rees46;

pub(super) const SEND_PATH: &str = "/loyalty/otp/send";
pub(super) const VERIFY_PATH: &str = "/loyalty/otp/verify";
const TENANT: &str = "rees46";
/// The `event` a client sends when the scenario names no purpose.
pub(super) const DEFAULT_EVENT: &str = "default";
/// The source REES46 records on customers it creates.
pub(super) const CUSTOMER_SOURCE: &str = "loyalty_otp";
/// How many customer records are kept (the oldest go first), so memory
/// stays flat under endless load with random phones.
const MAX_CUSTOMERS: usize = 100_000;

/// The channels a customer is reached on: those keyed by its phone. The
/// seed finds the other contacts (e-mail, mobile push…) by phone in the
/// CDP, and every customer here was created from a phone alone, so it has
/// none of them: the cascade skips e-mail and push, and a send with
/// nothing left is 503 "Delivery failed".
const CUSTOMER_CONTACTS: &[Channel] = &[
    Channel::Sms,
    Channel::Telegram,
    Channel::Max,
    Channel::Whatsapp,
];

const IDENTIFIER: &str = "identifier";
const EVENT: &str = "event";

/// Every documented error: outcome, status, message, and for invalid
/// input the field the message is about.
pub(super) const ERRORS: ErrorTable<&str> = ErrorTable::new(&[
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::BAD_REQUEST,
        "Identifier is not valid",
        IDENTIFIER,
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::BAD_REQUEST,
        "Event is not valid",
        EVENT,
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::BAD_REQUEST,
        "Bad request",
        BODY,
    ),
    ErrorRow::keyed(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "Invalid shop credentials",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::WrongCode,
        StatusCode::BAD_REQUEST,
        "Code is not valid",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::Expired,
        StatusCode::BAD_REQUEST,
        "Code expired",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "Code not found",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::RateLimited,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::AttemptsExceeded,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::ProviderUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "Delivery failed",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::StoreUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service unavailable",
        "",
    ),
    INTERNAL_ERROR,
    // Requests that never reach an operation.
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "Not found",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "method",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request too large",
        BODY,
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::REQUEST_TIMEOUT,
        "Request timeout",
        BODY,
    ),
]);

const INTERNAL_ERROR: ErrorRow<&str> = ErrorRow::keyed(
    OutcomeKind::InternalError,
    StatusCode::INTERNAL_SERVER_ERROR,
    "Internal server error",
    "",
);

static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Ваш код подтверждения: {{ code }}", "{{ code }}").expect("has a placeholder")
});

impl Protocol for Rees46 {
    const NAME: &'static str = "rees46";
    const PREFIX: &'static str = "/loyalty/";
    const ALSO_PRODUCES: &'static [OutcomeKind] = &[];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (SEND_PATH, Operation::Send),
        (VERIFY_PATH, Operation::Verify),
    ];

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let (_, phone, event) = admit(context, request)?;
        let policy = &context.config.rees46.policy;
        let mut call = SendCall::new(policy, TENANT, phone, event, &TEMPLATE);
        call.request.reachable = Some(CUSTOMER_CONTACTS);
        Ok(call)
    }

    fn admit_verify(context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let (body, phone, event) = admit(context, request)?;
        let code = body.field("code")?;
        Ok(VerifyCall::by_key(TENANT, phone, &event, code))
    }

    /// The first accepted send to a phone creates its customer.
    fn on_sent(context: &ServeContext<'_>, to: &Identifier) {
        context.state.customers.record(to);
    }

    /// Success or a message; no ids, no counts. Invalid input names only
    /// the identifier or the event; anything else is "Bad request".
    fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
        match outcome {
            Outcome::UnsupportedMediaType => Observed::invalid(Invalid::body(Fault::Invalid)),
            Outcome::Forbidden => Observed::Unauthorized,
            _ => observe_common(outcome, |reason| {
                match ERRORS.by_kind_and(OutcomeKind::InvalidInput, &reason.field()) {
                    Some(row) => Invalid::new(row.extra, Fault::Invalid),
                    None => Invalid::body(Fault::Invalid),
                }
            }),
        }
    }

    fn render(observed: &Observed, _operation: Operation, _id: Option<&str>) -> Reply {
        let kind = observed.kind();
        if matches!(kind, OutcomeKind::Sent | OutcomeKind::Verified) {
            return Reply::json(StatusCode::OK, JSON, &Success { success: true }, kind);
        }
        let row = match observed {
            Observed::InvalidInput { reason } => ERRORS
                .by_kind_and(kind, &reason.field())
                .or_else(|| ERRORS.by_kind_and(kind, &BODY)),
            _ => ERRORS.by_kind(kind),
        };
        error(row.unwrap_or(&INTERNAL_ERROR)).with_retry_after(observed)
    }

    fn reject(rejection: Rejection) -> Reply {
        let row = match rejection {
            Rejection::NotFound => ERRORS.by_status_text(404, "Not found"),
            Rejection::MethodNotAllowed(_) => ERRORS.by_status_text(405, "Method not allowed"),
            Rejection::PayloadTooLarge => ERRORS.by_status_text(413, "Request too large"),
            Rejection::UnreadableBody => ERRORS.by_kind_and(OutcomeKind::InvalidInput, &BODY),
            Rejection::RequestTimeout => ERRORS.by_status_text(408, "Request timeout"),
        };
        error(row.unwrap_or(&INTERNAL_ERROR))
    }

    fn send_request(credentials: &Credentials, _session: &Session, send: &SendOp) -> Built {
        let body = body(credentials, &send.to, send.purpose.as_deref());
        Ok(WireRequest::json(
            SEND_PATH,
            Vec::new(),
            &Value::Object(body),
        ))
    }

    fn verify_request(credentials: &Credentials, _session: &Session, verify: &VerifyOp) -> Built {
        let mut body = body(credentials, &verify.to, verify.purpose.as_deref());
        body.insert("code".into(), verify.code.clone().into());
        Ok(WireRequest::json(
            VERIFY_PATH,
            Vec::new(),
            &Value::Object(body),
        ))
    }

    /// By the seed: `{"success": true}` is success (any 2xx; the seed
    /// fixes no status), `{"success": false, "payload": {"message"}}` an
    /// error. The seed fixes no message but its example, so a message of
    /// [`ERRORS`] (matched without regard to case) says which error, and
    /// any other is read by its status.
    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        const RULE: &str = "the seed's answers are {\"success\": true} or \
                            {\"success\": false, \"payload\": {\"message\": …}}";
        let body = match response.object() {
            Ok(body) => body,
            Err(_) => return response.unrecognized(RULE).into(),
        };
        let success = (200..300).contains(&response.status);
        match body.get("success") {
            Some(Value::Bool(true)) if success => {
                return Classified::plain(match operation {
                    Operation::Verify => Observed::Verified,
                    _ => Observed::Sent(Receipt::default()),
                })
            }
            Some(Value::Bool(true)) => {
                return response
                    .unrecognized(&format!(
                        "{{\"success\": true}} with an error status; {RULE}"
                    ))
                    .into()
            }
            Some(Value::Bool(false)) => {}
            _ => return response.unrecognized(RULE).into(),
        }
        let message = body
            .get("payload")
            .and_then(Value::as_object)
            .and_then(|payload| text(payload, "message"));
        let Some(message) = message else {
            return response.unrecognized(RULE).into();
        };
        // "Too many …" and the 400s share their status; the text decides.
        let known = ERRORS
            .rows()
            .iter()
            .find(|row| row.text.eq_ignore_ascii_case(message.trim()));
        if success {
            // The seed fixes no status, so HTTP's meaning holds: a 2xx
            // says the call succeeded, and the body says it did not.
            return response
                .unrecognized(&format!(
                    "{{\"success\": false}} at a success status contradicts itself; {RULE}"
                ))
                .into();
        }
        // The message tells apart what its status may mean; a message
        // whose meaning the status cannot have does not override it.
        let fits = |row: &ErrorRow<&str>| {
            row.status.as_u16() == response.status
                || by_status(operation, response.status)
                    .is_some_and(|(kind, also)| kind == row.kind || also.contains(&row.kind))
        };
        if let Some(row) = known.filter(|row| fits(row)) {
            let observed = documented(row.kind, response, || {
                Invalid::new(row.extra, Fault::Invalid)
            });
            return match row.status.as_u16() == response.status {
                true => Classified::plain(observed),
                false => Classified::noted(
                    observed,
                    format!(
                        "read by its message {message:?} (DESIGN.md answers it with {}, the seed \
                         fixes no status)",
                        row.status.as_u16()
                    ),
                ),
            };
        }
        let why = match known {
            Some(row) => format!(
                "the message {message:?} means {}, which status {} cannot",
                row.kind.name(),
                response.status
            ),
            None => format!("the message {message:?} is none the seed or DESIGN.md names"),
        };
        read_status(
            operation,
            response,
            &why,
            "an error status that means no outcome",
            || Invalid::body(Fault::Invalid),
        )
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

/// The members either operation reads.
const FIELDS: [&str; 5] = ["shop_id", "shop_secret", IDENTIFIER, EVENT, "code"];

/// The body, the shop credentials, the phone and the event.
fn admit<'a>(
    context: &ServeContext<'_>,
    request: &Request<'a>,
) -> Result<(wire::Fields<'a, 5>, Identifier, String), Refusal> {
    let body = wire::fields(request.body, FIELDS)?;
    let shop = &context.config.rees46;
    let authorized = matches!(
        (body.string("shop_id"), body.string("shop_secret")),
        (Ok(id), Ok(secret)) if secret_eq(id, &shop.shop_id) && secret_eq(secret, &shop.shop_secret)
    );
    if !authorized {
        return Err(Outcome::Unauthorized.into());
    }
    let phone = body.field(IDENTIFIER)?;
    let phone = Identifier::phone(phone).map_err(|_| Invalid::new(IDENTIFIER, Fault::Malformed))?;
    let event = body.field(EVENT)?;
    if !is_event(event) {
        return Err(Invalid::new(EVENT, Fault::Malformed).into());
    }
    let event = event.to_string();
    Ok((body, phone, event))
}

/// `^[A-Za-z0-9_]{1,64}$`.
fn is_event(event: &str) -> bool {
    (1..=64).contains(&event.len())
        && event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[derive(Serialize)]
struct Success {
    success: bool,
}

fn error(row: &ErrorRow<&str>) -> Reply {
    let body = json!({"success": false, "payload": {"message": row.text}});
    Reply::json(row.status, JSON, &body, row.kind)
}

fn body(credentials: &Credentials, to: &str, purpose: Option<&str>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("shop_id".into(), credentials.shop_id.clone().into());
    body.insert("shop_secret".into(), credentials.shop_secret.clone().into());
    body.insert("identifier".into(), to.into());
    body.insert("event".into(), purpose.unwrap_or(DEFAULT_EVENT).into());
    body
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
