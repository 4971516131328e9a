//! Whatever arrives at any dialect's endpoint — arbitrary bytes, arbitrary
//! JSON built from every dialect's field names, wrong types, huge strings,
//! wrong content types, methods and credentials — the answer is never a
//! 5xx and always one of the dialect's documented shapes: its own client
//! side must classify it as something other than `unrecognized`.

use otpbench::dialect::{Credentials, Dialect, Operation, WireResponse};
use otpbench::OutcomeKind;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::support::dialect::{call, classify};
use crate::support::fuzz::{any_json, fuzz, Served};
use crate::support::http::{request, Reply};

const ENDPOINTS: &[(Dialect, &str, Operation)] = &[
    (Dialect::Rees46, "/loyalty/otp/send", Operation::Send),
    (Dialect::Rees46, "/loyalty/otp/verify", Operation::Verify),
    (Dialect::Rees46, "/loyalty/otp/other", Operation::Other),
    (Dialect::Sigmasms, "/api/n/otp-handler/", Operation::Send),
    (
        Dialect::Sigmasms,
        "/api/n/otp-handler/check",
        Operation::Verify,
    ),
    (Dialect::Valify, "/api/v1/otp/send/", Operation::Send),
    (Dialect::Valify, "/api/v1/otp/verify/", Operation::Verify),
    (Dialect::Nomado, "/2fa/create", Operation::Send),
    (Dialect::Nomado, "/2fa/verify", Operation::Verify),
    (Dialect::Loyaltydog, "/v2/token", Operation::Token),
    (
        Dialect::Loyaltydog,
        "/v2/giftcards/customers/otp/send",
        Operation::Send,
    ),
    (
        Dialect::Loyaltydog,
        "/v2/giftcards/customers/otp/verify",
        Operation::Verify,
    ),
    (Dialect::Loyaltydog, "/v2/nothing", Operation::Other),
];

const FIELDS: &[&str] = &[
    "shop_id",
    "shop_secret",
    "identifier",
    "event",
    "code",
    "widgetId",
    "recipient",
    "requestId",
    "phone_number",
    "bundle_key",
    "lang",
    "transaction_id",
    "otp",
    "data",
    "to",
    "template",
    "type",
    "length",
    "expiry",
    "token",
    "api_key",
    "target",
];

/// Credentials, recipients and values each dialect accepts, so that some
/// requests get past every check.
const WORDS: &[&str] = &[
    "test-shop",
    "test-secret",
    "test-bundle",
    "test-key",
    "79991234567",
    "+14155550100",
    "01012345678",
    "32412345678",
    "a@b.co",
    "en",
    "ar",
    "NUMERIC",
    "{{CODE}}",
    "123634df-ddfe-4dda-b31d-f3b4e75fc5dc",
    "00000000-0000-4000-8000-00000000b10c",
    "123456",
    "",
];

/// A valid LoyaltyDog access token from the fuzzed server (fetched once).
fn jwt<'a>(served: &Served, cell: &'a OnceLock<String>) -> &'a str {
    cell.get_or_init(|| {
        let login = Dialect::Loyaltydog
            .login_request(&Credentials::default())
            .expect("LoyaltyDog logs in");
        let reply = served.runtime.block_on(call(served.server.addr, &login));
        let headers = hyper::HeaderMap::new();
        let response = WireResponse {
            status: reply.status,
            headers: &headers,
            body: &reply.body,
        };
        Dialect::Loyaltydog
            .read_login(&response)
            .unwrap()
            .access_token
            .unwrap()
    })
}

/// Credentials that get a request past authentication, or none.
fn auth(dialect: Dialect, jwt: impl FnOnce() -> String, valid: bool) -> Option<String> {
    if !valid {
        return None;
    }
    match dialect {
        Dialect::Nomado => Some("Basic dGVzdDp0ZXN0".into()),
        Dialect::Loyaltydog => Some(format!("Bearer {}", jwt())),
        _ => Some("Bearer test-token".into()),
    }
}

fn check(
    served: &Served,
    (dialect, path, operation): (Dialect, &str, Operation),
    method: &str,
    content_type: &str,
    authorization: Option<String>,
    body: &[u8],
) -> Result<(), String> {
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(value) = &authorization {
        headers.push(("Authorization", value.as_str()));
    }
    let reply: Reply =
        served
            .runtime
            .block_on(request(served.server.addr, method, path, &headers, body));
    let text = reply.text();
    let shown: String = text.chars().take(300).collect();
    if reply.status >= 500 {
        return Err(format!(
            "{} {path}: 5xx {} {shown}",
            dialect.name(),
            reply.status
        ));
    }
    if operation == Operation::Token && reply.status == 200 {
        let headers = hyper::HeaderMap::new();
        let response = WireResponse {
            status: reply.status,
            headers: &headers,
            body: &reply.body,
        };
        return dialect
            .read_login(&response)
            .map(|_| ())
            .map_err(|e| format!("{path}: {e}: {shown}"));
    }
    let observed = classify(dialect, operation, &reply);
    if observed.kind() == OutcomeKind::Unrecognized {
        return Err(format!(
            "{} {method} {path}: {observed:?} for {} {shown}",
            dialect.name(),
            reply.status
        ));
    }
    Ok(())
}

#[test]
fn arbitrary_json_gets_a_documented_answer() {
    let strategy = (
        prop::sample::select(ENDPOINTS.to_vec()),
        any::<bool>(),
        any_json(FIELDS, WORDS),
    );
    let token = OnceLock::new();
    fuzz(384, strategy, |served, (endpoint, valid, body)| {
        let authorization = auth(endpoint.0, || jwt(served, &token).to_string(), valid);
        let body = body.to_string();
        check(
            served,
            endpoint,
            "POST",
            "application/json",
            authorization,
            body.as_bytes(),
        )
    });
}

#[test]
fn arbitrary_bytes_types_and_methods_get_a_documented_answer() {
    let strategy = (
        prop::sample::select(ENDPOINTS.to_vec()),
        prop::sample::select(vec!["POST", "POST", "GET", "PUT", "DELETE"]),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..256),
    );
    let token = OnceLock::new();
    fuzz(
        384,
        strategy,
        |served, (endpoint, method, content_type, valid, body)| {
            let authorization = auth(endpoint.0, || jwt(served, &token).to_string(), valid);
            check(served, endpoint, method, content_type, authorization, &body)
        },
    );
}
