//! SigmaSMS (seed 001, DESIGN.md §3 "sigmasms") in the independent
//! service: `POST /api/n/otp-handler/` (201 with a `requestId`) and
//! `/check`, a bearer token, and NestJS-style exceptions `{"type",
//! "message", "httpStatus"}`. A widget is a purpose: each widget's
//! challenge for a number is its own. Checks run: token, body, widget,
//! recipient.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::http::{text, Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::{recipient, Service};

const TOKEN: &str = "test-token";
const ACTIVE_WIDGET: &str = "123634df-ddfe-4dda-b31d-f3b4e75fc5dc";
const BLOCKED_WIDGET: &str = "00000000-0000-4000-8000-00000000b10c";

/// The seed's texts where it gives them; the rest are ours.
const NO_CHANNELS: &str =
    "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново";
const BLOCKED: &str = "Форма или пользователь заблокированы - обратитесь в поддержку";

fn exception(status: u16, name: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"type": name, "message": message, "httpStatus": status}),
    )
}

fn invalid(what: &str) -> Reply {
    exception(
        400,
        "ValidationException",
        &format!("Некорректное значение поля {what}"),
    )
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let checking = match (call.is_post(), call.path.trim_end_matches('/')) {
        (true, "/api/n/otp-handler") => false,
        (true, "/api/n/otp-handler/check") => true,
        _ => return exception(404, "NotFoundException", "Ресурс не найден"),
    };
    if call.bearer() != Some(TOKEN) {
        return exception(401, "UnauthorizedException", "Требуется авторизация");
    }
    let Body::Object(body) = call.json() else {
        return invalid("body: ожидается JSON-объект");
    };
    let answered = if checking {
        check(service, &body).await
    } else {
        send(service, &body).await
    };
    answered.unwrap_or_else(|LedgerGone| {
        exception(
            503,
            "ServiceUnavailableException",
            "Сервис временно недоступен",
        )
    })
}

async fn send(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let widget = match text(body, "widgetId") {
        Ok(Some(w)) if Uuid::parse_str(w).is_ok() => w.to_ascii_lowercase(),
        _ => return Ok(invalid("widgetId")),
    };
    let Some(to) = text(body, "recipient")
        .ok()
        .flatten()
        .and_then(recipient::phone)
    else {
        return Ok(invalid("recipient"));
    };
    if widget == BLOCKED_WIDGET {
        return Ok(exception(403, "WidgetIsBlockedException", BLOCKED));
    }
    if widget != ACTIVE_WIDGET {
        return Ok(exception(
            404,
            "WidgetNotFoundException",
            "Форма не существует",
        ));
    }
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Sigmasms,
            to: &to,
            purpose: &widget,
            alphabet: Alphabet::Digits,
            length: 6,
            terms: otp::standard_terms(),
            channels: &["sms"],
            text: &|code| format!("Код для входа: {code}. Никому его не сообщайте."),
        },
    )
    .await?;
    Ok(match sent {
        Sent::Delivered { handle, .. } => {
            Reply::json(201, json!({"requestId": handle.to_string()}))
        }
        Sent::Limited { .. } => exception(
            429,
            "TooManyRequestsException",
            "Слишком много запросов, попробуйте позже",
        ),
        Sent::Undelivered => exception(400, "NoAvailableChannelsException", NO_CHANNELS),
    })
}

async fn check(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let (request, handle) = match text(body, "requestId") {
        Ok(Some(r)) => match Uuid::parse_str(r) {
            Ok(handle) => (r, handle),
            Err(_) => return Ok(invalid("requestId")),
        },
        _ => return Ok(invalid("requestId")),
    };
    let Ok(Some(code)) = text(body, "code") else {
        return Ok(invalid("code"));
    };
    let lookup = Lookup::Handle {
        handle,
        to: None,
        purpose: None,
    };
    Ok(
        match otp::verify(service, Desk::Sigmasms, lookup, code).await? {
            Checked::Verified => {
                Reply::json(200, json!({"requestId": request, "status": "confirmed"}))
            }
            Checked::Wrong { .. } => {
                exception(400, "InvalidCodeException", "Неверный код подтверждения")
            }
            Checked::Expired => exception(400, "CodeExpiredException", "Срок действия кода истёк"),
            Checked::Exhausted { .. } => exception(
                429,
                "AttemptsExceededException",
                "Исчерпано число попыток ввода кода",
            ),
            Checked::Missing => exception(404, "RequestNotFoundException", "Запрос не найден"),
        },
    )
}
