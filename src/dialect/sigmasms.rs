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
//! another account), the recipient (a possible phone number). Paths are
//! taken with or without the trailing slash.

use std::sync::LazyLock;

use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::WidgetState;
use crate::delivery::Template;
use crate::dialect::client::{
    bearer, text, ClientError, Credentials, SendOp, VerifyOp, WireRequest,
};
use crate::dialect::wire::{self, with_retry_after};
use crate::dialect::{
    bearer_token, documented, is_json, observe_common, rejection_outcome, secret_eq, Operation,
    Rejection, Reply, Request, ServeContext, WireResponse,
};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{ChallengeId, Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::{ChallengeRef, SendRequest, VerifyRequest};

pub(crate) const PREFIX: &str = "/api/n/";
pub const SEND_PATH: &str = "/api/n/otp-handler/";
pub const CHECK_PATH: &str = "/api/n/otp-handler/check";
const TENANT: &str = "sigmasms";

const VALIDATION: &str = "Переданы некорректные данные";
const FORBIDDEN: (&str, &str) = ("ForbiddenException", "Запрещено");
const WIDGET_NOT_FOUND: (&str, &str) = ("WidgetNotFoundException", "Форма не существует");

pub type Documented = (OutcomeKind, u16, &'static str, &'static str);
pub const VALIDATION_ERROR: Documented = (
    OutcomeKind::InvalidInput,
    400,
    "ValidationException",
    VALIDATION,
);
pub const INTERNAL_ERROR: Documented = (
    OutcomeKind::InternalError,
    500,
    "InternalServerErrorException",
    "Внутренняя ошибка сервера",
);

/// Every documented error: outcome, status, exception type, message. The
/// first entry of a kind is what the engine's outcomes render as.
pub const ERRORS: &[Documented] = &[
    (
        OutcomeKind::ProviderUnavailable,
        400,
        "NoAvailableChannelsException",
        "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново",
    ),
    VALIDATION_ERROR,
    (
        OutcomeKind::WrongCode,
        400,
        "InvalidCodeException",
        "Неверный код",
    ),
    (
        OutcomeKind::Expired,
        400,
        "CodeExpiredException",
        "Срок действия кода истёк",
    ),
    (
        OutcomeKind::Unauthorized,
        401,
        "UnauthorizedException",
        "Пользователь не авторизован",
    ),
    (
        OutcomeKind::Forbidden,
        403,
        "WidgetIsBlockedException",
        "Форма или пользователь заблокированы - обратитесь в поддержку",
    ),
    (OutcomeKind::Forbidden, 403, FORBIDDEN.0, FORBIDDEN.1),
    (
        OutcomeKind::NotFound,
        404,
        "RequestNotFoundException",
        "Запрос не найден",
    ),
    (
        OutcomeKind::NotFound,
        404,
        WIDGET_NOT_FOUND.0,
        WIDGET_NOT_FOUND.1,
    ),
    (
        OutcomeKind::RateLimited,
        429,
        "TooManyRequestsException",
        "Слишком много запросов, попробуйте позже",
    ),
    (
        OutcomeKind::AttemptsExceeded,
        429,
        "AttemptsExceededException",
        "Превышено количество попыток ввода кода",
    ),
    (
        OutcomeKind::StoreUnavailable,
        503,
        "ServiceUnavailableException",
        "Сервис временно недоступен",
    ),
    INTERNAL_ERROR,
    // Requests that never reach an operation.
    (
        OutcomeKind::NotFound,
        404,
        "NotFoundException",
        "Ресурс не найден",
    ),
    (
        OutcomeKind::InvalidInput,
        405,
        "MethodNotAllowedException",
        "Метод не поддерживается",
    ),
    (
        OutcomeKind::InvalidInput,
        413,
        "PayloadTooLargeException",
        "Слишком большой запрос",
    ),
];

/// What this dialect answers besides [`super::COMMON_OUTCOMES`].
pub(crate) const ALSO_PRODUCES: &[OutcomeKind] = &[OutcomeKind::Forbidden];

static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Код подтверждения: {code}", "{code}").expect("has a placeholder")
});

pub(crate) fn route(path: &str) -> Option<Operation> {
    match path {
        SEND_PATH | "/api/n/otp-handler" => Some(Operation::Send),
        CHECK_PATH | "/api/n/otp-handler/check/" => Some(Operation::Verify),
        _ => None,
    }
}

pub(crate) async fn serve(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    let answer = match request.operation {
        Operation::Send => send(context, &request).await,
        Operation::Verify => verify(context, &request).await,
        Operation::Token | Operation::Other => return reject(Rejection::NotFound),
    };
    match answer {
        Ok((outcome, id)) => render(
            &observe(&outcome, context.echo_codes),
            request.operation,
            id.as_deref(),
        ),
        Err(reply) => reply,
    }
}

/// An outcome refused before the engine, rendered.
fn refuse(outcome: &Outcome) -> Reply {
    render(&observe(outcome, false), Operation::Other, None)
}

/// Bearer token, then a JSON object.
fn admit(
    context: &ServeContext<'_>,
    request: &Request<'_>,
) -> Result<serde_json::Map<String, Value>, Reply> {
    let authorized = bearer_token(request.headers)
        .is_some_and(|token| secret_eq(token, &context.config.sigmasms.bearer));
    if !authorized {
        return Err(refuse(&Outcome::Unauthorized));
    }
    if !is_json(request.headers) {
        return Err(refuse(&Outcome::invalid(VALIDATION)));
    }
    wire::object(request.body).ok_or_else(|| refuse(&Outcome::invalid(VALIDATION)))
}

type Answer = Result<(Outcome, Option<String>), Reply>;

async fn send(context: &ServeContext<'_>, request: &Request<'_>) -> Answer {
    let body = admit(context, request)?;
    let invalid = || refuse(&Outcome::invalid(VALIDATION));
    let widget = wire::string(&body, "widgetId").map_err(|_| invalid())?;
    let widget = Uuid::parse_str(widget).map_err(|_| invalid())?;
    let recipient = wire::string(&body, "recipient").map_err(|_| invalid())?;
    let state = context
        .config
        .sigmasms
        .widgets
        .iter()
        .find(|(id, _)| *id == widget)
        .map(|&(_, state)| state);
    match state {
        None => return Err(error(404, WIDGET_NOT_FOUND, OutcomeKind::NotFound)),
        Some(WidgetState::Blocked) => return Err(refuse(&Outcome::Forbidden)),
        Some(WidgetState::Foreign) => return Err(error(403, FORBIDDEN, OutcomeKind::Forbidden)),
        Some(WidgetState::Active) => {}
    }
    let to = Identifier::phone(recipient).map_err(|_| invalid())?;
    let send = SendRequest {
        tenant: TENANT.to_string(),
        to,
        purpose: widget.to_string(),
        channel: None,
        template: TEMPLATE.clone(),
        from: None,
    };
    let outcome = context
        .engine
        .send(&context.config.sigmasms.policy, send)
        .await;
    Ok((outcome, None))
}

async fn verify(context: &ServeContext<'_>, request: &Request<'_>) -> Answer {
    let body = admit(context, request)?;
    let invalid = || refuse(&Outcome::invalid(VALIDATION));
    let id = wire::string(&body, "requestId").map_err(|_| invalid())?;
    let id = Uuid::parse_str(id).map_err(|_| invalid())?;
    let code = wire::string(&body, "code").map_err(|_| invalid())?;
    let by = ChallengeRef::Id {
        tenant: TENANT.to_string(),
        id: ChallengeId(id),
    };
    let outcome = context
        .engine
        .verify(VerifyRequest {
            by,
            code: code.to_string(),
        })
        .await;
    Ok((outcome, Some(id.hyphenated().to_string())))
}

/// What SigmaSMS shows of an outcome: the request id of a send, an
/// exception otherwise.
pub(crate) fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
    match outcome {
        Outcome::Sent(sent) => Observed::Sent(Receipt {
            id: Some(sent.id.to_string()),
            ..Receipt::default()
        }),
        Outcome::UnsupportedMediaType => Observed::invalid(VALIDATION),
        Outcome::InvalidInput { reason }
            if !ERRORS
                .iter()
                .any(|e| e.0 == OutcomeKind::InvalidInput && e.3 == reason) =>
        {
            Observed::invalid(VALIDATION)
        }
        _ => observe_common(outcome),
    }
}

pub(crate) fn render(observed: &Observed, _operation: Operation, id: Option<&str>) -> Reply {
    match observed {
        Observed::Sent(receipt) => {
            let body = json!({"requestId": receipt.id.as_deref().unwrap_or_default()});
            return Reply::json(
                StatusCode::CREATED,
                "application/json",
                &body,
                OutcomeKind::Sent,
            );
        }
        Observed::Verified => {
            let body = json!({"requestId": id.unwrap_or_default(), "status": "confirmed"});
            return Reply::json(
                StatusCode::OK,
                "application/json",
                &body,
                OutcomeKind::Verified,
            );
        }
        _ => {}
    }
    let kind = observed.kind();
    let entry = match observed {
        Observed::InvalidInput { reason } => ERRORS
            .iter()
            .find(|e| e.0 == kind && e.3 == reason)
            .unwrap_or(&VALIDATION_ERROR),
        _ => ERRORS
            .iter()
            .find(|e| e.0 == kind)
            .unwrap_or(&INTERNAL_ERROR),
    };
    with_retry_after(error(entry.1, (entry.2, entry.3), entry.0), observed)
}

fn error(status: u16, (kind_name, message): (&str, &str), kind: OutcomeKind) -> Reply {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"type": kind_name, "message": message, "httpStatus": status});
    let reply = Reply::json(code, "application/json", &body, kind);
    if kind == OutcomeKind::Unauthorized {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    } else {
        reply
    }
}

pub(crate) fn reject(rejection: Rejection) -> Reply {
    let name = match rejection {
        Rejection::NotFound => "NotFoundException",
        Rejection::MethodNotAllowed(_) => "MethodNotAllowedException",
        Rejection::PayloadTooLarge => "PayloadTooLargeException",
        Rejection::UnreadableBody => "ValidationException",
    };
    let entry = ERRORS
        .iter()
        .find(|e| e.2 == name)
        .unwrap_or(&VALIDATION_ERROR);
    error(entry.1, (entry.2, entry.3), rejection_outcome(rejection))
}

pub(crate) fn send_request(
    credentials: &Credentials,
    send: &SendOp,
) -> Result<WireRequest, ClientError> {
    let body = json!({"widgetId": credentials.widget_id, "recipient": send.to});
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
        .ok_or(ClientError::Missing("the requestId of the send"))?;
    let body = json!({"requestId": id, "code": verify.code});
    Ok(WireRequest::json(
        CHECK_PATH,
        vec![bearer(&credentials.bearer)],
        &body,
    ))
}

pub(crate) fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    let request_id = text(&body, "requestId");
    match (response.status, operation) {
        (201, Operation::Send) => {
            return match request_id {
                Some(id) => Observed::Sent(Receipt {
                    id: Some(id.to_string()),
                    ..Receipt::default()
                }),
                None => response.unrecognized("a 201 without requestId"),
            }
        }
        (200, Operation::Verify) => {
            return match (request_id, text(&body, "status")) {
                (Some(_), Some("confirmed")) => Observed::Verified,
                _ => response.unrecognized("a 200 without requestId and status confirmed"),
            }
        }
        _ => {}
    }
    let (Some(name), Some(message), Some(status)) = (
        text(&body, "type"),
        text(&body, "message"),
        body.get("httpStatus").and_then(Value::as_u64),
    ) else {
        return response.unrecognized("an error without type, message and httpStatus");
    };
    if status != u64::from(response.status) {
        return response.unrecognized("httpStatus differs from the status");
    }
    match ERRORS
        .iter()
        .find(|e| e.1 == response.status && e.2 == name)
    {
        Some(&(kind, ..)) => documented(kind, message, response),
        None => response.unrecognized("an undocumented exception for this status"),
    }
}
