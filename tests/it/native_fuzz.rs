//! Whatever arrives at a native endpoint — arbitrary bytes, arbitrary JSON,
//! wrong types, huge strings, wrong content types and methods — the answer
//! is never a 5xx and always a documented shape: a 200 success body or a
//! problem+json whose status matches its `type`.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::fuzz::{any_json, fuzz, Served};
use crate::support::http::{request, Reply};

fn documented(reply: &Reply) -> Result<(), String> {
    let text = reply.text();
    if reply.status >= 500 {
        return Err(format!("5xx: {} {text}", reply.status));
    }
    let body: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("not JSON ({e}): {text}"))?;
    if reply.status == 200 {
        let ok = body.get("verified") == Some(&json!(true))
            || body.get("id").is_some_and(Value::is_string);
        return if ok {
            Ok(())
        } else {
            Err(format!("unknown 200 body: {text}"))
        };
    }
    if reply.header("content-type") != Some("application/problem+json") {
        return Err(format!("error without problem+json: {text}"));
    }
    let expected = match body["type"].as_str().unwrap_or("") {
        "urn:otpbench:invalid-input" => 400,
        "urn:otpbench:unauthorized" => 401,
        "urn:otpbench:not-found" => 404,
        "urn:otpbench:method-not-allowed" => 405,
        "urn:otpbench:expired" => 410,
        "urn:otpbench:payload-too-large" => 413,
        "urn:otpbench:unsupported-media-type" => 415,
        "urn:otpbench:wrong-code" => 422,
        "urn:otpbench:attempts-exceeded" | "urn:otpbench:rate-limited" => 429,
        other => return Err(format!("undocumented type {other:?}: {text}")),
    };
    if reply.status != expected || body["status"] != expected {
        return Err(format!("status {} for {text}", reply.status));
    }
    Ok(())
}

const FIELDS: &[&str] = &["to", "purpose", "channel", "id", "code", "x"];
const WORDS: &[&str] = &["+14155550100", "a@b.co", "login", "sms", "123456", ""];

fn post(served: &Served, path: &str, content_type: &str, body: &[u8], method: &str) -> Reply {
    let headers = [
        ("Authorization", "Bearer test-token"),
        ("Content-Type", content_type),
    ];
    served
        .runtime
        .block_on(request(served.server.addr, method, path, &headers, body))
}

#[test]
fn arbitrary_json_gets_a_documented_answer() {
    let paths = prop::sample::select(vec!["/v1/otp/send", "/v1/otp/verify"]);
    fuzz(
        128,
        (paths, any_json(FIELDS, WORDS)),
        |served, (path, body)| {
            documented(&post(
                served,
                path,
                "application/json",
                body.to_string().as_bytes(),
                "POST",
            ))
        },
    );
}

#[test]
fn arbitrary_bytes_types_and_methods_get_a_documented_answer() {
    let strategy = (
        prop::sample::select(vec![
            "/v1/otp/send",
            "/v1/otp/verify",
            "/v1/otp",
            "/v1/otp/send/",
        ]),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "",
            "application/json; charset=latin1",
        ]),
        prop::sample::select(vec!["POST", "GET", "PUT", "DELETE"]),
        prop::collection::vec(any::<u8>(), 0..256),
    );
    fuzz(
        128,
        strategy,
        |served, (path, content_type, method, body)| {
            documented(&post(served, path, content_type, &body, method))
        },
    );
}
