//! Nomado, seed `003_4894d9d5f1ee8485.txt`: statuses 200 ("success"),
//! 400 ("bad request — incorrect or missing parameters") and 401
//! ("unauthorized — invalid credentials or incorrect authentication
//! method"); the create 200 is "Exemple de réponse". No error body and no
//! verify route are in the seed.

use otpbench::dialect::Dialect;
use otpbench::OutcomeKind as K;

use super::{check, json, other, Case, Op, Want};

const EXAMPLE: &str = r#"{"code": 200, "message": "OK", "data": {"32412345678": {"code": 200, "status": "SENT"}, "text": "Your verification code is 1234", "token": "1234", "expiry": 7200, "total_messages": 1}}"#;
const STATUSES: &str = "the seed documents 200, 400 and 401";

const CASES: &[Case] = &[
    // Allowed.
    json(
        "Exemple de réponse, verbatim",
        Op::Send,
        200,
        EXAMPLE,
        Want::Is(K::Sent),
    ),
    json(
        "the example with only the token",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK", "data": {"token": "AB12"}}"#,
        Want::Is(K::Sent),
    ),
    json(
        "the example without code and message",
        Op::Send,
        200,
        r#"{"data": {"32412345678": {"code": 200, "status": "SENT"}, "token": "1234"}}"#,
        Want::Is(K::Sent),
    ),
    json(
        "400 bad request, a short text",
        Op::Send,
        400,
        r#"{"code": 400, "message": "Bad request"}"#,
        Want::Is(K::InvalidInput),
    ),
    other(
        "400 with no body",
        Op::Send,
        400,
        "",
        "",
        Want::Is(K::InvalidInput),
    ),
    json(
        "401 invalid credentials",
        Op::Send,
        401,
        r#"{"code": 401, "message": "Invalid credentials"}"#,
        Want::Is(K::Unauthorized),
    ),
    json(
        "401 as an independent implementation words it",
        Op::Send,
        401,
        r#"{"code":401,"message":"Unauthorized: invalid credentials"}"#,
        Want::Is(K::Unauthorized),
    ),
    other(
        "401 with no body",
        Op::Verify,
        401,
        "",
        "",
        Want::Is(K::Unauthorized),
    ),
    json(
        "verify: DESIGN's wrong token",
        Op::Verify,
        400,
        r#"{"code": 400, "message": "Invalid token"}"#,
        Want::Is(K::WrongCode),
    ),
    json(
        "verify: a 400 in other words may be a wrong token",
        Op::Verify,
        400,
        r#"{"code": 400, "message": "Wrong OTP"}"#,
        Want::Admits(K::WrongCode),
    ),
    json(
        "verify: DESIGN's answer",
        Op::Verify,
        200,
        r#"{"code": 200, "message": "OK", "data": {"verified": true}}"#,
        Want::Is(K::Verified),
    ),
    json(
        "verify: a bare 200 (the seed fixes none)",
        Op::Verify,
        200,
        r#"{"code": 200, "message": "OK"}"#,
        Want::Is(K::Verified),
    ),
    json(
        "DESIGN's 429, read by status on send",
        Op::Send,
        429,
        r#"{"code": 429, "message": "Slow down"}"#,
        Want::Is(K::RateLimited),
    ),
    // Forbidden.
    json(
        "create 200 without data",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK"}"#,
        Want::Refused("data object"),
    ),
    json(
        "create 200 without the token",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK", "data": {"text": "x"}}"#,
        Want::Refused("data.token"),
    ),
    json(
        "the token not a string",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK", "data": {"token": 1234}}"#,
        Want::Refused("data.token"),
    ),
    json(
        "expiry not an integer",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK", "data": {"token": "1234", "expiry": "7200"}}"#,
        Want::Refused("integers"),
    ),
    json(
        "a recipient not SENT",
        Op::Send,
        200,
        r#"{"code": 200, "message": "OK", "data": {"32412345678": {"code": 500, "status": "FAILED"}, "token": "1234"}}"#,
        Want::Refused("status SENT"),
    ),
    json(
        "message not a string",
        Op::Send,
        200,
        r#"{"code": 200, "message": 0, "data": {"token": "1234"}}"#,
        Want::Refused("string message"),
    ),
    json(
        "a body code that is not the status",
        Op::Send,
        200,
        r#"{"code": 400, "message": "Bad request"}"#,
        Want::Refused("code is not the status"),
    ),
    json(
        "a status the seed does not document",
        Op::Send,
        403,
        r#"{"code": 403, "message": "Forbidden"}"#,
        Want::Refused(STATUSES),
    ),
    other(
        "a redirect",
        Op::Send,
        302,
        "text/html",
        "Moved",
        Want::Refused(STATUSES),
    ),
    other(
        "200 not JSON",
        Op::Send,
        200,
        "text/plain",
        "OK",
        Want::Refused("JSON object"),
    ),
    json(
        "verify: data.verified false",
        Op::Verify,
        200,
        r#"{"code": 200, "message": "OK", "data": {"verified": false}}"#,
        Want::Refused("not true"),
    ),
];

#[tokio::test]
async fn nomado_reads_what_its_seed_allows_and_refuses_the_rest() {
    let tally = check(Dialect::Nomado, "32412345678", CASES).await;
    assert_eq!((tally.allowed, tally.forbidden), (13, 11));
}
