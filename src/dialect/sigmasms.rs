//! The SigmaSMS dialect (seed `001_99e3f6fe0d09bb0f.txt`, DESIGN.md §3
//! "sigmasms"): an OTP widget API in NestJS style.
//!
//! - `POST /api/n/otp-handler/` Bearer `{"widgetId": uuid, "recipient":
//!   phone}` → **201** `{"requestId": uuid}`.
//! - `POST /api/n/otp-handler/check` Bearer `{"requestId": uuid, "code"}` →
//!   200 `{"requestId": uuid, "status": "confirmed"}`.
//! - Errors `{"type": "<Name>Exception", "message": "<Russian text>",
//!   "httpStatus": n}` with the status `httpStatus` ([`ERRORS`]; the seed's
//!   texts verbatim where it gives one).
//!
//! Checks run in this order: Bearer token (401), a JSON body
//! (`Content-Type: application/json`, as NestJS parses nothing else) that
//! is an object with string fields (400 ValidationException), the widget
//! (404 unknown, 403 blocked, 403 ForbiddenException when it belongs to
//! another account), the recipient (a possible phone number). `widgetId`
//! and `requestId` are `string(uuid)`: the canonical hyphenated form only
//! (hex in either case). Paths are taken with or without the trailing
//! slash.

use std::sync::LazyLock;

use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use uuid::Uuid;

use crate::config::WidgetState;
use crate::dialect::prelude::*;

/// The SigmaSMS dialect.
pub struct SigmaSms;

pub(super) const SEND_PATH: &str = "/api/n/otp-handler/";
pub(super) const CHECK_PATH: &str = "/api/n/otp-handler/check";
const TENANT: &str = "sigmasms";

/// Every documented error: outcome, status, message and exception name.
/// The first row of a kind is what the engine's outcomes render as.
pub(super) const ERRORS: ErrorTable<&str> = ErrorTable::new(&[
    ErrorRow::keyed(
        OutcomeKind::ProviderUnavailable,
        StatusCode::BAD_REQUEST,
        "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново",
        "NoAvailableChannelsException",
    ),
    VALIDATION_ERROR,
    ErrorRow::keyed(
        OutcomeKind::WrongCode,
        StatusCode::BAD_REQUEST,
        "Неверный код",
        "InvalidCodeException",
    ),
    ErrorRow::keyed(
        OutcomeKind::Expired,
        StatusCode::BAD_REQUEST,
        "Срок действия кода истёк",
        "CodeExpiredException",
    ),
    ErrorRow::keyed(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "Пользователь не авторизован",
        "UnauthorizedException",
    ),
    ErrorRow::keyed(
        OutcomeKind::Forbidden,
        StatusCode::FORBIDDEN,
        "Форма или пользователь заблокированы - обратитесь в поддержку",
        "WidgetIsBlockedException",
    ),
    FORBIDDEN,
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "Запрос не найден",
        "RequestNotFoundException",
    ),
    WIDGET_NOT_FOUND,
    ErrorRow::keyed(
        OutcomeKind::RateLimited,
        StatusCode::TOO_MANY_REQUESTS,
        "Слишком много запросов, попробуйте позже",
        "TooManyRequestsException",
    ),
    ErrorRow::keyed(
        OutcomeKind::AttemptsExceeded,
        StatusCode::TOO_MANY_REQUESTS,
        "Превышено количество попыток ввода кода",
        "AttemptsExceededException",
    ),
    ErrorRow::keyed(
        OutcomeKind::StoreUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "Сервис временно недоступен",
        "ServiceUnavailableException",
    ),
    INTERNAL_ERROR,
    // Requests that never reach an operation.
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "Ресурс не найден",
        "NotFoundException",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::METHOD_NOT_ALLOWED,
        "Метод не поддерживается",
        "MethodNotAllowedException",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Слишком большой запрос",
        "PayloadTooLargeException",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::REQUEST_TIMEOUT,
        "Время ожидания запроса истекло",
        "RequestTimeoutException",
    ),
]);

const VALIDATION_ERROR: ErrorRow<&str> = ErrorRow::keyed(
    OutcomeKind::InvalidInput,
    StatusCode::BAD_REQUEST,
    "Переданы некорректные данные",
    "ValidationException",
);
const FORBIDDEN: ErrorRow<&str> = ErrorRow::keyed(
    OutcomeKind::Forbidden,
    StatusCode::FORBIDDEN,
    "Запрещено",
    "ForbiddenException",
);
const WIDGET_NOT_FOUND: ErrorRow<&str> = ErrorRow::keyed(
    OutcomeKind::NotFound,
    StatusCode::NOT_FOUND,
    "Форма не существует",
    "WidgetNotFoundException",
);
const INTERNAL_ERROR: ErrorRow<&str> = ErrorRow::keyed(
    OutcomeKind::InternalError,
    StatusCode::INTERNAL_SERVER_ERROR,
    "Внутренняя ошибка сервера",
    "InternalServerErrorException",
);

static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Код подтверждения: {code}", "{code}").expect("has a placeholder")
});

impl Protocol for SigmaSms {
    const NAME: &'static str = "sigmasms";
    const PREFIX: &'static str = "/api/n/";
    const ALSO_PRODUCES: &'static [OutcomeKind] = &[OutcomeKind::Forbidden];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (SEND_PATH, Operation::Send),
        ("/api/n/otp-handler", Operation::Send),
        (CHECK_PATH, Operation::Verify),
        ("/api/n/otp-handler/check/", Operation::Verify),
    ];

    const BEARER: Option<fn(&Config) -> &str> = Some(|config| &config.sigmasms.bearer);

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let body = admit(request, ["widgetId", "recipient"])?;
        let widget = body.field("widgetId")?;
        let widget = canonical_uuid(widget).ok_or(Invalid::new("widgetId", Fault::Malformed))?;
        let recipient = body.field("recipient")?;
        let state = context
            .config
            .sigmasms
            .widgets
            .iter()
            .find(|(id, _)| *id == widget)
            .map(|&(_, state)| state);
        match state {
            None => return Err(error(&WIDGET_NOT_FOUND).into()),
            Some(WidgetState::Blocked) => return Err(Outcome::Forbidden.into()),
            Some(WidgetState::Foreign) => return Err(error(&FORBIDDEN).into()),
            Some(WidgetState::Active) => {}
        }
        let to = Identifier::phone(recipient)
            .map_err(|_| Invalid::new("recipient", Fault::Malformed))?;
        // Each widget is its own purpose: codes of two widgets to one
        // phone are independent.
        let policy = &context.config.sigmasms.policy;
        Ok(SendCall::new(policy, TENANT, to, widget, &TEMPLATE))
    }

    fn admit_verify(_context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let body = admit(request, ["requestId", "code"])?;
        let id = body.field("requestId")?;
        let id = canonical_uuid(id).ok_or(Invalid::new("requestId", Fault::Malformed))?;
        let code = body.field("code")?;
        Ok(VerifyCall::by_id(TENANT, id, code).quoting(id.hyphenated().to_string()))
    }

    /// The request id of a send, an exception otherwise; every invalid
    /// input is one ValidationException.
    fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
        match outcome {
            Outcome::Sent(sent) => Observed::Sent(Receipt {
                id: Some(sent.id.to_string()),
                ..Receipt::default()
            }),
            Outcome::UnsupportedMediaType => Observed::invalid(Invalid::body(Fault::Invalid)),
            _ => observe_common(outcome, |_| Invalid::body(Fault::Invalid)),
        }
    }

    fn render(observed: &Observed, _operation: Operation, id: Option<&str>) -> Reply {
        match observed {
            Observed::Sent(receipt) => {
                let body = json!({"requestId": receipt.id.as_deref().unwrap_or_default()});
                return Reply::json(StatusCode::CREATED, JSON, &body, OutcomeKind::Sent);
            }
            Observed::Verified => {
                let body = json!({"requestId": id.unwrap_or_default(), "status": "confirmed"});
                return Reply::json(StatusCode::OK, JSON, &body, OutcomeKind::Verified);
            }
            _ => {}
        }
        let row = ERRORS.by_kind(observed.kind()).unwrap_or(&INTERNAL_ERROR);
        error(row).with_retry_after(observed)
    }

    fn reject(rejection: Rejection) -> Reply {
        let name = match rejection {
            Rejection::NotFound => "NotFoundException",
            Rejection::MethodNotAllowed(_) => "MethodNotAllowedException",
            Rejection::PayloadTooLarge => "PayloadTooLargeException",
            Rejection::UnreadableBody => "ValidationException",
            Rejection::RequestTimeout => "RequestTimeoutException",
        };
        let row = ERRORS.by_key(&name).unwrap_or(&VALIDATION_ERROR);
        let mut reply = error(row);
        reply.outcome = rejection.outcome();
        reply
    }

    fn send_request(credentials: &Credentials, _session: &Session, send: &SendOp) -> Built {
        let body = json!({"widgetId": credentials.widget_id, "recipient": send.to});
        Ok(WireRequest::json(
            SEND_PATH,
            vec![bearer(&credentials.bearer)],
            &body,
        ))
    }

    fn verify_request(credentials: &Credentials, _session: &Session, verify: &VerifyOp) -> Built {
        let id = verify.handle("the requestId of the send")?;
        let body = json!({"requestId": id, "code": verify.code});
        Ok(WireRequest::json(
            CHECK_PATH,
            vec![bearer(&credentials.bearer)],
            &body,
        ))
    }

    /// By the seed: a send is 201 with a UUID `requestId`; errors are
    /// exceptions `{"type", "message", "httpStatus"}` named by `type`
    /// (the message text is free); a 401 has no body schema. The check
    /// route is not in the seed: any 2xx is a confirmation unless its
    /// `status` says otherwise. NestJS's own error body `{"statusCode",
    /// "message"}` is read by its status.
    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        const EXCEPTION: &str =
            "the seed's errors are {\"type\": \"…Exception\", \"message\", \"httpStatus\"}";
        let status = response.status;
        if status == 401 {
            // The seed: 401 "Unauthorized", schema None.
            return Classified::plain(Observed::Unauthorized);
        }
        let body = response.object();
        match (status, operation) {
            (201, Operation::Send) => {
                let id = body.as_ref().ok().and_then(|body| text(body, "requestId"));
                return match id {
                    Some(id) if canonical_uuid(id).is_some() => Observed::Sent(Receipt {
                        id: Some(id.to_string()),
                        ..Receipt::default()
                    })
                    .into(),
                    _ => response
                        .unrecognized(
                            "the seed's 201 is OtpHandlerSendResponseDto, requestId: \
                             string(uuid), required",
                        )
                        .into(),
                };
            }
            (200..=299, Operation::Send) => {
                return response
                    .unrecognized("the seed answers a send with 201 and requestId")
                    .into()
            }
            (200..=299, _) => {
                let Ok(body) = &body else {
                    return response
                        .unrecognized("a 2xx to the check route that is not a JSON object")
                        .into();
                };
                let confirmed = match body.get("status") {
                    None => None,
                    Some(Value::String(s)) if s.eq_ignore_ascii_case("confirmed") => Some(true),
                    Some(_) => Some(false),
                };
                return match confirmed {
                    Some(true) => Classified::plain(Observed::Verified),
                    None => Classified::noted(
                        Observed::Verified,
                        "a 2xx to the check route, which the seed does not document, read as \
                         confirmed (no status field says otherwise)",
                    ),
                    Some(false) => response
                        .unrecognized(
                            "a 2xx to the check route whose status is not \"confirmed\" (the seed \
                             documents no check answer; DESIGN.md's is status: confirmed)",
                        )
                        .into(),
                };
            }
            _ => {}
        }
        let Ok(body) = body else {
            return response.unrecognized(EXCEPTION).into();
        };
        if let (Some(name), Some(_message)) = (text(&body, "type"), text(&body, "message")) {
            if body.get("httpStatus").and_then(Value::as_u64) != Some(u64::from(status)) {
                return response
                    .unrecognized(&format!("httpStatus is not the status; {EXCEPTION}"))
                    .into();
            }
            return match ERRORS.by_status_and(status, &name) {
                Some(row) => {
                    documented(row.kind, response, || Invalid::body(Fault::Invalid)).into()
                }
                None => read_status(
                    operation,
                    response,
                    &format!("the exception {name} is none the seed or DESIGN.md names"),
                    &format!("an exception at a status that means no outcome; {EXCEPTION}"),
                    || Invalid::body(Fault::Invalid),
                ),
            };
        }
        let nest = body.get("statusCode").and_then(Value::as_u64) == Some(u64::from(status))
            && matches!(
                body.get("message"),
                Some(Value::String(_) | Value::Array(_))
            );
        if nest {
            return read_status(
                operation,
                response,
                "NestJS's own error body {\"statusCode\", \"message\"}",
                &format!("a NestJS error at a status that means no outcome; {EXCEPTION}"),
                || Invalid::body(Fault::Invalid),
            );
        }
        response.unrecognized(EXCEPTION).into()
    }
}

/// After the token: a JSON object, with these members read.
fn admit<'a, const N: usize>(
    request: &Request<'a>,
    names: [&'static str; N],
) -> Result<wire::Fields<'a, N>, Refusal> {
    if !is_json(request.headers) {
        return Err(Invalid::body(Fault::NotJson).into());
    }
    Ok(wire::fields(request.body, names)?)
}

/// A `string(uuid)` as the seed types it: the canonical hyphenated form
/// (`8-4-4-4-12` hex digits, either case) only — not `{…}`, undashed hex
/// or `urn:uuid:…`, which `Uuid::parse_str` would also take.
fn canonical_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    // Of the forms `parse_str` reads, only the hyphenated one is 36 long.
    Uuid::parse_str(text).ok()
}

/// An exception body `{"type", "message", "httpStatus"}`.
fn error(row: &ErrorRow<&str>) -> Reply {
    let body = json!({"type": row.extra, "message": row.text, "httpStatus": row.status.as_u16()});
    let reply = Reply::json(row.status, JSON, &body, row.kind);
    if row.kind == OutcomeKind::Unauthorized {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    } else {
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `{uuid}`, undashed hex and `urn:uuid:…` were taken as
    /// the active widget.
    #[test]
    fn only_the_hyphenated_uuid_form_is_a_uuid() {
        let id = "123634df-ddfe-4dda-b31d-f3b4e75fc5dc";
        assert!(canonical_uuid(id).is_some());
        assert!(canonical_uuid(&id.to_uppercase()).is_some());
        for other in [
            "{123634df-ddfe-4dda-b31d-f3b4e75fc5dc}",
            "123634dfddfe4ddab31df3b4e75fc5dc",
            "urn:uuid:123634df-ddfe-4dda-b31d-f3b4e75fc5dc",
            "123634df-ddfe-4dda-b31d-f3b4e75fc5d",
            "123634df-ddfe-4dda-b31d-f3b4e75fc5dcx",
            "123634dfxddfe-4dda-b31d-f3b4e75fc5dc",
        ] {
            assert_eq!(canonical_uuid(other), None, "{other}");
        }
    }
}
