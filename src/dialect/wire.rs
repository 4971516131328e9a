//! Server-side reading helpers the dialect files share: JSON objects and
//! string fields, with what is wrong with them as a typed [`Fault`].

use serde_json::{Map, Value};

use crate::engine::outcome::{Fault, Invalid};

/// The body as a JSON object, or what is wrong with it.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Invalid::body(Fault::NotAnObject)),
        Err(_) => Err(Invalid::body(Fault::NotJson)),
    }
}

/// A required string member (`null` counts as missing).
pub(crate) fn string<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, Fault> {
    optional(object, name)?.ok_or(Fault::Missing)
}

/// An optional string member (`null` counts as absent).
pub(crate) fn optional<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Fault> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Fault::WrongType),
    }
}

/// A required string member, or the invalid-input reason naming it.
pub(crate) fn field<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, Invalid> {
    string(object, name).map_err(|fault| Invalid::new(name, fault))
}
