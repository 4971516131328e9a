//! Server-side reading helpers the dialect files share: JSON objects and
//! string fields, with what is wrong with them as a typed [`Fault`], and
//! [`Fields`], which reads a send's or verify's few string members
//! straight from the body without building a JSON tree.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
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

/// A JSON object body's string members, read by name: straight from the
/// bytes when every named member is a string or `null` ([`Fields::read`]:
/// no tree, no allocation but for escaped strings), or from the parsed
/// object otherwise. Either way a member answers as [`optional`] and
/// [`string`] would on the whole object, so a dialect reads the body the
/// same way on both paths and its answers cannot differ.
pub(crate) enum Fields<'a, const N: usize> {
    /// The named members, read straight from the body.
    Read {
        names: [&'static str; N],
        values: [Member<'a>; N],
    },
    /// The whole object, when reading straight did not apply.
    Tree(Map<String, Value>),
}

/// One named member as [`Fields::read`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Member<'a> {
    #[default]
    Absent,
    Null,
    Text(Cow<'a, str>),
}

impl<'a, const N: usize> Fields<'a, N> {
    /// The named members of `body`, if it is a JSON object whose named
    /// members are all strings or `null`. `None` when it is anything else
    /// (not JSON, not an object, a named member of another type): the
    /// caller parses the body whole and answers from that, so every
    /// refusal keeps its exact wording. Members not named are checked
    /// as JSON exactly as a whole parse would check them, and the last
    /// of repeated names wins, as in a parsed object.
    pub(crate) fn read(body: &'a [u8], names: [&'static str; N]) -> Option<Fields<'a, N>> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let values = ObjectSeed { names: &names }
            .deserialize(&mut deserializer)
            .ok()?;
        deserializer.end().ok()?;
        Some(Fields::Read { names, values })
    }

    /// An optional string member (`null` counts as absent), as
    /// [`optional`] reads it.
    pub(crate) fn optional(&self, name: &str) -> Result<Option<&str>, Fault> {
        match self {
            Fields::Read { names, values } => match position(names, name).map(|i| &values[i]) {
                Some(Member::Text(text)) => Ok(Some(text)),
                _ => Ok(None),
            },
            Fields::Tree(object) => optional(object, name),
        }
    }

    /// A required string member (`null` counts as missing), as
    /// [`string`] reads it.
    pub(crate) fn string(&self, name: &str) -> Result<&str, Fault> {
        self.optional(name)?.ok_or(Fault::Missing)
    }

    /// A required string member, or the invalid-input reason naming it,
    /// as [`field`] reads it.
    pub(crate) fn field(&self, name: &'static str) -> Result<&str, Invalid> {
        self.string(name).map_err(|fault| Invalid::new(name, fault))
    }

    /// Whether the member is there at all (`null` included).
    pub(crate) fn contains(&self, name: &str) -> bool {
        match self {
            Fields::Read { names, values } => {
                position(names, name).is_some_and(|i| values[i] != Member::Absent)
            }
            Fields::Tree(object) => object.contains_key(name),
        }
    }
}

/// The body's named members ([`Fields::read`]), or the body as a JSON
/// object, or what is wrong with it (as [`object`] says it).
pub(crate) fn fields<'a, const N: usize>(
    body: &'a [u8],
    names: [&'static str; N],
) -> Result<Fields<'a, N>, Invalid> {
    match Fields::read(body, names) {
        Some(fields) => Ok(fields),
        None => object(body).map(Fields::Tree),
    }
}

/// Where `name` is among `names`; a name the reader was not built with is
/// a bug in the dialect, read as absent (and caught by tests in debug).
fn position(names: &[&'static str], name: &str) -> Option<usize> {
    let found = names.iter().position(|n| *n == name);
    debug_assert!(found.is_some(), "{name} was not among the names read");
    found
}

struct ObjectSeed<'n, const N: usize> {
    names: &'n [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for ObjectSeed<'_, N> {
    type Value = [Member<'de>; N];

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for ObjectSeed<'_, N> {
    type Value = [Member<'de>; N];

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: [Member<'de>; N] = std::array::from_fn(|_| Member::Absent);
        while let Some(key) = map.next_key_seed(KeySeed { names: self.names })? {
            match key {
                Some(i) => values[i] = map.next_value::<Member<'de>>()?,
                // Checked as a whole parse checks it (numbers in range
                // too, which skipping would not do).
                None => drop(map.next_value::<Value>()?),
            }
        }
        Ok(values)
    }
}

/// A member's name, as its index among the names read.
struct KeySeed<'n, const N: usize> {
    names: &'n [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for KeySeed<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeySeed<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.names.iter().position(|name| *name == key))
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    /// A string or `null`; anything else is an error, which sends the
    /// reader to the whole parse.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Owned(text)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 3] = ["to", "purpose", "channel"];

    /// Per name: what reading it gives, and whether it is there.
    type Answers = Vec<(Result<Option<String>, Fault>, bool)>;

    /// What the whole parse says of each name, or that it is no object.
    fn by_tree(body: &[u8]) -> Option<Answers> {
        let object = object(body).ok()?;
        Some(
            NAMES
                .iter()
                .map(|name| {
                    let value = optional(&object, name).map(|v| v.map(str::to_string));
                    (value, object.contains_key(*name))
                })
                .collect(),
        )
    }

    fn by_fields(fields: &Fields<'_, 3>) -> Answers {
        NAMES
            .iter()
            .map(|name| {
                let value = fields.optional(name).map(|v| v.map(str::to_string));
                (value, fields.contains(name))
            })
            .collect()
    }

    /// Reading straight agrees with the whole parse wherever it applies,
    /// and declines wherever the whole parse refuses the body.
    fn agrees(body: &[u8]) -> Result<(), TestCaseError> {
        let tree = by_tree(body);
        match Fields::read(body, NAMES) {
            Some(fields) => prop_assert_eq!(Some(by_fields(&fields)), tree),
            None => {
                // Declined: the fallback must be able to answer.
                if let Ok(object) = object(body) {
                    prop_assert_eq!(Some(by_fields(&Fields::Tree(object))), tree);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn reads_as_the_whole_parse_does() {
        for body in [
            r#"{"to":"+14155550100"}"#,
            r#"{"to":"+1","purpose":null,"channel":"sms","x":[1,{"y":2}]}"#,
            r#"{"to":"a\"b\u00e9"}"#,
            r#"{"to":"first","to":"last"}"#,
            r#"{"to":5,"to":"last"}"#,
            r#"{"to":"first","to":5}"#,
            r#"{"to":"x","extra":1e400}"#,
            r#"{"to":"x"} trailing"#,
            r#"{"to":"\ud800"}"#,
            r#"[]"#,
            r#""to""#,
            r#"{}"#,
            r#"{"to":{"a":1}}"#,
            r#"{"to":true}"#,
            r#"{"to":"x",}"#,
            "",
        ] {
            agrees(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        }
        let plain = Fields::read(br#"{"to":"+1","purpose":null}"#, NAMES).expect("read");
        assert!(matches!(plain, Fields::Read { .. }));
        assert!(plain.contains("purpose") && !plain.contains("channel"));
    }

    proptest! {
        #[test]
        fn agrees_with_the_whole_parse_on_any_object(
            members in proptest::collection::vec(
                (
                    prop_oneof![Just("to".to_string()), Just("purpose".to_string()), Just("channel".to_string()), "[a-z]{1,3}"],
                    prop_oneof![
                        Just("null".to_string()),
                        Just("7".to_string()),
                        Just("[1]".to_string()),
                        Just("{\"to\":\"in\"}".to_string()),
                        "[ -~]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
                        "\\PC{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
                    ],
                ),
                0..6,
            ),
            garbage in proptest::option::of("[\\[\\]{}\",:a-z0-9 ]{0,3}"),
        ) {
            let mut body = String::from("{");
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&format!("{}:{value}", serde_json::to_string(name).unwrap()));
            }
            body.push('}');
            if let Some(garbage) = garbage {
                body.push_str(&garbage);
            }
            agrees(body.as_bytes())?;
        }
    }
}
