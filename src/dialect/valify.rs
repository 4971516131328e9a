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
//!   500; 503 for the store), domain errors 422 `{"message",
//!   "error_code"}` ([`DOMAIN_ERRORS`]).
//!
//! Checks run in this order: content type (415), access token (403 — the
//! seed's "access_token could not be found"; observed as `forbidden`), a
//! JSON object with string fields (400), bundle key (401; observed as
//! `unauthorized`), `lang` (400), then the phone: a *valid* Egyptian
//! mobile number by libphonenumber (422 1001), national (`01…`) or
//! international (`+201…`). The `lang` picks the SMS text; errors are in
//! English. Paths are taken with or without the trailing slash.

use std::sync::LazyLock;

use hyper::StatusCode;
use phonenumber::country::Id as Country;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::delivery::Template;
use crate::dialect::client::{
    bearer, count, is, text, ClientError, Credentials, SendOp, VerifyOp, WireRequest,
};
use crate::dialect::wire::{self, with_retry_after};
use crate::dialect::{
    bearer_token, documented, is_json, observe_common, rejection_outcome, secret_eq, Operation,
    Rejection, Reply, Request, ServeContext, WireResponse,
};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{ChallengeId, Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::{ChallengeRef, SendRequest, VerifyRequest};

pub(crate) const PREFIX: &str = "/api/v1/";
pub const SEND_PATH: &str = "/api/v1/otp/send/";
pub const VERIFY_PATH: &str = "/api/v1/otp/verify/";
const TENANT: &str = "valify";
/// One purpose: Valify has none.
const PURPOSE: &str = "otp";

const BAD_REQUEST: &str = "Bad Request – invalid request received (e.g. missing Bundle key, required parameters or invalid json) | Make sure all the required parameters are included";
const INVALID_PHONE: &str = "Invalid phone number";

/// Errors in the plain `{"message"}` shape: outcome, status, text.
pub const ERRORS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::InvalidInput, 400, BAD_REQUEST),
    (
        OutcomeKind::Unauthorized,
        401,
        "Unauthorized – your Bundle key is invalid",
    ),
    (
        OutcomeKind::Forbidden,
        403,
        "Forbidden – specified access_token could not be found",
    ),
    (OutcomeKind::NotFound, 404, "Not Found"),
    (OutcomeKind::InvalidInput, 405, "Method Not Allowed"),
    (OutcomeKind::InvalidInput, 413, "Request Entity Too Large"),
    (
        OutcomeKind::UnsupportedMediaType,
        415,
        "Unsupported Media Type",
    ),
    (OutcomeKind::InternalError, 500, "Internal Server Error"),
    (OutcomeKind::StoreUnavailable, 503, "Service Unavailable"),
];

/// Domain errors, 422 `{"message", "error_code"}`: outcome, code, text.
pub const DOMAIN_ERRORS: &[(OutcomeKind, u32, &str)] = &[
    (OutcomeKind::InvalidInput, 1001, INVALID_PHONE),
    (
        OutcomeKind::RateLimited,
        1002,
        "Maximum number of trials reached",
    ),
    (OutcomeKind::WrongCode, 1003, "Invalid OTP"),
    (OutcomeKind::Expired, 1004, "OTP expired"),
    (
        OutcomeKind::AttemptsExceeded,
        1005,
        "Maximum number of verification attempts exceeded",
    ),
    (OutcomeKind::NotFound, 1006, "Unknown transaction ID"),
    (
        OutcomeKind::ProviderUnavailable,
        1007,
        "Failed to deliver OTP",
    ),
];

/// What this dialect answers besides [`super::COMMON_OUTCOMES`].
pub(crate) const ALSO_PRODUCES: &[OutcomeKind] =
    &[OutcomeKind::Forbidden, OutcomeKind::UnsupportedMediaType];

static TEMPLATE_EN: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Your verification code is {{code}}", "{{code}}").expect("has a placeholder")
});
static TEMPLATE_AR: LazyLock<Template> = LazyLock::new(|| {
    Template::new("رمز التحقق الخاص بك هو {{code}}", "{{code}}").expect("has a placeholder")
});

pub(crate) fn route(path: &str) -> Option<Operation> {
    match path {
        SEND_PATH | "/api/v1/otp/send" => Some(Operation::Send),
        VERIFY_PATH | "/api/v1/otp/verify" => Some(Operation::Verify),
        _ => None,
    }
}

pub(crate) async fn serve(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    let answer = match request.operation {
        Operation::Send => send(context, &request).await,
        Operation::Verify => verify(context, &request).await,
        Operation::Token | Operation::Other => return reject(Rejection::NotFound),
    };
    let (outcome, id) = answer.unwrap_or_else(|refused| (refused, None));
    render(
        &observe(&outcome, context.echo_codes),
        request.operation,
        id.as_deref(),
    )
}

/// Content type, access token, JSON object (unwrapping `data`), bundle key.
fn admit(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Map<String, Value>, Outcome> {
    if !is_json(request.headers) {
        return Err(Outcome::UnsupportedMediaType);
    }
    let config = &context.config.valify;
    let token_known =
        bearer_token(request.headers).is_some_and(|token| secret_eq(token, &config.bearer));
    if !token_known {
        return Err(Outcome::Forbidden);
    }
    let mut body = wire::object(request.body).ok_or_else(|| Outcome::invalid(BAD_REQUEST))?;
    if let Some(Value::Object(data)) = body.remove("data") {
        body = data;
    }
    let bundle_key =
        wire::string(&body, "bundle_key").map_err(|_| Outcome::invalid(BAD_REQUEST))?;
    if !secret_eq(bundle_key, &config.bundle_key) {
        return Err(Outcome::Unauthorized);
    }
    Ok(body)
}

/// A valid Egyptian mobile number, national (`01…`) or international
/// (`+201…`), normalised to E.164.
///
/// The usual forms take a fast path: the national significant number is
/// matched against libphonenumber's own Egyptian mobile pattern (from the
/// `phonenumber` crate's metadata, loaded once) — ~10× cheaper than a full
/// parse. Any other form goes through the crate's full parser. A test
/// checks that both paths agree.
pub fn egyptian_mobile(text: &str) -> Option<Identifier> {
    match national_significant(text) {
        Some(nsn) => EG_MOBILE
            .is_match(&nsn)
            .then(|| Identifier::Phone(format!("+20{nsn}"))),
        None => parsed_egyptian_mobile(text),
    }
}

/// Egypt's mobile descriptor, from the phone metadata.
static EG_MOBILE: LazyLock<&'static phonenumber::metadata::Descriptor> = LazyLock::new(|| {
    phonenumber::metadata::DATABASE
        .by_id("EG")
        .and_then(|eg| eg.descriptors().mobile())
        .expect("the phone metadata describes Egyptian mobiles")
});

/// The digits after `0` or `+20` when the text is just that (spaces and
/// dashes allowed); `None` for anything else.
fn national_significant(text: &str) -> Option<String> {
    let text = text.trim();
    let rest = if let Some(rest) = text.strip_prefix("+20") {
        rest
    } else {
        let rest = text.strip_prefix('0')?;
        if rest.starts_with('0') {
            return None;
        }
        rest
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    (!digits.is_empty()).then_some(digits)
}

/// The full `phonenumber` check: parse as Egyptian, valid, mobile.
fn parsed_egyptian_mobile(text: &str) -> Option<Identifier> {
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

type Answer = Result<(Outcome, Option<String>), Outcome>;

async fn send(context: &ServeContext<'_>, request: &Request<'_>) -> Answer {
    let body = admit(context, request)?;
    let template = match wire::optional(&body, "lang") {
        Ok(None | Some("en")) => TEMPLATE_EN.clone(),
        Ok(Some("ar")) => TEMPLATE_AR.clone(),
        _ => return Err(Outcome::invalid(BAD_REQUEST)),
    };
    let phone = wire::string(&body, "phone_number").map_err(|_| Outcome::invalid(BAD_REQUEST))?;
    let to = egyptian_mobile(phone).ok_or_else(|| Outcome::invalid(INVALID_PHONE))?;
    let send = SendRequest {
        tenant: TENANT.to_string(),
        to,
        purpose: PURPOSE.to_string(),
        channel: None,
        template,
        from: None,
    };
    let outcome = context
        .engine
        .send(&context.config.valify.policy, send)
        .await;
    Ok((outcome, None))
}

async fn verify(context: &ServeContext<'_>, request: &Request<'_>) -> Answer {
    let body = admit(context, request)?;
    let (Ok(id), Ok(otp)) = (
        wire::string(&body, "transaction_id"),
        wire::string(&body, "otp"),
    ) else {
        return Err(Outcome::invalid(BAD_REQUEST));
    };
    let Ok(uuid) = Uuid::parse_str(id) else {
        return Ok((Outcome::NotFound, Some(id.to_string())));
    };
    let by = ChallengeRef::Id {
        tenant: TENANT.to_string(),
        id: ChallengeId(uuid),
    };
    let outcome = context
        .engine
        .verify(VerifyRequest {
            by,
            code: otp.to_string(),
        })
        .await;
    Ok((outcome, Some(id.to_string())))
}

/// What Valify shows of an outcome: the transaction id and sends left of
/// a send; a message (and code) otherwise.
pub(crate) fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
    match outcome {
        Outcome::Sent(sent) => Observed::Sent(Receipt {
            id: Some(sent.id.to_string()),
            sends_remaining: sent.sends_remaining,
            ..Receipt::default()
        }),
        Outcome::InvalidInput { reason } if !known_invalid(reason) => {
            Observed::invalid(BAD_REQUEST)
        }
        _ => observe_common(outcome),
    }
}

fn known_invalid(reason: &str) -> bool {
    ERRORS
        .iter()
        .any(|e| e.0 == OutcomeKind::InvalidInput && e.2 == reason)
        || reason == INVALID_PHONE
}

pub(crate) fn render(observed: &Observed, _operation: Operation, id: Option<&str>) -> Reply {
    let kind = observed.kind();
    match observed {
        Observed::Sent(receipt) => {
            let body = json!({
                "result": {"success": true},
                "transaction_id": receipt.id.as_deref().unwrap_or_default(),
                "trials_remaining": receipt.sends_remaining,
            });
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        Observed::Verified => {
            let body = json!({
                "result": {"verified": true},
                "transaction_id": id.unwrap_or_default(),
            });
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        _ => {}
    }
    let reason = match observed {
        Observed::InvalidInput { reason } => Some(reason.as_str()),
        _ => None,
    };
    let domain = DOMAIN_ERRORS
        .iter()
        .find(|e| e.0 == kind && reason.is_none_or(|r| r == e.2));
    let reply = match domain {
        Some(&(kind, code, message)) => {
            let body = json!({"message": message, "error_code": code});
            Reply::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                "application/json",
                &body,
                kind,
            )
        }
        None => {
            let &(kind, status, message) = ERRORS
                .iter()
                .find(|e| e.0 == kind && reason.is_none_or(|r| r == e.2))
                .unwrap_or(&(OutcomeKind::InternalError, 500, "Internal Server Error"));
            error(status, message, kind)
        }
    };
    with_retry_after(reply, observed)
}

fn error(status: u16, message: &str, kind: OutcomeKind) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Reply::json(
        status,
        "application/json",
        &json!({"message": message}),
        kind,
    )
}

pub(crate) fn reject(rejection: Rejection) -> Reply {
    let (status, message) = match rejection {
        Rejection::NotFound => (404, "Not Found"),
        Rejection::MethodNotAllowed(_) => (405, "Method Not Allowed"),
        Rejection::PayloadTooLarge => (413, "Request Entity Too Large"),
        Rejection::UnreadableBody => (400, BAD_REQUEST),
    };
    error(status, message, rejection_outcome(rejection))
}

pub(crate) fn send_request(
    credentials: &Credentials,
    send: &SendOp,
) -> Result<WireRequest, ClientError> {
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

pub(crate) fn verify_request(
    credentials: &Credentials,
    verify: &VerifyOp,
) -> Result<WireRequest, ClientError> {
    let id = verify
        .id
        .as_deref()
        .ok_or(ClientError::Missing("the transaction_id of the send"))?;
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

pub(crate) fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    let result = body.get("result").and_then(Value::as_object);
    let id = text(&body, "transaction_id");
    match (response.status, operation) {
        (200, Operation::Send) => {
            let trials = match body.get("trials_remaining") {
                Some(Value::Null) => Some(None),
                Some(value) => count(value).map(Some),
                None => None,
            };
            return match (result, id, trials) {
                (Some(result), Some(id), Some(trials))
                    if is(result, "success", Value::Bool(true)) =>
                {
                    Observed::Sent(Receipt {
                        id: Some(id.to_string()),
                        sends_remaining: trials,
                        ..Receipt::default()
                    })
                }
                _ => response.unrecognized(
                    "a send 200 without result.success, transaction_id and trials_remaining",
                ),
            };
        }
        (200, Operation::Verify) => {
            return match (result, id) {
                (Some(result), Some(_)) if is(result, "verified", Value::Bool(true)) => {
                    Observed::Verified
                }
                _ => {
                    response.unrecognized("a verify 200 without result.verified and transaction_id")
                }
            };
        }
        _ => {}
    }
    let Some(message) = text(&body, "message") else {
        return response.unrecognized("an error without a message");
    };
    if response.status == 422 {
        let code = body.get("error_code").and_then(count);
        return match DOMAIN_ERRORS.iter().find(|e| Some(e.1) == code) {
            Some(&(kind, ..)) => documented(kind, message, response),
            None => response.unrecognized("a 422 without a documented error_code"),
        };
    }
    match ERRORS.iter().find(|e| e.1 == response.status) {
        Some(&(kind, ..)) => documented(kind, message, response),
        None => response.unrecognized("an undocumented status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_egyptian_mobiles_pass() {
        for good in [
            "01012345678",
            "01112345678",
            "+201012345678",
            "0 101 234 5678",
        ] {
            assert_eq!(
                egyptian_mobile(good).map(|i| i.as_str().len()),
                Some(13),
                "{good}"
            );
        }
        // A Cairo landline, a short number, a foreign mobile, junk.
        for bad in ["0223456789", "0101234", "+14155550100", "not a number", ""] {
            assert_eq!(egyptian_mobile(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_full_parser(
            prefix in proptest::sample::select(vec!["0", "+20", "+20 ", "0 "]),
            digits in "1[0125][0-9]{8}|1[0-9]{0,11}|[2-9][0-9]{7,10}",
        ) {
            let text = format!("{prefix}{digits}");
            proptest::prop_assert!(national_significant(&text).is_some());
            proptest::prop_assert_eq!(egyptian_mobile(&text), parsed_egyptian_mobile(&text), "{}", text);
        }
    }
}
