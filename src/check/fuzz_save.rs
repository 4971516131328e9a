//! A fuzz counterexample as a scenario file (DESIGN.md §5): each bad
//! request of the shrunk batch up to the failing one as an `http` step
//! (the nearest step a scenario has), expecting a documented answer, then
//! the correct flow. `otpbench run --target` replays it with a fresh
//! recipient: it fails (exit 4) on the faulty target and passes on a
//! correct one.
//!
//! Bodies are rebuilt with templates where the valid request had the
//! recipient (`${phone}`) or a credential (`${auth.*}`), so nothing secret
//! is written; a generated `${` is written `$${`. Where the exact bytes
//! cannot be written — bytes that are not UTF-8, a body cut short whose
//! cut falls elsewhere once the templates are filled — a comment says so
//! plainly.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::check::fuzz_case::{self, Auth, Body, Case, FuzzTrace};
use crate::client::TargetSpec;
use crate::dialect::{Credentials, Dialect, Session};

/// Credentials as scenario templates.
fn templates() -> Credentials {
    Credentials {
        bearer: "${auth.bearer}".into(),
        shop_id: "${auth.shop_id}".into(),
        shop_secret: "${auth.shop_secret}".into(),
        widget_id: "${auth.widget_id}".into(),
        bundle_key: "${auth.bundle_key}".into(),
        basic: "${auth.basic}".into(),
        api_key: "${auth.api_key}".into(),
    }
}

/// The scenario file for `trace` (found with `seed` on `spec`).
pub fn scenario(spec: &TargetSpec, seed: u64, trace: &FuzzTrace) -> String {
    let dialect = spec.dialect;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Found by `otpbench fuzz --seed {seed}` against target `{}`: bad",
        spec.name
    );
    out.push_str("# input answered otherwise than the dialect documents.\n");
    match trace.broken() {
        Some((Some(i), property)) => {
            let sent = &trace.sent[i];
            let _ = writeln!(
                out,
                "# Broke \"{}\" at request {}: {} — {}.",
                property.name(),
                i + 1,
                one_line(&sent.what),
                one_line(&sent.observed)
            );
        }
        Some((None, _)) if trace.sent.is_empty() => {
            let _ = writeln!(
                out,
                "# Before any bad request, a correct flow failed (tried twice): {}.",
                one_line(&trace.flow_failure().unwrap_or_default())
            );
        }
        Some((None, _)) => {
            let _ = writeln!(
                out,
                "# After these requests the target stopped serving a correct flow (tried twice): {}.",
                one_line(&trace.flow_failure().unwrap_or_default())
            );
        }
        None => {}
    }
    let _ = writeln!(out, "name: fuzz counterexample (seed {seed})");
    let _ = writeln!(out, "dialects: [{}]", dialect.name());
    out.push_str("tags: [fuzz]\nsteps:\n");
    for (i, sent) in trace.sent.iter().enumerate() {
        let _ = writeln!(out, "  # {}. {}", i + 1, one_line(&sent.what));
        out.push_str(&step(dialect, &sent.case, &trace.to));
    }
    out.push_str("  # afterwards, the target still serves a correct flow\n");
    out.push_str("  - send: { to: \"${phone2}\" }\n    expect: { outcome: sent }\n");
    out.push_str("  - verify: {}\n    expect: { outcome: verified }\n");
    out
}

/// One request as an `http` step.
fn step(dialect: Dialect, case: &Case, to: &str) -> String {
    let credentials = templates();
    let base = fuzz_case::base_request(
        dialect,
        case.route,
        &credentials,
        &Session {
            access_token: Some("${auth.token}".into()),
            lifetime: None,
        },
        "${phone}",
        "111111",
    );
    let mut notes = Vec::new();
    let body = body(case, &base.body, to, &mut notes);
    let mut out = String::new();
    for note in notes {
        let _ = writeln!(out, "  # {note}");
    }
    out.push_str("  - http:\n");
    let _ = writeln!(out, "      method: {}", case.verb.name());
    let _ = writeln!(out, "      path: {}", case.path(dialect, &base));
    if case.auth == Auth::Valid {
        out.push_str("      auth: true\n");
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in &base.headers {
        if !name.eq_ignore_ascii_case("authorization") {
            headers.push((name.to_string(), value.clone()));
        }
    }
    if let Auth::Broken(value) = &case.auth {
        headers.push(("Authorization".into(), value.replace("${", "$${")));
    }
    if let Some(content_type) = case.content_type() {
        headers.push(("Content-Type".into(), content_type.into()));
    }
    if !headers.is_empty() {
        out.push_str("      headers:\n");
        for (name, value) in headers {
            let _ = writeln!(out, "        {}: {}", quote(&name), quote(&value));
        }
    }
    if !body.is_empty() {
        let _ = writeln!(out, "      body: {}", quote(&body));
    }
    match case.operation() {
        Some(_) => {
            let names: Vec<&str> = fuzz_case::acceptable().iter().map(|k| k.name()).collect();
            let _ = writeln!(out, "    expect: {{ outcome: [{}] }}", names.join(", "));
        }
        None => out.push_str("    expect: { status: !lt 500 }\n"),
    }
    out
}

/// The body as scenario text (templates kept, generated `${` escaped).
fn body(case: &Case, base: &[u8], to: &str, notes: &mut Vec<String>) -> String {
    let escape = |text: &str| text.replace("${", "$${");
    let escape_value = |value: &Value| escape_json(value);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match &case.body {
        Body::Valid => text(base),
        Body::Empty => String::new(),
        Body::Json(value) => escape_json(value).to_string(),
        Body::Bytes(bytes) => {
            if std::str::from_utf8(bytes).is_err() {
                notes.push(
                    "The exact bytes cannot be written: the body held bytes that are not UTF-8, \
                     written here as U+FFFD, so the replay sends other bytes."
                        .into(),
                );
            }
            escape(&text(bytes))
        }
        Body::Truncated(n) => {
            notes.push(format!(
                "The exact bytes cannot be written: the body is the valid one less its last {n} \
                 bytes; filled in, the templates below make it longer or shorter, so the replay \
                 cuts at another place."
            ));
            let cut = base
                .len()
                .saturating_sub(*n as usize)
                .max(1)
                .min(base.len());
            text(&base[..cut])
        }
        Body::Recipient(how) => {
            let mut object = object(base);
            let field = object
                .iter()
                .find(|(_, v)| v.as_str() == Some("${phone}"))
                .map(|(k, _)| k.clone());
            if let Some(field) = field {
                notes.push(format!(
                    "The recipient {how} is written as the literal the failing run used ({to})."
                ));
                object.insert(field, escape_json(&fuzz_case::reshape(to, *how)));
            }
            Value::Object(object).to_string()
        }
        Body::Set { .. } | Body::Remove { .. } | Body::Extra { .. } => {
            let mut object = object(base);
            fuzz_case::apply(&mut object, &case.body, "${phone}", escape_value);
            Value::Object(object).to_string()
        }
    }
}

fn object(base: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice::<Value>(base) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// `${` in every string and key written `$${`.
fn escape_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("${", "$${")),
        Value::Array(items) => Value::Array(items.iter().map(escape_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace("${", "$${"), escape_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A YAML double-quoted scalar: escapes for `"`, `\` and everything YAML
/// does not allow printed.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// YAML's printable set, less what a reader takes for a line break
/// (U+0085, U+2028, U+2029) or a byte-order mark.
fn printable(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7E | 0xA0..=0x2027 | 0x202A..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD | 0x10000..=0x10FFFF)
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_quoted_reads_back_as_itself(text in "\\PC{0,40}|[\\x00-\\x{FFFF}]{0,40}|\\x{FEFF}|\\x{85}|\\x{2028}|\\x{FFFE}") {
            let yaml = format!("body: {}\n", quote(&text));
            let read: std::collections::BTreeMap<String, String> =
                serde_yaml::from_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}: {yaml}")))?;
            prop_assert_eq!(&read["body"], &text);
        }
    }
}
