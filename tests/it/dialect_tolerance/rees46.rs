//! REES46, seed `000_5a16c3addee4376e.txt`: success is `{"success": true}`
//! ("Пример ответа сервера"), an error is `{"success": false, "payload":
//! {"message": …}}` ("В случае ошибки ответ будет в формате"); the seed
//! names no status and no message but its example "Identifier is not
//! valid".

use otpbench::dialect::Dialect;
use otpbench::OutcomeKind as K;

use super::{check, json, other, Case, Op, Want};

const SEED: &str = "the seed's answers are";

const CASES: &[Case] = &[
    // Allowed.
    json(
        "send: the seed's answer",
        Op::Send,
        200,
        r#"{"success": true}"#,
        Want::Is(K::Sent),
    ),
    json(
        "verify: the seed's answer",
        Op::Verify,
        200,
        r#"{"success": true}"#,
        Want::Is(K::Verified),
    ),
    json(
        "members the seed does not name may come",
        Op::Send,
        200,
        r#"{"success": true, "request_id": "x"}"#,
        Want::Is(K::Sent),
    ),
    json(
        "no status is fixed: 201 is success too",
        Op::Send,
        201,
        r#"{"success": true}"#,
        Want::Is(K::Sent),
    ),
    json(
        "the seed's error example",
        Op::Send,
        400,
        r#"{"success": false, "payload": {"message": "Identifier is not valid"}}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "its message at another status",
        Op::Send,
        422,
        r#"{"success": false, "payload": {"message": "Identifier is not valid"}}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "any message: a 400 on send",
        Op::Send,
        400,
        r#"{"success": false, "payload": {"message": "Телефон указан неверно"}}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "any message: a 400 on verify may be a wrong code",
        Op::Verify,
        400,
        r#"{"success": false, "payload": {"message": "Неверный код"}}"#,
        Want::Admits(K::WrongCode),
    ),
    json(
        "any message: a 400 on verify may be an expired code",
        Op::Verify,
        400,
        r#"{"success": false, "payload": {"message": "Код устарел"}}"#,
        Want::Admits(K::Expired),
    ),
    json(
        "any message: 401",
        Op::Send,
        401,
        r#"{"success": false, "payload": {"message": "Wrong shop"}}"#,
        Want::Is(K::Unauthorized),
    ),
    json(
        "any message: 403",
        Op::Send,
        403,
        r#"{"success": false, "payload": {"message": "Access denied"}}"#,
        Want::Admits(K::Unauthorized),
    ),
    json(
        "any message: 404 on verify",
        Op::Verify,
        404,
        r#"{"success": false, "payload": {"message": "Not found"}}"#,
        Want::Is(K::NotFound),
    ),
    json(
        "any message: 429 on send",
        Op::Send,
        429,
        r#"{"success": false, "payload": {"message": "Слишком часто"}}"#,
        Want::Is(K::RateLimited),
    ),
    json(
        "any message: 429 on verify",
        Op::Verify,
        429,
        r#"{"success": false, "payload": {"message": "Слишком часто"}}"#,
        Want::Admits(K::AttemptsExceeded),
    ),
    json(
        "any message: 503 on send",
        Op::Send,
        503,
        r#"{"success": false, "payload": {"message": "Try later"}}"#,
        Want::Admits(K::ProviderUnavailable),
    ),
    json(
        "any message: 500",
        Op::Send,
        500,
        r#"{"success": false, "payload": {"message": "Oops"}}"#,
        Want::Is(K::InternalError),
    ),
    json(
        "DESIGN's text, another case",
        Op::Verify,
        400,
        r#"{"success": false, "payload": {"message": "code is not valid"}}"#,
        Want::Is(K::WrongCode),
    ),
    json(
        "a message besides other payload members",
        Op::Send,
        429,
        r#"{"success": false, "payload": {"message": "Too many requests", "retry": 60}}"#,
        Want::Is(K::RateLimited),
    ),
    json(
        "a message the status cannot mean is read by the status",
        Op::Send,
        400,
        r#"{"success": false, "payload": {"message": "Too many requests"}}"#,
        Want::Is(K::InvalidInput),
    ),
    // Forbidden.
    other(
        "not JSON",
        Op::Send,
        200,
        "text/plain",
        "OK",
        Want::Refused(SEED),
    ),
    json(
        "JSON but not an object",
        Op::Send,
        200,
        r#"[{"success": true}]"#,
        Want::Refused(SEED),
    ),
    json(
        "success missing",
        Op::Send,
        200,
        r#"{}"#,
        Want::Refused(SEED),
    ),
    json(
        "success not a boolean",
        Op::Send,
        200,
        r#"{"success": "true"}"#,
        Want::Refused(SEED),
    ),
    json(
        "success at an error status",
        Op::Send,
        500,
        r#"{"success": true}"#,
        Want::Refused("with an error status"),
    ),
    json(
        "an error without payload",
        Op::Send,
        400,
        r#"{"success": false}"#,
        Want::Refused(SEED),
    ),
    json(
        "the message outside payload",
        Op::Send,
        400,
        r#"{"success": false, "message": "Bad"}"#,
        Want::Refused(SEED),
    ),
    json(
        "a message that is no string",
        Op::Send,
        400,
        r#"{"success": false, "payload": {"message": 5}}"#,
        Want::Refused(SEED),
    ),
    json(
        "payload not an object",
        Op::Send,
        400,
        r#"{"success": false, "payload": "Bad"}"#,
        Want::Refused(SEED),
    ),
    json(
        "an error at a success status",
        Op::Send,
        200,
        r#"{"success": false, "payload": {"message": "Что-то пошло не так"}}"#,
        Want::Refused("contradicts itself"),
    ),
    json(
        "DESIGN's error at a success status",
        Op::Verify,
        200,
        r#"{"success": false, "payload": {"message": "Code is not valid"}}"#,
        Want::Refused("contradicts itself"),
    ),
    json(
        "an unknown error at a status that means nothing",
        Op::Send,
        302,
        r#"{"success": false, "payload": {"message": "Moved"}}"#,
        Want::Refused("means no outcome"),
    ),
];

#[tokio::test]
async fn rees46_reads_what_its_seed_allows_and_refuses_the_rest() {
    let tally = check(Dialect::Rees46, "79991234567", CASES).await;
    assert_eq!((tally.allowed, tally.forbidden), (19, 12));
}
