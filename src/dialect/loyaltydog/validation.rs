//! FastAPI's request validation as LoyaltyDog answers it: a body checked
//! against a model of required string fields, every problem one 422 item
//! `{"type", "loc", "msg", "input", "ctx"?}` worded as pydantic 2 words it;
//! and, for the client side, those items read back as `"<loc>: <msg>"`.

use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::dialect::Reply;
use crate::engine::outcome::OutcomeKind;

/// Checks the body against a model of required string fields (name, most
/// characters) the way FastAPI and pydantic 2 do, returning the values in
/// order or the 422.
pub(crate) fn check(
    headers: &HeaderMap,
    body: &[u8],
    fields: &[(&'static str, usize)],
) -> Result<Vec<String>, Reply> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json_type = content_type.is_none_or(|_| crate::dialect::is_json(headers));
    let not_object = |input: Value| {
        json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": input,
        })
    };
    if !json_type {
        let input = String::from_utf8_lossy(body).into_owned();
        return Err(unprocessable(vec![not_object(input.into())]));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        let item =
            json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null});
        return Err(unprocessable(vec![item]));
    }
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(other) => return Err(unprocessable(vec![not_object(other)])),
        Err(error) => {
            let item = json!({
                "type": "json_invalid",
                "loc": ["body", byte_offset(body, error.line(), error.column())],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": json_error_text(&error)},
            });
            return Err(unprocessable(vec![item]));
        }
    };
    let mut values = Vec::with_capacity(fields.len());
    let mut problems = Vec::new();
    for &(name, max) in fields {
        let loc = json!(["body", name]);
        match object.get(name) {
            None => problems.push(json!({
                "type": "missing", "loc": loc, "msg": "Field required", "input": object,
            })),
            Some(Value::String(value)) if value.is_empty() => problems.push(json!({
                "type": "string_too_short", "loc": loc,
                "msg": "String should have at least 1 character",
                "input": value, "ctx": {"min_length": 1},
            })),
            Some(Value::String(value)) if value.chars().count() > max => problems.push(json!({
                "type": "string_too_long", "loc": loc,
                "msg": format!("String should have at most {max} characters"),
                "input": value, "ctx": {"max_length": max},
            })),
            Some(Value::String(value)) => values.push(value.clone()),
            Some(other) => problems.push(json!({
                "type": "string_type", "loc": loc,
                "msg": "Input should be a valid string", "input": other,
            })),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(unprocessable(problems))
    }
}

/// The offset of a 1-based line and column, as Python's decoder reports.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(body.len())
}

/// serde_json's message without its " at line L column C" suffix.
fn json_error_text(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

pub(crate) fn unprocessable(items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        "application/json",
        &json!({ "detail": items }),
        OutcomeKind::InvalidInput,
    )
}

/// A 422 item from its `"<loc>: <msg>"` wording.
pub(crate) fn item_from(problem: &str) -> Value {
    let (loc, msg) = problem.split_once(": ").unwrap_or(("body", problem));
    let loc: Vec<Value> = loc
        .split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => n.into(),
            Err(_) => part.into(),
        })
        .collect();
    json!({"type": "value_error", "loc": loc, "msg": msg, "input": null})
}

/// `"<loc>: <msg>"` for each 422 item, joined by `"; "`.
pub(crate) fn problems(items: &[Value]) -> Option<String> {
    let mut problems = Vec::with_capacity(items.len());
    for item in items {
        let loc = item.get("loc")?.as_array()?;
        let loc: Vec<String> = loc
            .iter()
            .map(|part| match part {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let msg = item.get("msg")?.as_str()?;
        item.get("type")?.as_str()?;
        problems.push(format!("{}: {msg}", loc.join(".")));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_point_at_the_offending_byte() {
        let body = b"{\n  \"target\": x}";
        let error = serde_json::from_slice::<Value>(body).unwrap_err();
        assert_eq!(byte_offset(body, error.line(), error.column()), 14);
        assert_eq!(json_error_text(&error), "expected value");
    }
}
