//! The Valify dialect (seed `002_940990e6b487a628.txt`, DESIGN.md §3
//! "valify"): OTPs to Egyptian mobile numbers.
//!
//! - `POST /api/v1/otp/send/` Bearer, `Content-Type: application/json`,
//!   `{"phone_number": "01…", "bundle_key", "lang": "en"|"ar"?}` (or the
//!   same wrapped in `{"data": {…}}`) → 200 `{"result": {"success": true},
//!   "transaction_id": uuid, "trials_remaining": n}` where `n` is the sends
//!   left in the tightest window (`null` without limits).
//! - `POST /api/v1/otp/verify/` Bearer `{"transaction_id", "otp",
//!   "bundle_key"}` (or wrapped) → 200 `{"result": {"verified": true},
//!   "transaction_id": uuid}`.
//! - Errors `{"message"}` with the seed's texts (400, 401, 403, 404, 415,
//!   500 — also for an unavailable store), domain errors 422 `{"message",
//!   "error_code"}` ([`DOMAIN_ERRORS`]).
//!
//! Checks run in this order: content type (415), access token (403 — the
//! seed's "access_token could not be found"; observed as `forbidden`), a
//! JSON object with string fields (400), bundle key (401; observed as
//! `unauthorized`), `lang` (400), then the phone: a *valid* Egyptian
//! mobile number by libphonenumber's pattern (422 1001), written with
//! the prefix `+20`, `0020` or `0` and single spaces or dashes between
//! digit groups, nothing else around it. The `lang` picks the SMS text; errors are in
//! English. Paths are taken with or without the trailing slash.

use std::sync::LazyLock;

use uuid::Uuid;

use crate::dialect::prelude::*;

/// The Valify dialect.
pub struct Valify;

pub(super) const SEND_PATH: &str = "/api/v1/otp/send/";
pub(super) const VERIFY_PATH: &str = "/api/v1/otp/verify/";
const TENANT: &str = "valify";
/// One purpose: Valify has none.
const PURPOSE: &str = "otp";
const PHONE_NUMBER: &str = "phone_number";

/// Errors in the plain `{"message"}` shape: outcome, status, text.
pub(super) const ERRORS: ErrorTable = ErrorTable::new(&[
    ErrorRow::new(
        OutcomeKind::InvalidInput,
        StatusCode::BAD_REQUEST,
        "Bad Request – invalid request received (e.g. missing Bundle key, required parameters or invalid json) | Make sure all the required parameters are included",
    ),
    ErrorRow::new(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "Unauthorized – your Bundle key is invalid",
    ),
    ErrorRow::new(
        OutcomeKind::Forbidden,
        StatusCode::FORBIDDEN,
        "Forbidden – specified access_token could not be found",
    ),
    ErrorRow::new(OutcomeKind::NotFound, StatusCode::NOT_FOUND, "Not Found"),
    ErrorRow::new(
        OutcomeKind::InvalidInput,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
    ),
    ErrorRow::new(
        OutcomeKind::InvalidInput,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
    ),
    ErrorRow::new(
        OutcomeKind::InvalidInput,
        StatusCode::REQUEST_TIMEOUT,
        "Request Timeout",
    ),
    ErrorRow::new(
        OutcomeKind::UnsupportedMediaType,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported Media Type",
    ),
    // Also an unavailable store's answer: the one 5xx Valify documents.
    INTERNAL_ERROR,
]);

const INTERNAL_ERROR: ErrorRow = ErrorRow::new(
    OutcomeKind::InternalError,
    StatusCode::INTERNAL_SERVER_ERROR,
    "Internal Server Error",
);

/// Domain errors, 422 `{"message", "error_code"}`: outcome, text, code.
pub(super) const DOMAIN_ERRORS: ErrorTable<u32> = ErrorTable::new(&[
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid phone number",
        INVALID_PHONE,
    ),
    ErrorRow::keyed(
        OutcomeKind::RateLimited,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Maximum number of trials reached",
        1002,
    ),
    ErrorRow::keyed(
        OutcomeKind::WrongCode,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid OTP",
        1003,
    ),
    ErrorRow::keyed(
        OutcomeKind::Expired,
        StatusCode::UNPROCESSABLE_ENTITY,
        "OTP expired",
        1004,
    ),
    ErrorRow::keyed(
        OutcomeKind::AttemptsExceeded,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Maximum number of verification attempts exceeded",
        1005,
    ),
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unknown transaction ID",
        1006,
    ),
    ErrorRow::keyed(
        OutcomeKind::ProviderUnavailable,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Failed to deliver OTP",
        1007,
    ),
]);

/// The domain error of a phone that is not a valid Egyptian mobile.
const INVALID_PHONE: u32 = 1001;

static TEMPLATE_EN: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Your verification code is {{code}}", "{{code}}").expect("has a placeholder")
});
static TEMPLATE_AR: LazyLock<Template> = LazyLock::new(|| {
    Template::new("رمز التحقق الخاص بك هو {{code}}", "{{code}}").expect("has a placeholder")
});

impl Protocol for Valify {
    const NAME: &'static str = "valify";
    const PREFIX: &'static str = "/api/";
    const ALSO_PRODUCES: &'static [OutcomeKind] =
        &[OutcomeKind::Forbidden, OutcomeKind::UnsupportedMediaType];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (SEND_PATH, Operation::Send),
        ("/api/v1/otp/send", Operation::Send),
        (VERIFY_PATH, Operation::Verify),
        ("/api/v1/otp/verify", Operation::Verify),
    ];

    /// Content type, then the access token, before the body is read.
    fn admit_headers(
        context: &ServeContext<'_>,
        _: Operation,
        headers: &HeaderMap,
    ) -> Admitted<()> {
        // The seed names `application/json`; a JSON-based type such as
        // `application/problem+json` is not it.
        if !crate::http::json::is_application_json(headers) {
            return Err(Outcome::UnsupportedMediaType.into());
        }
        require_bearer(headers, &context.config.valify.bearer, Outcome::Forbidden)
    }

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let body = admit(context, request, SEND_FIELDS)?;
        let template = match body.optional("lang") {
            Ok(None | Some("en")) => &*TEMPLATE_EN,
            Ok(Some("ar")) => &*TEMPLATE_AR,
            Ok(Some(_)) => return Err(Invalid::new("lang", Fault::Malformed).into()),
            Err(fault) => return Err(Invalid::new("lang", fault).into()),
        };
        let phone = body.field(PHONE_NUMBER)?;
        let to =
            egyptian_mobile(phone).ok_or_else(|| Invalid::new(PHONE_NUMBER, Fault::Malformed))?;
        let policy = &context.config.valify.policy;
        Ok(SendCall::new(policy, TENANT, to, PURPOSE, template))
    }

    fn admit_verify(context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let body = admit(context, request, VERIFY_FIELDS)?;
        let id = body.field("transaction_id")?;
        let otp = body.field("otp")?;
        // An id that is no UUID names no transaction: 1006, like any other.
        let Ok(uuid) = Uuid::parse_str(id) else {
            return Err(Outcome::NotFound.into());
        };
        Ok(VerifyCall::by_id(TENANT, uuid, otp).quoting(id))
    }

    /// The transaction id and sends left of a send; a message (and code)
    /// otherwise. Invalid input is the phone's 1001 or the one 400; an
    /// unavailable store is the one documented 5xx, 500 "Internal Server
    /// Error", so that is what a client sees of it.
    fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
        match outcome {
            Outcome::Sent(sent) => Observed::Sent(Receipt {
                id: Some(sent.id.to_string()),
                sends_remaining: sent.sends_remaining,
                ..Receipt::default()
            }),
            Outcome::StoreUnavailable { .. } => Observed::InternalError,
            _ => observe_common(outcome, |reason| {
                let phone = reason.field() == PHONE_NUMBER
                    && matches!(reason.fault(), Fault::Malformed | Fault::Invalid);
                invalid(phone)
            }),
        }
    }

    fn render(observed: &Observed, _operation: Operation, id: Option<&str>) -> Reply {
        let kind = observed.kind();
        match observed {
            Observed::Sent(receipt) => {
                let body = json!({
                    "result": {"success": true},
                    "transaction_id": receipt.id.as_deref().unwrap_or_default(),
                    "trials_remaining": receipt.sends_remaining,
                });
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            Observed::Verified => {
                let body = json!({
                    "result": {"verified": true},
                    "transaction_id": id.unwrap_or_default(),
                });
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            _ => {}
        }
        let domain = match observed {
            Observed::InvalidInput { reason } if reason.field() == PHONE_NUMBER => {
                DOMAIN_ERRORS.by_key(&INVALID_PHONE)
            }
            Observed::InvalidInput { .. } => None,
            _ => DOMAIN_ERRORS.by_kind(kind),
        };
        let reply = match domain {
            Some(row) => {
                let body = json!({"message": row.text, "error_code": row.extra});
                Reply::json(row.status, JSON, &body, row.kind)
            }
            None => error(ERRORS.by_kind(kind).unwrap_or(&INTERNAL_ERROR)),
        };
        reply.with_retry_after(observed)
    }

    fn reject(rejection: Rejection) -> Reply {
        let row = match rejection {
            Rejection::NotFound => ERRORS.by_kind(OutcomeKind::NotFound),
            Rejection::MethodNotAllowed(_) => ERRORS.by_status_text(405, "Method Not Allowed"),
            Rejection::PayloadTooLarge => ERRORS.by_status_text(413, "Request Entity Too Large"),
            Rejection::UnreadableBody => ERRORS.by_kind(OutcomeKind::InvalidInput),
            Rejection::RequestTimeout => ERRORS.by_status_text(408, "Request Timeout"),
        };
        error(row.unwrap_or(&INTERNAL_ERROR))
    }

    fn send_request(credentials: &Credentials, _session: &Session, send: &SendOp) -> Built {
        let mut body = json!({"phone_number": send.to, "bundle_key": credentials.bundle_key});
        if let Some(lang) = &send.lang {
            body["lang"] = lang.clone().into();
        }
        Ok(WireRequest::json(
            SEND_PATH,
            vec![bearer(&credentials.bearer)],
            &body,
        ))
    }

    fn verify_request(credentials: &Credentials, _session: &Session, verify: &VerifyOp) -> Built {
        let id = verify.handle("the transaction_id of the send")?;
        let body = json!({
            "transaction_id": id,
            "otp": verify.code,
            "bundle_key": credentials.bundle_key,
        });
        Ok(WireRequest::json(
            VERIFY_PATH,
            vec![bearer(&credentials.bearer)],
            &body,
        ))
    }

    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        read(operation, response)
    }
}

/// What Valify says of invalid input: the phone (1001), or the request.
fn invalid(phone: bool) -> Invalid {
    if phone {
        Invalid::new(PHONE_NUMBER, Fault::Invalid)
    } else {
        Invalid::body(Fault::Invalid)
    }
}

/// The members a send reads (`data` among them: an object there is the
/// real body, and sends the reader to the whole parse).
const SEND_FIELDS: [&str; 4] = ["data", "bundle_key", "lang", PHONE_NUMBER];
/// The members a verify reads.
const VERIFY_FIELDS: [&str; 4] = ["data", "bundle_key", "transaction_id", "otp"];

/// After content type and token: JSON object (unwrapping `data`),
/// bundle key.
fn admit<'a, const N: usize>(
    context: &ServeContext<'_>,
    request: &Request<'a>,
    names: [&'static str; N],
) -> Result<wire::Fields<'a, N>, Refusal> {
    let config = &context.config.valify;
    // Read straight when `data` is no object (a string or null there is
    // dropped, as the whole parse's `remove` drops it).
    let body = match wire::Fields::read(request.body, names) {
        Some(fields) => fields,
        None => {
            let mut body = wire::object(request.body)?;
            if let Some(Value::Object(data)) = body.remove("data") {
                body = data;
            }
            wire::Fields::Tree(body)
        }
    };
    let bundle_key = body.field("bundle_key")?;
    if !secret_eq(bundle_key, &config.bundle_key) {
        return Err(Outcome::Unauthorized.into());
    }
    Ok(body)
}

/// A valid Egyptian mobile number in a form people write, normalised to
/// E.164: the prefix `+20`, `0020` or `0`, then the national number, its
/// digit groups separated by single spaces or dashes (`01012345678`,
/// `+20 10 1234 5678`, `0020-101-234-5678`). Anything else — a `tel:`
/// URI, an extension, a stray `#` or NUL around the digits — is refused.
///
/// The national significant number is matched against libphonenumber's
/// own Egyptian mobile pattern (from the `phonenumber` crate's metadata,
/// loaded once) — ~10× cheaper than a full parse; a test checks that it
/// agrees with the full parser on every accepted form.
pub fn egyptian_mobile(text: &str) -> Option<Identifier> {
    let nsn = national_significant(text)?;
    EG_MOBILE
        .is_match(&nsn)
        .then(|| Identifier::Phone(format!("+20{nsn}")))
}

/// Egypt's mobile descriptor, from the phone metadata.
static EG_MOBILE: LazyLock<&'static phonenumber::metadata::Descriptor> = LazyLock::new(|| {
    phonenumber::metadata::DATABASE
        .by_id("EG")
        .and_then(|eg| eg.descriptors().mobile())
        .expect("the phone metadata describes Egyptian mobiles")
});

/// The digits after `+20`, `0020` or `0` when the text is just that, with
/// single spaces or dashes between digit groups (and after the prefix);
/// `None` for anything else.
fn national_significant(text: &str) -> Option<String> {
    let rest = ["+20", "0020", "0"]
        .into_iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    let rest = rest.strip_prefix([' ', '-']).unwrap_or(rest);
    if rest.starts_with('0') {
        return None;
    }
    let mut digits = String::with_capacity(rest.len());
    let mut after_separator = true;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                after_separator = false;
            }
            ' ' | '-' if !after_separator => after_separator = true,
            _ => return None,
        }
    }
    (!digits.is_empty() && !after_separator).then_some(digits)
}

fn error(row: &ErrorRow) -> Reply {
    Reply::json(row.status, JSON, &json!({"message": row.text}), row.kind)
}

/// The statuses the seed documents for errors, besides 422.
const DOCUMENTED: &[u16] = &[400, 401, 403, 404, 415, 500];

/// By the seed: a send is 200 `{"result": {"success": true},
/// "transaction_id": "<string>", "trials_remaining": "<int>"}`; errors
/// are `{"message"}` at 400, 401, 403, 404, 415 and 500 (the status says
/// which, the text is free), domain errors 422 `{"message", "error_code":
/// <int>}`. The verify route is not in the seed: a 200 is a verification
/// unless its `result` says otherwise.
fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
    const ERROR: &str =
        "the seed's errors are {\"message\"} at 400, 401, 403, 404, 415, 500 and 422 \
         {\"message\", \"error_code\": <int>}";
    let body = match response.object() {
        Ok(body) => body,
        Err(_) => {
            return response
                .unrecognized("the seed's answers are JSON objects")
                .into()
        }
    };
    let result = body.get("result").and_then(Value::as_object);
    match (response.status, operation) {
        (200, Operation::Send) => return read_sent(response, &body, result),
        (200, _) => {
            let verified = result.map(|r| (r.get("verified"), r.get("success")));
            return match verified {
                Some((Some(Value::Bool(true)), _)) => Observed::Verified.into(),
                Some((Some(Value::Bool(false)), _) | (None, Some(Value::Bool(false)))) => response
                    .unrecognized(
                        "a 200 whose result says not verified (the seed has no such answer)",
                    )
                    .into(),
                _ => Classified::noted(
                    Observed::Verified,
                    "a 200 to the verify route, which the seed does not document, read as \
                     verified (no result.verified: false says otherwise)",
                ),
            };
        }
        _ => {}
    }
    if text(&body, "message").is_none() {
        return response.unrecognized(ERROR).into();
    }
    if response.status == 422 {
        let code = match body.get("error_code") {
            Some(value) => count(value),
            None => None,
        };
        let Some(code) = code else {
            return response
                .unrecognized("the seed's 422 is {\"message\", \"error_code\": <int>}")
                .into();
        };
        return match DOMAIN_ERRORS.by_key(&code) {
            Some(row) => {
                documented(row.kind, response, || invalid(row.extra == INVALID_PHONE)).into()
            }
            None => read_status(
                operation,
                response,
                &format!(
                    "error_code {code} is none DESIGN.md names (the seed defers to \"Valify error \
                     codes\" without listing them)"
                ),
                ERROR,
                || invalid(false),
            ),
        };
    }
    let status = response.status;
    if DOCUMENTED.contains(&status) {
        let kind = match status {
            400 => OutcomeKind::InvalidInput,
            401 => OutcomeKind::Unauthorized,
            403 => OutcomeKind::Forbidden,
            404 => OutcomeKind::NotFound,
            415 => OutcomeKind::UnsupportedMediaType,
            _ => OutcomeKind::InternalError,
        };
        return documented(kind, response, || invalid(false)).into();
    }
    // DESIGN.md's answers to requests that reach no operation.
    match ERRORS
        .rows()
        .iter()
        .find(|row| row.status.as_u16() == status)
    {
        Some(row) => documented(row.kind, response, || invalid(false)).into(),
        None => response.unrecognized(ERROR).into(),
    }
}

/// A send's 200: `result.success` true, `transaction_id` a string and
/// `trials_remaining` an integer — written quoted in the seed, so a
/// number or a string of digits (`null` is DESIGN.md's "no limits").
fn read_sent(
    response: &WireResponse<'_>,
    body: &Map<String, Value>,
    result: Option<&Map<String, Value>>,
) -> Classified {
    const RULE: &str = "the seed's send 200 is {\"result\": {\"success\": true}, \
                        \"transaction_id\": \"<string>\", \"trials_remaining\": \"<int>\"}";
    let success = result.is_some_and(|result| is(result, "success", Value::Bool(true)));
    let id = text(body, "transaction_id");
    let (Some(id), true) = (id, success) else {
        return response.unrecognized(RULE).into();
    };
    let (trials, reading) = match body.get("trials_remaining") {
        Some(Value::Null) => (
            None,
            Some("trials_remaining null read as no send limit (DESIGN.md)"),
        ),
        Some(Value::String(quoted)) => match quoted.parse::<u32>() {
            Ok(n) => (
                Some(n),
                Some("trials_remaining read as a quoted integer, as the seed writes it"),
            ),
            Err(_) => return response.unrecognized(RULE).into(),
        },
        Some(value) => match count(value) {
            Some(n) => (Some(n), None),
            None => return response.unrecognized(RULE).into(),
        },
        None => return response.unrecognized(RULE).into(),
    };
    let observed = Observed::Sent(Receipt {
        id: Some(id.to_string()),
        sends_remaining: trials,
        ..Receipt::default()
    });
    match reading {
        Some(reading) => Classified::noted(observed, reading),
        None => Classified::plain(observed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_egyptian_mobiles_pass() {
        for (good, e164) in [
            ("01012345678", "+201012345678"),
            ("01112345678", "+201112345678"),
            ("+201012345678", "+201012345678"),
            ("0 101 234 5678", "+201012345678"),
            ("+20 10 1234 5678", "+201012345678"),
            ("00201012345678", "+201012345678"),
            ("0020 101-234-5678", "+201012345678"),
        ] {
            assert_eq!(
                egyptian_mobile(good),
                Some(Identifier::Phone(e164.into())),
                "{good}"
            );
        }
        // A Cairo landline, a short number, a foreign mobile, junk.
        for bad in ["0223456789", "0101234", "+14155550100", "not a number", ""] {
            assert_eq!(egyptian_mobile(bad), None, "{bad}");
        }
    }

    /// Regression: junk around a number was parsed away by the full
    /// parser and the number taken as a valid mobile.
    #[test]
    fn junk_around_a_number_is_no_egyptian_mobile() {
        for junk in [
            " 01012345678",
            "01012345678 ",
            "\t01012345678",
            "x01012345678\u{0}",
            "01012345678\u{0}",
            "01012345678#",
            "tel:+201012345678",
            "01012345678;ext=5",
            "+20 10 1234 5678 x99",
            "(010) 1234 5678",
            "010  1234 5678",
            "010--12345678",
            "01012345678-",
            "+20010 1234 5678",
            "+200101234567",
            "20 1012345678",
        ] {
            assert_eq!(egyptian_mobile(junk), None, "{junk:?}");
        }
    }

    /// What the full `phonenumber` check says: parse as Egyptian, valid,
    /// mobile.
    fn parsed_egyptian_mobile(text: &str) -> Option<Identifier> {
        use phonenumber::country::Id as Country;
        let number = phonenumber::parse(Some(Country::EG), text).ok()?;
        let mobile = number.country().id() == Some(Country::EG)
            && phonenumber::is_valid(&number)
            && number.number_type(&phonenumber::metadata::DATABASE) == phonenumber::Type::Mobile;
        if !mobile {
            return None;
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Identifier::phone(&e164).ok()
    }

    proptest::proptest! {
        #[test]
        fn the_pattern_agrees_with_the_full_parser(
            prefix in proptest::sample::select(vec!["0", "+20", "+20 ", "0 ", "0020", "0020-"]),
            digits in "1[0125][0-9]{8}|1[0-9]{0,11}|[2-9][0-9]{7,10}",
        ) {
            let text = format!("{prefix}{digits}");
            proptest::prop_assert!(national_significant(&text).is_some());
            proptest::prop_assert_eq!(egyptian_mobile(&text), parsed_egyptian_mobile(&text), "{}", text);
        }
    }
}
