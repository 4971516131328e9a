//! SigmaSMS on the wire (DESIGN.md §3 "sigmasms"): every documented
//! answer, status and exact body, spoken through the client side.

use otpbench::config::{DEFAULT_BLOCKED_WIDGET, DEFAULT_FOREIGN_WIDGET};
use otpbench::dialect::{Dialect, Operation};
use otpbench::{Observed, OutcomeKind};
use serde_json::{json, Value};

use crate::support::dialect::{advance, codes_sent_to, golden, latest_code, Speaker};
use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

const SEND: &str = "/api/n/otp-handler/";
const PHONE: &str = "+79991234567";
const AUTH: (&str, &str) = ("Authorization", "Bearer test-token");
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn exception(kind: &str, message: &str, status: u16) -> Value {
    json!({"type": kind, "message": message, "httpStatus": status})
}

fn validation() -> Value {
    exception("ValidationException", "Переданы некорректные данные", 400)
}

async fn sent(sigma: &Speaker) -> String {
    let (reply, observed) = sigma.send(PHONE).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let id = body["requestId"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let Observed::Sent(receipt) = observed else {
        panic!("{observed:?}")
    };
    assert_eq!(receipt.id.as_deref(), Some(id.as_str()));
    id
}

#[tokio::test]
async fn send_is_201_and_check_confirms_once() {
    let server = TestServer::start().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    let id = sent(&sigma).await;
    let code = latest_code(server.addr, PHONE).await;
    let (reply, observed) = sigma.verify(PHONE, Some(&id), &code).await;
    golden(&reply, 200, json!({"requestId": id, "status": "confirmed"}));
    assert_eq!(observed, Observed::Verified);
    let (reply, observed) = sigma.verify(PHONE, Some(&id), &code).await;
    golden(
        &reply,
        404,
        exception("RequestNotFoundException", "Запрос не найден", 404),
    );
    assert_eq!(observed, Observed::NotFound);
}

#[tokio::test]
async fn wrong_expired_and_exhausted_codes() {
    let server = TestServer::start().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    let id = sent(&sigma).await;
    for _ in 0..3 {
        let (reply, _) = sigma.verify(PHONE, Some(&id), "x").await;
        golden(
            &reply,
            400,
            exception("InvalidCodeException", "Неверный код", 400),
        );
    }
    let (reply, observed) = sigma.verify(PHONE, Some(&id), "x").await;
    golden(
        &reply,
        429,
        exception(
            "AttemptsExceededException",
            "Превышено количество попыток ввода кода",
            429,
        ),
    );
    assert_eq!(observed.kind(), OutcomeKind::AttemptsExceeded);

    let id = sent(&sigma).await;
    let code = latest_code(server.addr, PHONE).await;
    advance(server.addr, 300_000).await;
    let (reply, observed) = sigma.verify(PHONE, Some(&id), &code).await;
    golden(
        &reply,
        400,
        exception("CodeExpiredException", "Срок действия кода истёк", 400),
    );
    assert_eq!(observed, Observed::Expired);
}

#[tokio::test]
async fn too_many_requests() {
    let server = TestServer::start().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    for _ in 0..5 {
        sent(&sigma).await;
    }
    let (reply, observed) = sigma.send(PHONE).await;
    golden(
        &reply,
        429,
        exception(
            "TooManyRequestsException",
            "Слишком много запросов, попробуйте позже",
            429,
        ),
    );
    assert_eq!(observed.kind(), OutcomeKind::RateLimited);
}

#[tokio::test]
async fn widgets_tokens_and_bodies_are_checked() {
    let server = TestServer::start().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    let send = |widget: &str, recipient: Value| {
        json!({"widgetId": widget, "recipient": recipient}).to_string()
    };
    let active = "123634df-ddfe-4dda-b31d-f3b4e75fc5dc";
    let cases = [
        (
            send(DEFAULT_BLOCKED_WIDGET, PHONE.into()),
            403,
            exception(
                "WidgetIsBlockedException",
                "Форма или пользователь заблокированы - обратитесь в поддержку",
                403,
            ),
        ),
        (
            send(DEFAULT_FOREIGN_WIDGET, PHONE.into()),
            403,
            exception("ForbiddenException", "Запрещено", 403),
        ),
        (
            send("d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6", PHONE.into()),
            404,
            exception("WidgetNotFoundException", "Форма не существует", 404),
        ),
        (send("not-a-uuid", PHONE.into()), 400, validation()),
        (send(active, "string".into()), 400, validation()),
        (send(active, 79991234567u64.into()), 400, validation()),
        ("{".to_string(), 400, validation()),
    ];
    for (body, status, expected) in cases {
        let reply = sigma.post(SEND, &[AUTH, JSON], body.as_bytes()).await;
        golden(&reply, status, expected);
        let kind = sigma.classify(Operation::Send, &reply).kind();
        assert_ne!(kind, OutcomeKind::Unrecognized);
    }
    let body = send(active, PHONE.into());
    let unauthorized = exception("UnauthorizedException", "Пользователь не авторизован", 401);
    let reply = sigma.post(SEND, &[JSON], body.as_bytes()).await;
    golden(&reply, 401, unauthorized.clone());
    let wrong = ("Authorization", "Bearer wrong");
    let reply = sigma.post(SEND, &[wrong, JSON], body.as_bytes()).await;
    golden(&reply, 401, unauthorized);
    let reply = sigma
        .post(
            SEND,
            &[AUTH, ("Content-Type", "text/plain")],
            body.as_bytes(),
        )
        .await;
    golden(&reply, 400, validation());
    let check = json!({"requestId": "nope", "code": "1"}).to_string();
    let reply = sigma
        .post("/api/n/otp-handler/check", &[AUTH, JSON], check.as_bytes())
        .await;
    golden(&reply, 400, validation());
}

#[tokio::test]
async fn no_available_channels() {
    let provider = TestProvider::start().await;
    provider.faults(json!({"rules": [{"down": true}]})).await;
    let server = provider.server().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    let (reply, observed) = sigma.send(PHONE).await;
    golden(
        &reply,
        400,
        exception(
            "NoAvailableChannelsException",
            "Нет подходящих каналов для отправки сообщения, запустите попытку авторизации заново",
            400,
        ),
    );
    assert_eq!(observed, Observed::ProviderUnavailable);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let server = TestServer::start().await;
    golden(
        &get(server.addr, "/api/n/other").await,
        404,
        exception("NotFoundException", "Ресурс не найден", 404),
    );
    golden(
        &get(server.addr, SEND).await,
        405,
        exception("MethodNotAllowedException", "Метод не поддерживается", 405),
    );
}

#[tokio::test]
async fn two_widgets_keep_separate_codes_for_one_phone() {
    let mut config = otpbench::config::Config::default();
    let second = uuid::Uuid::parse_str("d385ab22-0f51-4b97-9ecd-b8ff3fd4fcb6").unwrap();
    config
        .sigmasms
        .widgets
        .push((second, otpbench::config::WidgetState::Active));
    let server = TestServer::with(otpbench::server::ServerConfig {
        config,
        test_mode: true,
        ..otpbench::server::ServerConfig::default()
    })
    .await;
    let first = Speaker::new(server.addr, Dialect::Sigmasms).await;
    let credentials = otpbench::dialect::Credentials {
        widget_id: second.to_string(),
        ..Default::default()
    };
    let other = Speaker::with(server.addr, Dialect::Sigmasms, credentials).await;
    let first_id = sent(&first).await;
    let other_id = sent(&other).await;
    let codes = codes_sent_to(server.addr, PHONE).await;
    // The second widget's send did not replace the first one's code.
    let (_, observed) = first.verify(PHONE, Some(&first_id), &codes[0]).await;
    assert_eq!(observed, Observed::Verified);
    let (_, observed) = other.verify(PHONE, Some(&other_id), &codes[1]).await;
    assert_eq!(observed, Observed::Verified);
}

/// Regression: `widgetId` is `string(uuid)`, yet `{uuid}`, undashed hex and
/// `urn:uuid:…` spellings of the active widget were taken as it.
#[tokio::test]
async fn only_the_canonical_uuid_names_a_widget() {
    let server = TestServer::start().await;
    let sigma = Speaker::new(server.addr, Dialect::Sigmasms).await;
    for widget in [
        "{123634df-ddfe-4dda-b31d-f3b4e75fc5dc}",
        "123634dfddfe4ddab31df3b4e75fc5dc",
        "urn:uuid:123634df-ddfe-4dda-b31d-f3b4e75fc5dc",
    ] {
        let body = json!({"widgetId": widget, "recipient": PHONE}).to_string();
        let reply = sigma.post(SEND, &[AUTH, JSON], body.as_bytes()).await;
        golden(&reply, 400, validation());
    }
    let upper = "123634DF-DDFE-4DDA-B31D-F3B4E75FC5DC";
    let body = json!({"widgetId": upper, "recipient": PHONE}).to_string();
    let reply = sigma.post(SEND, &[AUTH, JSON], body.as_bytes()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}
