//! The server-side leftovers of issue 15, each as the wire shows it.

use serde_json::json;

use crate::support::http::request;
use crate::support::server::TestServer;

const VALIFY_SEND: &str = "/api/v1/otp/send/";
const BEARER: (&str, &str) = ("Authorization", "Bearer test-token");

#[tokio::test]
async fn valify_takes_application_json_alone() {
    let server = TestServer::start().await;
    let body = json!({"phone_number": "01012345678", "bundle_key": "test-bundle"}).to_string();
    for content_type in ["application/problem+json", "application/vnd.api+json"] {
        let reply = request(
            server.addr,
            "POST",
            VALIFY_SEND,
            &[("Content-Type", content_type), BEARER],
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 415, "{content_type}: {}", reply.text());
        assert_eq!(reply.json(), json!({"message": "Unsupported Media Type"}));
    }
    let json = ("Content-Type", "application/json; charset=utf-8");
    let reply = request(
        server.addr,
        "POST",
        VALIFY_SEND,
        &[json, BEARER],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn valify_takes_nothing_around_the_number() {
    let server = TestServer::start().await;
    for phone in [" 01012345678", "01012345678 ", "\t01012345678"] {
        let body = json!({"phone_number": phone, "bundle_key": "test-bundle"}).to_string();
        let headers = [("Content-Type", "application/json"), BEARER];
        let reply = request(server.addr, "POST", VALIFY_SEND, &headers, body.as_bytes()).await;
        assert_eq!(reply.status, 422, "{phone:?}: {}", reply.text());
        assert_eq!(reply.json()["error_code"], 1001, "{phone:?}");
    }
}

#[tokio::test]
async fn unknown_paths_under_valifys_api_prefix_answer_valifys_404() {
    let server = TestServer::start().await;
    for path in ["/api/v2/otp/send/", "/api/unknown", "/api/v1/nothing"] {
        let reply = request(server.addr, "POST", path, &[BEARER], b"{}").await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json(), json!({"message": "Not Found"}), "{path}");
    }
    // SigmaSMS keeps its own prefix under /api/.
    let reply = request(server.addr, "POST", "/api/n/nothing", &[BEARER], b"{}").await;
    assert_eq!(reply.json()["type"], "NotFoundException");
}

#[tokio::test]
async fn every_dialect_says_which_methods_a_path_takes() {
    let server = TestServer::start().await;
    for path in [
        "/v1/otp/send",
        "/loyalty/otp/send",
        "/api/n/otp-handler/",
        "/api/v1/otp/send/",
        "/2fa/create",
        "/v2/giftcards/customers/otp/send",
        "/v2/token",
    ] {
        let reply = request(server.addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 405, "{path}: {}", reply.text());
        assert_eq!(reply.header("allow"), Some("POST"), "{path}");
    }
}

#[tokio::test]
async fn nomados_verify_names_its_token() {
    let server = TestServer::start().await;
    let basic = ("Authorization", "Basic dGVzdDp0ZXN0");
    let headers = [("Content-Type", "application/json"), basic];
    for token in [String::new(), "7".repeat(65)] {
        let body = json!({"to": "32412345678", "token": token}).to_string();
        let reply = request(
            server.addr,
            "POST",
            "/2fa/verify",
            &headers,
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 400, "{}", reply.text());
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with("Bad request: token "), "{message}");
        assert!(!message.contains("code"), "{message}");
    }
}
