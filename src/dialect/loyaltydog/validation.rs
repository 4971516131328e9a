//! FastAPI's request validation as LoyaltyDog answers it: a body checked
//! against a model of required string fields, every problem one 422 item
//! `{"type", "loc", "msg", "input", "ctx"?}` worded as pydantic 2 words it;
//! any typed [`Invalid`] written as such items; and, for the client side,
//! items read back into an [`Invalid`] (field from `loc`, fault from
//! `type`, the message as the explanation unless it is the type's usual one).

use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::dialect::reply::JSON;
use crate::dialect::Reply;
use crate::engine::invalid::BODY;
use crate::engine::outcome::{Fault, Invalid, OutcomeKind};
use crate::http::json::is_json;

/// Checks the body against a model of required string fields (name, most
/// characters) the way FastAPI and pydantic 2 do, returning the values in
/// order or the 422.
pub(crate) fn check(
    headers: &HeaderMap,
    body: &[u8],
    fields: &[(&'static str, usize)],
) -> Result<Vec<String>, Reply> {
    // Python's json.loads (so FastAPI) reads a body that opens with a
    // UTF-8 byte order mark; serde_json does not.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json_type = content_type.is_none_or(|_| is_json(headers));
    let not_object = |input: Value| {
        json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": NOT_AN_OBJECT,
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
        JSON,
        &json!({ "detail": items }),
        OutcomeKind::InvalidInput,
    )
}

const NOT_AN_OBJECT: &str = "Input should be a valid dictionary or object to extract fields from";

/// Pydantic's error type and usual message for each fault.
fn pydantic(fault: Fault) -> (&'static str, &'static str) {
    match fault {
        Fault::Missing => ("missing", "Field required"),
        Fault::WrongType => ("string_type", "Input should be a valid string"),
        Fault::Empty => (
            "string_too_short",
            "String should have at least 1 character",
        ),
        Fault::TooLong => ("string_too_long", "String is too long"),
        Fault::NotJson => ("json_invalid", "JSON decode error"),
        Fault::NotAnObject => ("model_attributes_type", NOT_AN_OBJECT),
        Fault::OutOfRange => ("value_error", "Value error, out of range"),
        Fault::Malformed => ("value_error", "Value error, malformed"),
        Fault::Invalid => ("value_error", "Value error, not valid"),
        Fault::Conflict => ("value_error", "Value error, conflicting fields"),
    }
}

/// The 422 items of a typed reason, one per problem.
pub(crate) fn items(reason: &Invalid) -> Vec<Value> {
    reason
        .problems()
        .map(|problem| {
            let (kind, usual) = pydantic(problem.fault);
            let mut loc = vec![Value::from("body")];
            if problem.fault == Fault::NotJson {
                loc.push(0.into());
            } else if problem.field != BODY {
                loc.extend(problem.field.split('.').map(Value::from));
            }
            let msg = problem.why.as_deref().unwrap_or(usual);
            json!({"type": kind, "loc": loc, "msg": msg, "input": null})
        })
        .collect()
}

/// The reason 422 items give; `None` when an item lacks `loc`, `msg` or
/// `type`.
pub(crate) fn problems(items: &[Value]) -> Option<Invalid> {
    let mut reason: Option<Invalid> = None;
    for item in items {
        let loc = item.get("loc")?.as_array()?;
        let mut parts = Vec::new();
        for (n, part) in loc.iter().enumerate() {
            match part {
                Value::String(s) if n == 0 && s == "body" => {}
                Value::String(s) => parts.push(s.as_str()),
                Value::Number(_) => {}
                _ => return None,
            }
        }
        let field = if parts.is_empty() {
            BODY.to_string()
        } else {
            parts.join(".")
        };
        let msg = item.get("msg")?.as_str()?;
        let kind = item.get("type")?.as_str()?;
        let fault = Fault::ALL
            .into_iter()
            .find(|&fault| {
                pydantic(fault).0 == kind && (kind != "value_error" || pydantic(fault).1 == msg)
            })
            .unwrap_or(Fault::Invalid);
        let why = (pydantic(fault).1 != msg).then(|| msg.to_string());
        let mut problem = match reason.take() {
            None => Invalid::new(field, fault),
            Some(reason) => reason.and(field, fault),
        };
        if let Some(why) = why {
            problem = problem.explain_last(why);
        }
        reason = Some(problem);
    }
    reason
}

/// What the items of a reason read back as (the reason as LoyaltyDog's
/// wire can carry it).
pub(crate) fn read(items: &[Value]) -> Invalid {
    problems(items).unwrap_or_else(|| Invalid::body(Fault::Invalid))
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
