//! Expected values with matchers: what `json:`, `headers:` and `body:`
//! expectations hold.
//!
//! A plain value must be equal (objects are a *subset*: the actual value
//! may have more keys; arrays must have the same length, each element
//! matched); strings may hold `${…}` templates. YAML tags make matchers:
//!
//! | matcher | matches |
//! |---|---|
//! | `!any` | anything present |
//! | `!absent` | a key that is not there |
//! | `!type string` | a JSON type: `string`, `number`, `integer`, `boolean`, `array`, `object`, `null` |
//! | `!regex '^[0-9]{6}$'` | a string (or number, as text) the pattern finds |
//! | `!range [1, 5]` | a number in the closed range |
//! | `!gt n`, `!gte n`, `!lt n`, `!lte n` | a number compared with `n` |
//! | `!eq n` | a number equal to `n` |
//! | `!contains text` | a string holding `text` |
//!
//! The bounds of `!range`, `!gt`…`!lte` and `!eq` may be text that
//! computes a number from the target's policy when the answer is judged
//! (`!lte "${policy.send_window}"`, `!eq "${policy.send_limit} - 1"`; a
//! duration counts in seconds, see `scenario::calc`). Object keys
//! may be templates too (Nomado's `data: {"${phone}": …}`).
//!
//! Patterns are built while the file is read, so an unknown matcher or a
//! bad regex is an error at its position.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use serde_yaml::Value as Yaml;

use crate::scenario::template::{Lookup, Template};

/// An expected value.
#[derive(Debug, Clone)]
pub enum Pattern {
    Any,
    Absent,
    Type(JsonType),
    Regex(Regex),
    Contains(Template),
    Range(Bound, Bound),
    Compare(Comparison, Bound),
    /// `!eq`: a number equal to the bound.
    Equals(Bound),
    /// A scalar, possibly templated.
    Equal(Scalar),
    /// Keys are templates (rendered when judged), in the order written.
    Object(Vec<(Template, Pattern)>),
    Array(Vec<Pattern>),
}

/// A numeric matcher's bound: a number, or text that computes one.
#[derive(Debug, Clone)]
pub enum Bound {
    Number(f64),
    Computed(Template),
}

impl Bound {
    fn from_yaml(yaml: &Yaml, tag: &str) -> Result<Bound, String> {
        match yaml {
            Yaml::String(text) => Ok(Bound::Computed(Template::parse(text)?)),
            Yaml::Number(n) if n.as_f64().is_some_and(|n| !n.is_finite()) => Err(format!(
                "`!{tag} {n}`: a bound must be a finite number, as in `!{tag} 5`"
            )),
            other => other.as_f64().map(Bound::Number).ok_or_else(|| {
                format!("`!{tag}` takes a number or text that computes one, as in `!{tag} 5`")
            }),
        }
    }

    /// Its value now, or why it has none.
    fn value(&self, lookup: &dyn Lookup) -> Result<f64, String> {
        match self {
            Bound::Number(n) => Ok(*n),
            Bound::Computed(template) => {
                let text = template.text(lookup)?;
                crate::scenario::calc::evaluate(&text)
                    .map(|q| q.as_f64())
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn describe(&self, lookup: &dyn Lookup) -> String {
        match self.value(lookup) {
            Ok(n) => n.to_string(),
            Err(why) => format!("(cannot compute: {why})"),
        }
    }
}

/// A plain expected scalar.
#[derive(Debug, Clone)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(Template),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "integer" => JsonType::Integer,
            "boolean" => JsonType::Boolean,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            "null" => JsonType::Null,
            _ => return None,
        })
    }

    fn of(self, value: &Value) -> bool {
        match self {
            JsonType::String => value.is_string(),
            JsonType::Number => value.is_number(),
            JsonType::Integer => value.is_i64() || value.is_u64(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
            JsonType::Null => value.is_null(),
        }
    }
}

/// Where and how an actual value differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `$.result.success`, `$[2]`, `$` for the whole value.
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let yaml = Yaml::deserialize(deserializer)?;
        Pattern::from_yaml(&yaml).map_err(serde::de::Error::custom)
    }
}

impl Pattern {
    /// The pattern a YAML value describes.
    pub fn from_yaml(yaml: &Yaml) -> Result<Pattern, String> {
        Ok(match yaml {
            Yaml::Null => Pattern::Equal(Scalar::Null),
            Yaml::Bool(b) => Pattern::Equal(Scalar::Bool(*b)),
            Yaml::Number(n) => Pattern::Equal(Scalar::Number(number(n)?)),
            Yaml::String(text) => Pattern::Equal(Scalar::Text(Template::parse(text)?)),
            Yaml::Sequence(items) => Pattern::Array(
                items
                    .iter()
                    .map(Pattern::from_yaml)
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Mapping(map) => {
                let mut object = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let key = match key {
                        Yaml::String(key) => Template::parse(key)?,
                        Yaml::Number(n) => Template::literal(n.to_string()),
                        Yaml::Bool(b) => Template::literal(b.to_string()),
                        other => return Err(format!("`{other:?}` cannot be an object key")),
                    };
                    object.push((key, Pattern::from_yaml(value)?));
                }
                object.sort_by(|a, b| a.0.source().cmp(b.0.source()));
                Pattern::Object(object)
            }
            Yaml::Tagged(tagged) => matcher(&tagged.tag.to_string(), &tagged.value)?,
        })
    }

    /// Compares `actual` (`None`: the key is not there) with this pattern,
    /// adding every difference under `path` to `out`.
    pub fn check(
        &self,
        actual: Option<&Value>,
        path: &str,
        lookup: &dyn Lookup,
        out: &mut Vec<Mismatch>,
    ) {
        let mut miss = |expected: String| {
            out.push(Mismatch {
                path: path.to_string(),
                expected,
                actual: actual.map_or("(absent)".to_string(), shown),
            })
        };
        let Some(actual) = actual else {
            if !matches!(self, Pattern::Absent) {
                miss(self.describe(lookup));
            }
            return;
        };
        match self {
            Pattern::Any => {}
            Pattern::Absent => miss("(absent)".into()),
            Pattern::Type(kind) => {
                if !kind.of(actual) {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Regex(regex) => {
                let text = match actual {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                if !text.is_some_and(|t| regex.is_match(&t)) {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Contains(needle) => {
                let found = match (actual, needle.text(lookup)) {
                    (Value::String(s), Ok(needle)) => s.contains(&needle),
                    _ => false,
                };
                if !found {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Range(low, high) => {
                let holds = match (low.value(lookup), high.value(lookup)) {
                    (Ok(low), Ok(high)) => actual.as_f64().is_some_and(|n| low <= n && n <= high),
                    _ => false,
                };
                if !holds {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Compare(op, limit) => {
                let holds = limit.value(lookup).is_ok_and(|limit| {
                    actual.as_f64().is_some_and(|n| match op {
                        Comparison::Gt => n > limit,
                        Comparison::Gte => n >= limit,
                        Comparison::Lt => n < limit,
                        Comparison::Lte => n <= limit,
                    })
                });
                if !holds {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Equals(expected) => {
                let holds = expected
                    .value(lookup)
                    .is_ok_and(|expected| actual.as_f64() == Some(expected));
                if !holds {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Equal(scalar) => {
                if !scalar.equals(actual, lookup) {
                    miss(self.describe(lookup));
                }
            }
            Pattern::Object(expected) => {
                let Value::Object(object) = actual else {
                    miss("an object".into());
                    return;
                };
                for (key, pattern) in expected {
                    let key = match key.text(lookup) {
                        Ok(key) => key,
                        Err(why) => {
                            out.push(Mismatch {
                                path: format!("{path}.{}", key.source()),
                                expected: format!("(cannot render the key: {why})"),
                                actual: String::new(),
                            });
                            continue;
                        }
                    };
                    let child = format!("{path}.{key}");
                    pattern.check(object.get(&key), &child, lookup, out);
                }
            }
            Pattern::Array(expected) => {
                let Value::Array(items) = actual else {
                    miss(format!("an array of {}", expected.len()));
                    return;
                };
                if items.len() != expected.len() {
                    miss(format!("an array of {}", expected.len()));
                    return;
                }
                for (index, (pattern, item)) in expected.iter().zip(items).enumerate() {
                    pattern.check(Some(item), &format!("{path}[{index}]"), lookup, out);
                }
            }
        }
    }

    /// Compares a text value (a header) with this pattern: numbers and
    /// number matchers read the text as a number, the rest as text.
    pub fn check_text(
        &self,
        text: Option<&str>,
        path: &str,
        lookup: &dyn Lookup,
        out: &mut Vec<Mismatch>,
    ) {
        let numeric = matches!(
            self,
            Pattern::Equal(Scalar::Number(_))
                | Pattern::Range(..)
                | Pattern::Compare(..)
                | Pattern::Equals(..)
                | Pattern::Type(JsonType::Number | JsonType::Integer)
        );
        let value = text.map(|text| {
            let number = numeric
                .then(|| serde_json::from_str::<serde_json::Number>(text.trim()).ok())
                .flatten();
            match number {
                Some(n) => Value::Number(n),
                None => Value::String(text.to_string()),
            }
        });
        self.check(value.as_ref(), path, lookup, out);
    }

    /// What the pattern expects, in words (for reports).
    pub fn describe(&self, lookup: &dyn Lookup) -> String {
        match self {
            Pattern::Any => "anything".into(),
            Pattern::Absent => "(absent)".into(),
            Pattern::Type(kind) => format!("a {}", format!("{kind:?}").to_lowercase()),
            Pattern::Regex(regex) => format!("text matching /{}/", regex.as_str()),
            Pattern::Contains(needle) => format!(
                "text containing {:?}",
                needle.text(lookup).unwrap_or_else(|e| e)
            ),
            Pattern::Range(low, high) => format!(
                "a number in [{}, {}]",
                low.describe(lookup),
                high.describe(lookup)
            ),
            Pattern::Equals(expected) => format!("the number {}", expected.describe(lookup)),
            Pattern::Compare(op, limit) => {
                let op = match op {
                    Comparison::Gt => ">",
                    Comparison::Gte => ">=",
                    Comparison::Lt => "<",
                    Comparison::Lte => "<=",
                };
                format!("a number {op} {}", limit.describe(lookup))
            }
            Pattern::Equal(scalar) => match scalar.value(lookup) {
                Ok(value) => shown(&value),
                Err(why) => format!("(cannot render: {why})"),
            },
            Pattern::Object(_) => "an object".into(),
            Pattern::Array(items) => format!("an array of {}", items.len()),
        }
    }

    /// What is wrong with the values it holds that `lookup` can tell
    /// before an answer comes: a bound that computes nothing (`!gt "5
    /// apples"`), a `!range` whose low end is above its high. Bounds that
    /// read what `lookup` does not know are left for when they are judged.
    pub fn problems(&self, lookup: &dyn Lookup, out: &mut Vec<(String, String)>) {
        let known = |bound: &Bound| match bound {
            Bound::Number(n) => Some(Ok(*n)),
            Bound::Computed(t) if t.variables().all(|v| lookup.get(v).is_ok()) => {
                Some(bound.value(lookup))
            }
            Bound::Computed(_) => None,
        };
        let mut bound = |tag: &str, b: &Bound| -> Option<f64> {
            match known(b)? {
                Ok(n) => Some(n),
                Err(why) => {
                    let needle = match b {
                        Bound::Computed(t) => t.source().to_string(),
                        Bound::Number(_) => format!("!{tag}"),
                    };
                    out.push((needle, format!("`!{tag}`: {why}")));
                    None
                }
            }
        };
        match self {
            Pattern::Range(low, high) => {
                if let (Some(l), Some(h)) = (bound("range", low), bound("range", high)) {
                    if l > h {
                        out.push((
                            "!range".into(),
                            format!("`!range [{l}, {h}]`: the low end is above the high"),
                        ));
                    }
                }
            }
            Pattern::Compare(op, limit) => {
                let tag = match op {
                    Comparison::Gt => "gt",
                    Comparison::Gte => "gte",
                    Comparison::Lt => "lt",
                    Comparison::Lte => "lte",
                };
                bound(tag, limit);
            }
            Pattern::Equals(limit) => {
                bound("eq", limit);
            }
            Pattern::Object(map) => {
                for (_, value) in map {
                    value.problems(lookup, out);
                }
            }
            Pattern::Array(items) => {
                for item in items {
                    item.problems(lookup, out);
                }
            }
            _ => {}
        }
    }

    /// The templates it holds (to check their variables).
    pub fn templates(&self) -> Vec<&Template> {
        fn bound(b: &Bound) -> Option<&Template> {
            match b {
                Bound::Computed(t) => Some(t),
                Bound::Number(_) => None,
            }
        }
        match self {
            Pattern::Equal(Scalar::Text(t)) | Pattern::Contains(t) => vec![t],
            Pattern::Range(low, high) => [low, high].into_iter().filter_map(bound).collect(),
            Pattern::Compare(_, limit) | Pattern::Equals(limit) => {
                bound(limit).into_iter().collect()
            }
            Pattern::Object(map) => map
                .iter()
                .flat_map(|(key, value)| std::iter::once(key).chain(value.templates()))
                .collect(),
            Pattern::Array(items) => items.iter().flat_map(Pattern::templates).collect(),
            _ => Vec::new(),
        }
    }
}

impl Scalar {
    fn value(&self, lookup: &dyn Lookup) -> Result<Value, String> {
        Ok(match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Number(n) => Value::Number(n.clone()),
            Scalar::Text(template) => template.value(lookup)?,
        })
    }

    fn equals(&self, actual: &Value, lookup: &dyn Lookup) -> bool {
        let Ok(expected) = self.value(lookup) else {
            return false;
        };
        match (&expected, actual) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => expected == *actual,
        }
    }
}

/// A YAML number as a JSON number.
fn number(n: &serde_yaml::Number) -> Result<serde_json::Number, String> {
    if let Some(u) = n.as_u64() {
        return Ok(u.into());
    }
    if let Some(i) = n.as_i64() {
        return Ok(i.into());
    }
    n.as_f64()
        .and_then(serde_json::Number::from_f64)
        .ok_or_else(|| format!("`{n}` is not a finite number"))
}

/// The matcher a YAML tag names.
fn matcher(tag: &str, value: &Yaml) -> Result<Pattern, String> {
    let tag = tag.trim_start_matches('!');
    let text = |what: &str| match value {
        Yaml::String(s) => Ok(s.clone()),
        _ => Err(format!("`!{tag}` takes {what}, as in `!{tag} …`")),
    };
    Ok(match tag {
        "any" => Pattern::Any,
        "absent" => Pattern::Absent,
        "type" => {
            let name = text("a type name")?;
            Pattern::Type(JsonType::parse(&name).ok_or_else(|| {
                format!(
                    "`!type {name}`: expected string, number, integer, boolean, array, object or null"
                )
            })?)
        }
        "regex" => {
            let pattern = text("a regular expression")?;
            Pattern::Regex(
                Regex::new(&pattern)
                    .map_err(|e| format!("`{pattern}` is not a regular expression: {e}"))?,
            )
        }
        "contains" => Pattern::Contains(Template::parse(&text("text")?)?),
        "range" => match value {
            Yaml::Sequence(pair) if pair.len() == 2 => {
                let (low, high) = (
                    Bound::from_yaml(&pair[0], tag)?,
                    Bound::from_yaml(&pair[1], tag)?,
                );
                if let (Bound::Number(low), Bound::Number(high)) = (&low, &high) {
                    if low > high {
                        return Err(format!(
                            "`!range [{low}, {high}]`: the low end is above the high"
                        ));
                    }
                }
                Pattern::Range(low, high)
            }
            _ => return Err("`!range` takes two numbers, as in `!range [1, 5]`".into()),
        },
        "gt" => Pattern::Compare(Comparison::Gt, Bound::from_yaml(value, tag)?),
        "gte" => Pattern::Compare(Comparison::Gte, Bound::from_yaml(value, tag)?),
        "lt" => Pattern::Compare(Comparison::Lt, Bound::from_yaml(value, tag)?),
        "lte" => Pattern::Compare(Comparison::Lte, Bound::from_yaml(value, tag)?),
        "eq" => Pattern::Equals(Bound::from_yaml(value, tag)?),
        other => {
            return Err(format!(
                "unknown matcher `!{other}`, expected one of !any, !absent, !type, !regex, \
                 !contains, !range, !gt, !gte, !lt, !lte, !eq"
            ))
        }
    })
}

/// A value as reports show it: JSON, long text cut.
pub fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoVars;
    impl Lookup for NoVars {
        fn get(&self, name: &str) -> Result<Value, String> {
            match name {
                "three" => Ok(json!(3)),
                _ => Err(format!("no `{name}`")),
            }
        }
    }

    fn pattern(yaml: &str) -> Pattern {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn mismatches(yaml: &str, actual: Value) -> Vec<Mismatch> {
        let mut out = Vec::new();
        pattern(yaml).check(Some(&actual), "$", &NoVars, &mut out);
        out
    }

    #[test]
    fn objects_match_as_subsets_with_matchers() {
        let expected = "{result: {success: true}, transaction_id: !regex '^[0-9a-f-]{36}$', \
                        trials_remaining: '${three}', extra: !absent, n: !range [1, 5], t: !type integer}";
        let actual = json!({"result": {"success": true, "other": 1},
            "transaction_id": "3d21e9c0-0000-4000-8000-000000000000",
            "trials_remaining": 3, "n": 2, "t": 7});
        assert_eq!(mismatches(expected, actual), []);
        let wrong = json!({"result": {"success": false}, "transaction_id": "x",
            "trials_remaining": "3", "extra": 1, "n": 9, "t": 1.5});
        let paths: Vec<String> = mismatches(expected, wrong)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(
            paths,
            [
                "$.extra",
                "$.n",
                "$.result.success",
                "$.t",
                "$.transaction_id",
                "$.trials_remaining"
            ]
        );
    }

    #[test]
    fn unknown_matchers_and_bad_arguments_are_refused() {
        for bad in [
            "!nope 1",
            "!type text",
            "!regex '('",
            "!range [5, 1]",
            "!gt [x]",
            "!eq '${x'",
        ] {
            let error = serde_yaml::from_str::<Pattern>(bad)
                .unwrap_err()
                .to_string();
            assert!(error.contains('`'), "{bad}: {error}");
        }
    }

    #[test]
    fn computed_bounds_and_templated_keys_are_judged_with_the_variables() {
        let expected = "{'k${three}': !eq '${three} * 2 - 1', w: !range ['${three}s', '1m'], \
                        n: !lte '${three} + 1'}";
        assert_eq!(mismatches(expected, json!({"k3": 5, "w": 30, "n": 4})), []);
        let out = mismatches(expected, json!({"k3": 6, "w": 2, "n": 5}));
        let found: Vec<(String, String)> = out.into_iter().map(|m| (m.path, m.expected)).collect();
        assert_eq!(
            found,
            [
                ("$.k3".to_string(), "the number 5".to_string()),
                ("$.n".to_string(), "a number <= 4".to_string()),
                ("$.w".to_string(), "a number in [3, 60]".to_string()),
            ]
        );
        let broken = mismatches("{n: !eq '${nope} + 1'}", json!({"n": 1}));
        assert!(broken[0].expected.contains("cannot compute"), "{broken:?}");
    }

    #[test]
    fn a_missing_key_is_reported_as_absent() {
        let out = mismatches("{message: Not Found}", json!({}));
        assert_eq!(out[0].actual, "(absent)");
        assert_eq!(out[0].expected, "\"Not Found\"");
    }
}
