//! The OpenAPI documents under `openapi/`: served by `serve` as the
//! repository holds them, and LoyaltyDog's in agreement with the vendor's
//! own document. (schemathesis checks the engine against all six in
//! `.ci/run`: `tests/schemathesis.sh`.)

use otpbench::dialect::Dialect;
use serde_json::Value;

use crate::support::http::{get, request};
use crate::support::server::TestServer;

#[tokio::test]
async fn serve_answers_each_dialects_document_at_openapi_name_json() {
    let server = TestServer::start().await;
    for dialect in Dialect::ALL {
        let path = format!("/openapi/{}.json", dialect.name());
        let reply = get(server.addr, &path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let file = std::fs::read(format!("openapi/{}.json", dialect.name())).unwrap();
        assert_eq!(reply.body, file, "{path} is not the file");
    }
    let unknown = get(server.addr, "/openapi/twilio.json").await;
    assert_eq!(unknown.status, 404);
    let posted = request(server.addr, "POST", "/openapi/native.json", &[], b"").await;
    assert_eq!(posted.status, 405);
}

fn file(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if path.ends_with(".yaml") {
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

#[test]
fn loyaltydog_document_agrees_with_the_vendors_own() {
    let vendor = file("openapi/vendor/loyaltydog.yaml");
    let ours = file("openapi/loyaltydog.json");
    assert_eq!(ours["openapi"], vendor["openapi"]);
    assert_eq!(ours["info"]["title"], vendor["info"]["title"]);
    assert_eq!(ours["security"], vendor["security"]);
    assert_eq!(
        ours["components"]["securitySchemes"],
        vendor["components"]["securitySchemes"]
    );
    // Every schema the vendor defines, word for word.
    for (name, schema) in vendor["components"]["schemas"].as_object().unwrap() {
        assert_eq!(
            &ours["components"]["schemas"][name], schema,
            "schema {name}"
        );
    }
    // The send operation: same id, request body and the statuses the
    // vendor documents, with the same schemas.
    let path = "/v2/giftcards/customers/otp/send";
    let (theirs, mine) = (&vendor["paths"][path]["post"], &ours["paths"][path]["post"]);
    assert_eq!(mine["operationId"], theirs["operationId"]);
    assert_eq!(mine["requestBody"], theirs["requestBody"]);
    for (status, response) in theirs["responses"].as_object().unwrap() {
        assert_eq!(
            mine["responses"][status]["content"], response["content"],
            "status {status}"
        );
    }
    // And the statuses the vendor's text names beside its document.
    for status in ["400", "429"] {
        assert!(mine["responses"][status].is_object(), "status {status}");
    }
}
