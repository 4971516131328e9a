//! Valify, seed `002_940990e6b487a628.txt` ("Send Phone OTP"): 200
//! `{'result': {'success': true}, 'transaction_id': '<string>',
//! 'trials_remaining': '<int>'}`; `{"message"}` at 400, 401, 403, 404,
//! 415 and 500; 422 `{"message": "<error-description>", "error_code":
//! <valify-error-code>}`. The verify route is not in the seed.

use otpbench::dialect::Dialect;
use otpbench::OutcomeKind as K;

use super::{check, json, other, Case, Op, Want};

const SENT: &str = "the seed's send 200 is";
const ERROR: &str = "the seed's errors are";

const CASES: &[Case] = &[
    // Allowed.
    json(
        "200 Success, trials_remaining a number",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "6f1c", "trials_remaining": 4}"#,
        Want::Is(K::Sent),
    ),
    json(
        "200 Success, trials_remaining quoted as the seed writes it",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "6f1c", "trials_remaining": "4"}"#,
        Want::Is(K::Sent),
    ),
    json(
        "transaction_id '<string>': any string",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "tx-000123", "trials_remaining": 0}"#,
        Want::Is(K::Sent),
    ),
    json(
        "400 Missing input data, the seed's text",
        Op::Send,
        400,
        r#"{"message": "Bad Request – invalid request received (e.g. missing Bundle key, required parameters or invalid json) | Make sure all the required parameters are included"}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "400 with another text",
        Op::Send,
        400,
        r#"{"message": "phone_number is required"}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "401 Invalid bundle key",
        Op::Send,
        401,
        r#"{"message": "Unauthorized – your Bundle key is invalid"}"#,
        Want::Is(K::Unauthorized),
    ),
    json(
        "403 Access token error",
        Op::Send,
        403,
        r#"{"message": "Forbidden – specified access_token could not be found"}"#,
        Want::Is(K::Forbidden),
    ),
    json(
        "404 Check the endpoint",
        Op::Verify,
        404,
        r#"{"message": "Not Found"}"#,
        Want::Is(K::NotFound),
    ),
    json(
        "415 The format should be base64",
        Op::Send,
        415,
        r#"{"message": "Unsupported Media Type"}"#,
        Want::Is(K::UnsupportedMediaType),
    ),
    json(
        "500 Contact us",
        Op::Send,
        500,
        r#"{"message": "Internal Server Error"}"#,
        Want::Is(K::InternalError),
    ),
    json(
        "422 with a code DESIGN.md names",
        Op::Verify,
        422,
        r#"{"message": "Invalid OTP", "error_code": 1003}"#,
        Want::Is(K::WrongCode),
    ),
    json(
        "422 with another text for a code DESIGN.md names",
        Op::Send,
        422,
        r#"{"message": "Too many trials", "error_code": 1002}"#,
        Want::Is(K::RateLimited),
    ),
    json(
        "422 with a code the seed leaves open, on verify",
        Op::Verify,
        422,
        r#"{"message": "OTP mismatch", "error_code": 4242}"#,
        Want::Admits(K::WrongCode),
    ),
    json(
        "422 with a code the seed leaves open, on send",
        Op::Send,
        422,
        r#"{"message": "Bad phone", "error_code": 4242}"#,
        Want::Admits(K::InvalidInput),
    ),
    json(
        "verify: DESIGN's answer",
        Op::Verify,
        200,
        r#"{"result": {"verified": true}, "transaction_id": "6f1c"}"#,
        Want::Is(K::Verified),
    ),
    json(
        "verify: a bare 200 (the seed fixes none)",
        Op::Verify,
        200,
        r#"{"result": {}}"#,
        Want::Is(K::Verified),
    ),
    // Forbidden.
    json(
        "trials_remaining missing",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "6f1c"}"#,
        Want::Refused(SENT),
    ),
    json(
        "trials_remaining not an integer",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "6f1c", "trials_remaining": "four"}"#,
        Want::Refused(SENT),
    ),
    json(
        "trials_remaining negative",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": "6f1c", "trials_remaining": -1}"#,
        Want::Refused(SENT),
    ),
    json(
        "result.success false",
        Op::Send,
        200,
        r#"{"result": {"success": false}, "transaction_id": "6f1c", "trials_remaining": 4}"#,
        Want::Refused(SENT),
    ),
    json(
        "transaction_id missing",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "trials_remaining": 4}"#,
        Want::Refused(SENT),
    ),
    json(
        "transaction_id not a string",
        Op::Send,
        200,
        r#"{"result": {"success": true}, "transaction_id": 6, "trials_remaining": 4}"#,
        Want::Refused(SENT),
    ),
    json(
        "422 without error_code",
        Op::Send,
        422,
        r#"{"message": "Invalid phone number"}"#,
        Want::Refused("error_code"),
    ),
    json(
        "422 with error_code quoted (the seed writes it bare)",
        Op::Send,
        422,
        r#"{"message": "Invalid phone number", "error_code": "1001"}"#,
        Want::Refused("error_code"),
    ),
    json(
        "an error without message",
        Op::Send,
        400,
        r#"{"error": "bad request"}"#,
        Want::Refused(ERROR),
    ),
    json(
        "a status the seed does not document",
        Op::Send,
        409,
        r#"{"message": "Conflict"}"#,
        Want::Refused(ERROR),
    ),
    json(
        "429 is not among the seed's statuses",
        Op::Send,
        429,
        r#"{"message": "Too Many Requests"}"#,
        Want::Refused(ERROR),
    ),
    other(
        "not JSON",
        Op::Send,
        500,
        "text/html",
        "<h1>Server Error</h1>",
        Want::Refused("JSON objects"),
    ),
    json(
        "verify: a 200 that says not verified",
        Op::Verify,
        200,
        r#"{"result": {"verified": false}}"#,
        Want::Refused("not verified"),
    ),
];

#[tokio::test]
async fn valify_reads_what_its_seed_allows_and_refuses_the_rest() {
    let tally = check(Dialect::Valify, "01012345678", CASES).await;
    assert_eq!((tally.allowed, tally.forbidden), (16, 13));
}
