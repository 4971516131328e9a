//! SigmaSMS, seed `001_99e3f6fe0d09bb0f.txt`: a send is 201
//! `OtpHandlerSendResponseDto` (`requestId`: string(uuid), required);
//! 400 NoAvailableChannelsException, 401 "Unauthorized" with schema
//! None, 403 WidgetIsBlockedException / ForbiddenException, 404
//! WidgetNotFoundException, each `{"type", "message", "httpStatus"}`. The
//! check route is not in the seed.

use otpbench::dialect::Dialect;
use otpbench::OutcomeKind as K;

use super::{check, json, other, Case, Op, Want};

const ID: &str = r#"{"requestId": "d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6"}"#;
const EXCEPTION: &str = "the seed's errors are";

const CASES: &[Case] = &[
    // Allowed.
    json("201 Response", Op::Send, 201, ID, Want::Is(K::Sent)),
    json(
        "201 with members the DTO does not name",
        Op::Send,
        201,
        r#"{"requestId": "d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6", "ttl": 300}"#,
        Want::Is(K::Sent),
    ),
    json(
        "NoAvailableChannelsException, the seed's text",
        Op::Send,
        400,
        r#"{"type": "NoAvailableChannelsException", "message": "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново", "httpStatus": 400}"#,
        Want::Is(K::ProviderUnavailable),
    ),
    json(
        "NoAvailableChannelsException, another text",
        Op::Send,
        400,
        r#"{"type": "NoAvailableChannelsException", "message": "No channels", "httpStatus": 400}"#,
        Want::Is(K::ProviderUnavailable),
    ),
    json(
        "WidgetIsBlockedException",
        Op::Send,
        403,
        r#"{"type": "WidgetIsBlockedException", "message": "Форма или пользователь заблокированы - обратитесь в поддержку", "httpStatus": 403}"#,
        Want::Is(K::Forbidden),
    ),
    json(
        "ForbiddenException",
        Op::Send,
        403,
        r#"{"type": "ForbiddenException", "message": "Запрещено", "httpStatus": 403}"#,
        Want::Is(K::Forbidden),
    ),
    json(
        "WidgetNotFoundException",
        Op::Send,
        404,
        r#"{"type": "WidgetNotFoundException", "message": "Форма не существует", "httpStatus": 404}"#,
        Want::Is(K::NotFound),
    ),
    other(
        "401 Unauthorized, schema None: no body",
        Op::Send,
        401,
        "",
        "",
        Want::Is(K::Unauthorized),
    ),
    json(
        "401 as NestJS answers it",
        Op::Send,
        401,
        r#"{"statusCode": 401, "message": "Unauthorized"}"#,
        Want::Is(K::Unauthorized),
    ),
    other(
        "401 as text",
        Op::Verify,
        401,
        "text/plain",
        "Unauthorized",
        Want::Is(K::Unauthorized),
    ),
    json(
        "400 as NestJS's ValidationPipe answers it",
        Op::Send,
        400,
        r#"{"statusCode": 400, "message": ["recipient must be a string"], "error": "Bad Request"}"#,
        Want::Is(K::InvalidInput),
    ),
    json(
        "an exception the seed does not name, read by status",
        Op::Verify,
        400,
        r#"{"type": "WrongCodeException", "message": "Неверный код", "httpStatus": 400}"#,
        Want::Admits(K::WrongCode),
    ),
    json(
        "check: DESIGN's confirmation",
        Op::Verify,
        200,
        r#"{"requestId": "d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6", "status": "confirmed"}"#,
        Want::Is(K::Verified),
    ),
    json(
        "check: a bare 200 (the seed fixes none)",
        Op::Verify,
        200,
        r#"{}"#,
        Want::Is(K::Verified),
    ),
    json(
        "check: 201",
        Op::Verify,
        201,
        r#"{"status": "CONFIRMED"}"#,
        Want::Is(K::Verified),
    ),
    // Forbidden.
    json(
        "a send's success is 201, not 200",
        Op::Send,
        200,
        ID,
        Want::Refused("201"),
    ),
    json(
        "201 without requestId",
        Op::Send,
        201,
        r#"{}"#,
        Want::Refused("requestId: string(uuid), required"),
    ),
    json(
        "requestId not a uuid",
        Op::Send,
        201,
        r#"{"requestId": "42"}"#,
        Want::Refused("string(uuid)"),
    ),
    json(
        "requestId not a string",
        Op::Send,
        201,
        r#"{"requestId": 42}"#,
        Want::Refused("string(uuid)"),
    ),
    other(
        "201 not JSON",
        Op::Send,
        201,
        "text/plain",
        "created",
        Want::Refused("string(uuid)"),
    ),
    json(
        "httpStatus differs from the status",
        Op::Send,
        403,
        r#"{"type": "WidgetIsBlockedException", "message": "x", "httpStatus": 400}"#,
        Want::Refused("httpStatus is not the status"),
    ),
    json(
        "an exception without type",
        Op::Send,
        404,
        r#"{"message": "Форма не существует", "httpStatus": 404}"#,
        Want::Refused(EXCEPTION),
    ),
    json(
        "an exception without message",
        Op::Send,
        404,
        r#"{"type": "WidgetNotFoundException", "httpStatus": 404}"#,
        Want::Refused(EXCEPTION),
    ),
    other(
        "an error that is not JSON",
        Op::Send,
        400,
        "text/html",
        "<h1>Bad</h1>",
        Want::Refused(EXCEPTION),
    ),
    json(
        "an exception at a status that means no outcome",
        Op::Send,
        302,
        r#"{"type": "FoundException", "message": "x", "httpStatus": 302}"#,
        Want::Refused("means no outcome"),
    ),
    json(
        "check: a status that is not confirmed",
        Op::Verify,
        200,
        r#"{"status": "pending"}"#,
        Want::Refused("not \"confirmed\""),
    ),
];

#[tokio::test]
async fn sigmasms_reads_what_its_seed_allows_and_refuses_the_rest() {
    let tally = check(Dialect::Sigmasms, "79991234567", CASES).await;
    assert_eq!((tally.allowed, tally.forbidden), (15, 11));
}
