//! LoyaltyDog, seed `004_f0d69d7b0978c4f0.txt`: the OpenAPI answers a
//! send with 200 `SendOTPResponse` (`success`: boolean, required;
//! `message`, `error`, `otpType`, `mockCode`: string or null) and 422
//! `HTTPValidationError` (`detail`: ValidationError items with `loc`
//! (strings or integers), `msg`, `type` required); the prose adds "400:
//! Invalid target format" and "429: Rate limit exceeded". The verify
//! route is not in the seed.

use otpbench::dialect::Dialect;
use otpbench::OutcomeKind as K;

use super::{check, json, other, Case, Op, Want};

const SCHEMA: &str = "SendOTPResponse";
const STATUSES: &str = "the seed documents 200";

const CASES: &[Case] = &[
    // Allowed.
    json(
        "only success is required",
        Op::Send,
        200,
        r#"{"success": true}"#,
        Want::Is(K::Sent),
    ),
    json(
        "message is any string",
        Op::Send,
        200,
        r#"{"success": true, "message": "OTP sent successfully"}"#,
        Want::Is(K::Sent),
    ),
    json(
        "every member null",
        Op::Send,
        200,
        r#"{"success": true, "message": null, "error": null, "otpType": null, "mockCode": null}"#,
        Want::Is(K::Sent),
    ),
    json(
        "dev/test mode: mockCode holds the code",
        Op::Send,
        200,
        r#"{"success": true, "message": "OTP sent", "error": null, "otpType": "sms", "mockCode": "123456"}"#,
        Want::Is(K::Sent),
    ),
    json(
        "otpType is any string",
        Op::Send,
        200,
        r#"{"success": true, "otpType": "whatsapp"}"#,
        Want::Is(K::Sent),
    ),
    json(
        "422 HTTPValidationError",
        Op::Send,
        422,
        r#"{"detail": [{"loc": ["body", "target"], "msg": "Field required", "type": "missing", "input": {}}]}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "422 loc with an integer",
        Op::Send,
        422,
        r#"{"detail": [{"loc": ["body", 0], "msg": "Input should be a valid dictionary", "type": "dict_type"}]}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "422 without detail (not required)",
        Op::Send,
        422,
        r#"{}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "400 Invalid target format, as FastAPI's HTTPException",
        Op::Send,
        400,
        r#"{"detail": "Invalid target format"}"#,
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
        "429 Rate limit exceeded, as FastAPI's HTTPException",
        Op::Send,
        429,
        r#"{"detail": "Rate limit exceeded"}"#,
        Want::Is(K::RateLimited),
    ),
    json(
        "429 in the SendOTPResponse shape",
        Op::Send,
        429,
        r#"{"success": false, "message": null, "error": "Rate limit exceeded"}"#,
        Want::Is(K::RateLimited),
    ),
    json(
        "401 from the bearer scheme",
        Op::Send,
        401,
        r#"{"detail": "Not authenticated"}"#,
        Want::Is(K::Unauthorized),
    ),
    json(
        "403 Not authenticated, older FastAPI's HTTPBearer",
        Op::Send,
        403,
        r#"{"detail": "Not authenticated"}"#,
        Want::Is(K::Unauthorized),
    ),
    json(
        "verify: read with the send's schema",
        Op::Verify,
        200,
        r#"{"success": true, "message": "OTP verified", "error": null}"#,
        Want::Is(K::Verified),
    ),
    json(
        "verify: a 400 in other words may be a wrong code",
        Op::Verify,
        400,
        r#"{"detail": "Wrong OTP"}"#,
        Want::Admits(K::WrongCode),
    ),
    // Forbidden.
    json(
        "success missing",
        Op::Send,
        200,
        r#"{"message": "OTP sent"}"#,
        Want::Refused(SCHEMA),
    ),
    json(
        "success not a boolean",
        Op::Send,
        200,
        r#"{"success": "true"}"#,
        Want::Refused("success, a boolean"),
    ),
    json(
        "message not a string or null",
        Op::Send,
        200,
        r#"{"success": true, "message": 5}"#,
        Want::Refused("string or null"),
    ),
    json(
        "mockCode not a string or null",
        Op::Send,
        200,
        r#"{"success": true, "mockCode": 123456}"#,
        Want::Refused("string or null"),
    ),
    json(
        "success false at 200, which the prose says is sent",
        Op::Send,
        200,
        r#"{"success": false, "error": "Kaputt"}"#,
        Want::Refused("OTP sent successfully"),
    ),
    json(
        "DESIGN's error at 200",
        Op::Verify,
        200,
        r#"{"success": false, "message": null, "error": "Invalid code"}"#,
        Want::Refused("OTP sent successfully"),
    ),
    json(
        "422 loc not an array",
        Op::Send,
        422,
        r#"{"detail": [{"loc": "target", "msg": "x", "type": "missing"}]}"#,
        Want::Refused("loc, msg and type"),
    ),
    json(
        "422 item without msg",
        Op::Send,
        422,
        r#"{"detail": [{"loc": ["body", "target"], "type": "missing"}]}"#,
        Want::Refused("loc, msg and type"),
    ),
    json(
        "422 detail not a list",
        Op::Send,
        422,
        r#"{"detail": "bad"}"#,
        Want::Refused("HTTPValidationError"),
    ),
    json(
        "a status the seed does not document",
        Op::Send,
        409,
        r#"{"detail": "Conflict"}"#,
        Want::Refused(STATUSES),
    ),
    other(
        "200 not JSON",
        Op::Send,
        200,
        "text/plain",
        "OK",
        Want::Refused(SCHEMA),
    ),
];

#[tokio::test]
async fn loyaltydog_reads_what_its_seed_allows_and_refuses_the_rest() {
    let tally = check(Dialect::Loyaltydog, "user@example.com", CASES).await;
    assert_eq!((tally.allowed, tally.forbidden), (16, 11));
}
