//! The OpenAPI documents under `openapi/`: served by `serve` as the
//! repository holds them, and LoyaltyDog's in agreement with the vendor's
//! own document. (schemathesis checks the engine against all six in
//! `.ci/run`: `tests/schemathesis.sh`.)

use otpbench::dialect::{Dialect, Operation};
use otpbench::Observed;
use serde_json::Value;

use crate::support::dialect::{latest_code, Speaker};
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

/// The schema a document gives for `status` of `POST path`, compiled.
fn response_schema(
    doc: &Value,
    dialect: Dialect,
    path: &str,
    status: u16,
    content_type: &str,
) -> (boon::Schemas, boon::SchemaIndex) {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    let media = content_type.replace('~', "~0").replace('/', "~1");
    let url = format!("urn:otpbench:openapi:{}", dialect.name());
    let location = format!("{url}#/paths/{escaped}/post/responses/{status}/content/{media}/schema");
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, doc.clone()).unwrap();
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(&location, &mut schemas)
        .unwrap_or_else(|e| panic!("{location}: {e:#}"));
    (schemas, index)
}

/// The documented path of each operation (the engine also takes some
/// without or with a trailing slash).
fn documented_path(doc: &Value, operation: Operation) -> String {
    doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .find(|path| Dialect::route(path).map(|(_, op)| op) == Some(operation))
        .unwrap_or_else(|| panic!("no path for {operation:?}"))
        .clone()
}

crate::for_each_dialect!(a_send_and_its_verify_answer_as_the_document_says);

/// schemathesis mostly reaches the error answers (a random string is no
/// phone number); here every dialect's success answers — send, then
/// verify with the delivered code — are checked against the document.
async fn a_send_and_its_verify_answer_as_the_document_says(dialect: Dialect) {
    let doc = file(&format!("openapi/{}.json", dialect.name()));
    let server = TestServer::start().await;
    let speaker = Speaker::new(server.addr, dialect).await;
    // As the dialect writes the number, and as the journal keeps it.
    let (to, journaled) = match dialect {
        Dialect::Valify => ("01012345678", "+201012345678"),
        Dialect::Rees46 | Dialect::Nomado => ("79991234567", "+79991234567"),
        _ => ("+79991234567", "+79991234567"),
    };
    let (reply, observed) = speaker.send(to).await;
    let Observed::Sent(receipt) = observed else {
        panic!("{dialect:?}: {observed:?} from {}", reply.text())
    };
    let checks = [(Operation::Send, reply)];
    let code = match &receipt.code {
        Some(code) => code.clone(),
        None => latest_code(server.addr, journaled).await,
    };
    let (reply, observed) = speaker.verify(to, receipt.id.as_deref(), &code).await;
    assert_eq!(
        observed,
        Observed::Verified,
        "{dialect:?}: {}",
        reply.text()
    );
    for (operation, reply) in checks.into_iter().chain([(Operation::Verify, reply)]) {
        let path = documented_path(&doc, operation);
        let content_type = reply.header("content-type").expect("a content type");
        let content_type = content_type.split(';').next().unwrap().trim();
        let (schemas, index) = response_schema(&doc, dialect, &path, reply.status, content_type);
        if let Err(e) = schemas.validate(&reply.json(), index) {
            panic!("{dialect:?} {path} {}: {e}\n{}", reply.status, reply.text());
        }
    }
}
