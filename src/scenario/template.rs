//! `${…}` templates in scenario values (DESIGN.md §5: `${…}` because
//! `{{CODE}}` is payload). A template is parsed once, when the file is
//! read, into literal text and variable references; its variables are
//! checked against what the scenario can know; it is rendered at run
//! time from a [`Lookup`].
//!
//! A template that is exactly one reference keeps the variable's JSON
//! type (`${policy.max_attempts}` is the number 3, so it matches a number
//! in a response); anything else renders as text. `$${` writes a literal
//! `${`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A parsed `${…}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

/// Where variables come from when a template is rendered.
pub trait Lookup {
    /// The value of `name`, or why it has none.
    fn get(&self, name: &str) -> Result<Value, String>;
}

impl Template {
    /// Parses `text`; the error says what is malformed.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            if rest[..at].ends_with('$') {
                literal.push_str(&rest[..at - 1]);
                literal.push_str("${");
                rest = &rest[at + 2..];
                continue;
            }
            literal.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("`{text}`: `${{` without a closing `}}`"))?;
            let name = after[..end].trim();
            let well_formed = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !well_formed {
                return Err(format!(
                    "`{text}`: `${{{name}}}` is not a variable name (letters, digits, `_` and `.`)"
                ));
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(name.to_string()));
            rest = &after[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            parts,
            source: text.to_string(),
        })
    }

    /// A template of plain text.
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        Template {
            parts: vec![Part::Text(text.clone())],
            source: text,
        }
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables it reads.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Whether it reads `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.variables().any(|v| v == name)
    }

    /// The value: typed for a lone reference, text otherwise.
    pub fn value(&self, lookup: &dyn Lookup) -> Result<Value, String> {
        if let [Part::Var(name)] = self.parts.as_slice() {
            return lookup.get(name);
        }
        self.text(lookup).map(Value::String)
    }

    /// The rendered text.
    pub fn text(&self, lookup: &dyn Lookup) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => match lookup.get(name)? {
                    Value::String(text) => out.push_str(&text),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }

    /// The rendered value as a whole number; text may compute one
    /// (`${policy.send_limit} - 1`, see `scenario::calc`).
    pub fn number(&self, lookup: &dyn Lookup) -> Result<u64, String> {
        match self.value(lookup)? {
            Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
            Value::String(text) => match text.trim().parse() {
                Ok(n) => Ok(n),
                Err(_) if text.trim_start().starts_with('-') => Err(format!(
                    "`{}` is negative; expected a count from 0",
                    self.source
                )),
                Err(_) => crate::scenario::calc::count(&text).map_err(|why| {
                    if text == self.source {
                        why
                    } else {
                        format!("`{}`: {why}", self.source)
                    }
                }),
            },
            Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) => Err(format!(
                "`{}` is negative; expected a count from 0",
                self.source
            )),
            other => Err(format!("`{}` is {other}, not a whole number", self.source)),
        }
    }

    /// The rendered value as a duration that may be computed
    /// (`${policy.ttl} - 2s`, `1h30m`).
    pub fn duration(&self, lookup: &dyn Lookup) -> Result<std::time::Duration, String> {
        let text = self.text(lookup)?;
        crate::scenario::calc::duration(&text).map_err(|why| {
            if text == self.source {
                why
            } else {
                format!("`{}`: {why}", self.source)
            }
        })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    /// A string, number or boolean, parsed as a template.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl Visitor<'_> for Scalar {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
                Ok(v.to_string())
            }
        }
        let text = deserializer.deserialize_any(Scalar)?;
        Template::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Vars(BTreeMap<&'static str, Value>);

    impl Lookup for Vars {
        fn get(&self, name: &str) -> Result<Value, String> {
            self.0
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no `{name}`"))
        }
    }

    fn vars() -> Vars {
        Vars(BTreeMap::from([
            ("phone", Value::from("+14155550100")),
            ("policy.max_attempts", Value::from(3)),
        ]))
    }

    #[test]
    fn lone_references_keep_their_type_and_text_renders() {
        let lone = Template::parse("${policy.max_attempts}").unwrap();
        assert_eq!(lone.value(&vars()), Ok(Value::from(3)));
        let mixed = Template::parse("to ${phone}, ${ policy.max_attempts } tries").unwrap();
        assert_eq!(mixed.text(&vars()).unwrap(), "to +14155550100, 3 tries");
        assert_eq!(
            mixed.variables().collect::<Vec<_>>(),
            ["phone", "policy.max_attempts"]
        );
        let payload = Template::parse("Code {{CODE}} and $${phone}").unwrap();
        assert_eq!(payload.text(&vars()).unwrap(), "Code {{CODE}} and ${phone}");
        assert_eq!(lone.number(&vars()), Ok(3));
        let computed = Template::parse("${policy.max_attempts} * 2 - 1").unwrap();
        assert_eq!(computed.number(&vars()), Ok(5));
        let wait = Template::parse("1h30m + ${policy.max_attempts}s").unwrap();
        assert_eq!(
            wait.duration(&vars()),
            Ok(std::time::Duration::from_secs(5403))
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in ["${phone", "${}", "${a b}", "${a-b}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let unknown = Template::parse("${nope}").unwrap();
        assert_eq!(unknown.text(&vars()), Err("no `nope`".to_string()));
    }
}
