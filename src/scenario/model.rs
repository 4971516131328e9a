//! What a scenario file says, as data: the scenario, its steps, and what
//! each step expects and captures. The types are read straight from YAML
//! (unknown keys are errors); [`crate::scenario::load`] adds positions and
//! the checks that need the whole file.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::client::Capability;
use crate::dialect::Dialect;
use crate::engine::outcome::{Fault, OutcomeKind};
use crate::provider::faults::FaultSet;
use crate::scenario::matcher::{Comparison, Pattern};
use crate::scenario::template::Template;
use crate::source::{Position, Source};

/// One scenario: run once per dialect it names, against each target.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The file it came from, as named.
    pub file: String,
    /// That file's text and map, to place and show what goes wrong later.
    pub source: std::sync::Arc<Source>,
    /// Which YAML document of the file it is.
    pub document: usize,
    /// Where its document starts.
    pub position: Position,
    /// `None`: every dialect.
    pub dialects: Option<Vec<Dialect>>,
    pub tags: Vec<String>,
    /// Capabilities a target must have for the scenario to run.
    pub needs: Vec<Capability>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether it runs in `dialect`.
    pub fn speaks(&self, dialect: Dialect) -> bool {
        self.dialects
            .as_ref()
            .is_none_or(|dialects| dialects.contains(&dialect))
    }

    /// Whether it must run alone on a shared target: a step moves the
    /// target's clock (`wait`, or `every` between repeated runs) by more
    /// than nothing, or sets the provider's faults — both seen by every
    /// case on that target. `clock_moves` says what a template moves the
    /// clock by, if that is known before the case runs.
    pub fn runs_alone(&self, clock_moves: impl Fn(&Template) -> Option<Duration>) -> bool {
        let moves = |template: &Template| clock_moves(template).is_none_or(|d| !d.is_zero());
        self.steps.iter().any(|step| match &step.action {
            Action::Faults(_) => true,
            Action::Wait(duration) => moves(duration),
            _ => step.every.as_ref().is_some_and(moves),
        })
    }
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    pub position: Position,
    /// `name:`, shown in reports.
    pub label: Option<String>,
    pub action: Action,
    /// Run the action this many times, one after another.
    pub repeat: Option<Template>,
    /// Run the action this many times at once.
    pub parallel: Option<Template>,
    /// With `repeat`: move the target's clock this much after each run.
    pub every: Option<Template>,
    /// `as`: a send step's name; its challenge stays `${name.code}`,
    /// `${name.id}` and `${name.to}` after later sends.
    pub named: Option<String>,
    /// What every run must answer.
    pub expect: Option<Expect>,
    /// How many runs must answer each outcome (with `repeat`/`parallel`).
    pub expect_counts: Option<BTreeMap<CountKey, CountValue>>,
    /// Variables taken from the (last) answer.
    pub capture: BTreeMap<String, Capture>,
}

impl Step {
    /// The action's keyword, for reports.
    pub fn keyword(&self) -> &'static str {
        self.action.keyword()
    }

    /// Every template the step holds (its expectations' too).
    pub fn templates(&self) -> Vec<&Template> {
        let step = self;
        let mut out: Vec<&Template> = Vec::new();
        match &step.action {
            Action::Send(args) => out.extend(
                [
                    &args.to,
                    &args.purpose,
                    &args.channel,
                    &args.code_type,
                    &args.length,
                    &args.expiry,
                    &args.template,
                    &args.lang,
                ]
                .into_iter()
                .flatten(),
            ),
            Action::Verify(args) => out.extend(
                [&args.code, &args.to, &args.purpose, &args.id]
                    .into_iter()
                    .flatten(),
            ),
            Action::Http(args) => {
                out.push(&args.path);
                out.extend(args.headers.values());
                out.extend(args.body.iter());
                if let Some(json) = &args.json {
                    out.extend(json.templates());
                }
            }
            Action::Wait(duration) => out.push(duration),
            Action::Inbox(args) => out.extend([&args.to, &args.within].into_iter().flatten()),
            Action::Faults(_) => {}
        }
        out.extend(step.repeat.iter());
        out.extend(step.parallel.iter());
        out.extend(step.every.iter());
        if let Some(expect) = &step.expect {
            for pattern in [&expect.status, &expect.json, &expect.body]
                .into_iter()
                .flatten()
            {
                out.extend(pattern.templates());
            }
            for pattern in expect.headers.values() {
                out.extend(pattern.templates());
            }
        }
        if let Some(counts) = &step.expect_counts {
            for value in counts.values() {
                if let CountValue::Exactly(template) = value {
                    out.push(template);
                }
            }
        }
        out
    }
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Send(SendArgs),
    Verify(VerifyArgs),
    Http(HttpArgs),
    /// Move the target's clock (or sleep, on a real clock).
    Wait(Template),
    Inbox(InboxArgs),
    Faults(FaultsArgs),
}

impl Action {
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Send(_) => "send",
            Action::Verify(_) => "verify",
            Action::Http(_) => "http",
            Action::Wait(_) => "wait",
            Action::Inbox(_) => "inbox",
            Action::Faults(_) => "faults",
        }
    }
}

/// An abstract send (the dialect's client side writes the request).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendArgs {
    pub to: Option<Template>,
    pub purpose: Option<Template>,
    pub channel: Option<Template>,
    /// Nomado: `NUMERIC`, `ALPHA` or `ALPHANUMERIC`.
    #[serde(rename = "type")]
    pub code_type: Option<Template>,
    pub length: Option<Template>,
    pub expiry: Option<Template>,
    /// Nomado's message template (holds `{{CODE}}`).
    pub template: Option<Template>,
    /// Valify: `en` or `ar`.
    pub lang: Option<Template>,
}

/// An abstract verify; what it leaves out comes from the last send.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    /// Default `${code}`.
    pub code: Option<Template>,
    pub to: Option<Template>,
    pub purpose: Option<Template>,
    /// The send's handle (SigmaSMS `requestId`, Valify `transaction_id`).
    pub id: Option<Template>,
}

/// A raw request on the target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpArgs {
    #[serde(default = "post")]
    pub method: String,
    pub path: Template,
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// A raw body.
    pub body: Option<Template>,
    /// A JSON body (strings may hold templates); sets `Content-Type:
    /// application/json` unless `headers` say otherwise.
    pub json: Option<JsonBody>,
    /// Add the dialect's authentication headers.
    #[serde(default)]
    pub auth: bool,
}

fn post() -> String {
    "POST".into()
}

/// A JSON value whose strings are templates.
#[derive(Debug, Clone)]
pub enum JsonBody {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(Template),
    Array(Vec<JsonBody>),
    Object(Vec<(String, JsonBody)>),
}

impl JsonBody {
    fn from_yaml(yaml: &serde_yaml::Value) -> Result<JsonBody, String> {
        use serde_yaml::Value as Yaml;
        Ok(match yaml {
            Yaml::Null => JsonBody::Null,
            Yaml::Bool(b) => JsonBody::Bool(*b),
            Yaml::Number(n) => JsonBody::Number(
                serde_json::to_value(n)
                    .ok()
                    .and_then(|v| v.as_number().cloned())
                    .ok_or_else(|| format!("`{n}` is not a JSON number"))?,
            ),
            Yaml::String(text) => JsonBody::Text(Template::parse(text)?),
            Yaml::Sequence(items) => JsonBody::Array(
                items
                    .iter()
                    .map(JsonBody::from_yaml)
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Mapping(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let key = match key {
                        Yaml::String(key) => key.clone(),
                        Yaml::Number(n) => n.to_string(),
                        Yaml::Bool(b) => b.to_string(),
                        _ => return Err("a JSON body's keys must be text".into()),
                    };
                    fields.push((key, JsonBody::from_yaml(value)?));
                }
                JsonBody::Object(fields)
            }
            Yaml::Tagged(tagged) => {
                return Err(format!(
                    "`{}`: a request body takes no matchers",
                    tagged.tag
                ))
            }
        })
    }

    /// The templates it holds.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            JsonBody::Text(t) => vec![t],
            JsonBody::Array(items) => items.iter().flat_map(JsonBody::templates).collect(),
            JsonBody::Object(fields) => fields.iter().flat_map(|(_, v)| v.templates()).collect(),
            _ => Vec::new(),
        }
    }

    /// The rendered JSON (a lone `${…}` keeps its type).
    pub fn render(
        &self,
        lookup: &dyn crate::scenario::template::Lookup,
    ) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        Ok(match self {
            JsonBody::Null => Value::Null,
            JsonBody::Bool(b) => Value::Bool(*b),
            JsonBody::Number(n) => Value::Number(n.clone()),
            JsonBody::Text(t) => t.value(lookup)?,
            JsonBody::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            JsonBody::Object(fields) => {
                let mut object = serde_json::Map::new();
                for (key, value) in fields {
                    object.insert(key.clone(), value.render(lookup)?);
                }
                Value::Object(object)
            }
        })
    }
}

impl<'de> Deserialize<'de> for JsonBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let yaml = serde_yaml::Value::deserialize(deserializer)?;
        JsonBody::from_yaml(&yaml).map_err(de::Error::custom)
    }
}

/// Read the newest code sent to `to` from the provider's journal.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxArgs {
    /// Default: the last send's recipient.
    pub to: Option<Template>,
    /// How long to wait for a message (default 5s).
    pub within: Option<Template>,
}

/// Provider fault rules for the rest of the scenario (cleared after it),
/// or `clear`.
#[derive(Debug, Clone)]
pub enum FaultsArgs {
    Set(FaultSet),
    Clear,
}

impl<'de> Deserialize<'de> for FaultsArgs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let yaml = serde_yaml::Value::deserialize(deserializer)?;
        if yaml.as_str() == Some("clear") {
            return Ok(FaultsArgs::Clear);
        }
        let set: FaultSet = serde_yaml::from_value(yaml).map_err(|e| {
            de::Error::custom(format!(
                "`faults` takes `clear` or the provider's rule set ({{rules: […]}}): {e}"
            ))
        })?;
        set.validate().map_err(de::Error::custom)?;
        Ok(FaultsArgs::Set(set))
    }
}

/// What a step's answers must be.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The dialect's classification; a list means any of them.
    pub outcome: Option<OneOrMany<OutcomeKind>>,
    /// For `invalid_input`: which field, and/or what fault.
    pub invalid: Option<InvalidExpect>,
    pub status: Option<Pattern>,
    #[serde(default)]
    pub headers: BTreeMap<String, Pattern>,
    /// A subset of the JSON body.
    pub json: Option<Pattern>,
    /// The body as text.
    pub body: Option<Pattern>,
    /// `<500ms`, `<=1s`, `>10ms`.
    pub elapsed: Option<Elapsed>,
    /// `inbox`: whether a message must (true, the default) or must not
    /// arrive.
    pub delivered: Option<bool>,
}

/// `invalid: {field, fault}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidExpect {
    pub field: Option<String>,
    pub fault: Option<Fault>,
}

/// One value or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    /// Read through a YAML value, so the item's own error (an unknown
    /// outcome) is what the user sees.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(deserializer)?;
        let items = match value {
            serde_yaml::Value::Sequence(items) => items,
            one => vec![one],
        };
        if items.is_empty() {
            return Err(de::Error::custom("expected at least one value"));
        }
        items
            .into_iter()
            .map(|item| T::deserialize(item).map_err(de::Error::custom))
            .collect::<Result<_, _>>()
            .map(OneOrMany)
    }
}

/// An elapsed-time bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    pub comparison: Comparison,
    pub limit: Duration,
}

impl<'de> Deserialize<'de> for Elapsed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (comparison, rest) = if let Some(rest) = text.strip_prefix("<=") {
            (Comparison::Lte, rest)
        } else if let Some(rest) = text.strip_prefix(">=") {
            (Comparison::Gte, rest)
        } else if let Some(rest) = text.strip_prefix('<') {
            (Comparison::Lt, rest)
        } else if let Some(rest) = text.strip_prefix('>') {
            (Comparison::Gt, rest)
        } else {
            return Err(de::Error::custom(format!(
                "`{text}`: expected a bound like `<500ms`, `<=1s` or `>10ms`"
            )));
        };
        let limit = crate::duration::parse(rest.trim())
            .map_err(|e| de::Error::custom(format!("`{text}`: {e}")))?;
        Ok(Elapsed { comparison, limit })
    }
}

/// An `expect_counts` key: an outcome, or `transport_error` for runs
/// that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CountKey {
    Outcome(OutcomeKind),
    TransportError,
}

impl CountKey {
    pub fn name(self) -> &'static str {
        match self {
            CountKey::Outcome(kind) => kind.name(),
            CountKey::TransportError => "transport_error",
        }
    }
}

impl<'de> Deserialize<'de> for CountKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name == "transport_error" {
            return Ok(CountKey::TransportError);
        }
        OutcomeKind::from_name(&name)
            .map(CountKey::Outcome)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown outcome `{name}` in expect_counts (an outcome name or transport_error)"
                ))
            })
    }
}

/// How many runs an outcome must have.
#[derive(Debug, Clone)]
pub enum CountValue {
    /// Exactly this many.
    Exactly(Template),
    /// All runs the other keys do not account for.
    Rest,
}

impl<'de> Deserialize<'de> for CountValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let template = Template::deserialize(deserializer)?;
        if template.source() == "rest" {
            Ok(CountValue::Rest)
        } else {
            Ok(CountValue::Exactly(template))
        }
    }
}

/// Where a captured variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// `$.a.b[0]`: a value in the JSON body.
    Json(Vec<PathPart>),
    /// `header:Name`.
    Header(String),
    /// `status`.
    Status,
    /// `body`: the whole body as text.
    Body,
    /// `code` (inbox steps): the code in the message read.
    Code,
    /// `message` (inbox steps): the message's text.
    Message,
    /// `id` (inbox steps): the message's id in the provider's journal.
    MessageId,
    /// `!regex PATTERN`: what the pattern finds in the body (an inbox
    /// step: the message) — its first group, or the whole match without
    /// one; `!regex {from: header:Name, pattern: …}` reads another source.
    Regex(Box<Capture>, CaptureRegex),
}

/// A capture's regular expression (compared by its text).
#[derive(Debug, Clone)]
pub struct CaptureRegex(pub regex::Regex);

impl PartialEq for CaptureRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for CaptureRegex {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_yaml::Value as Yaml;
        let yaml = Yaml::deserialize(deserializer)?;
        match yaml {
            Yaml::String(text) => Capture::parse(&text).map_err(de::Error::custom),
            Yaml::Tagged(tagged) if tagged.tag == "regex" => {
                Capture::regex(&tagged.value).map_err(de::Error::custom)
            }
            Yaml::Tagged(tagged) => Err(de::Error::custom(format!(
                "`{}`: a capture takes only the `!regex` tag",
                tagged.tag
            ))),
            _ => Err(de::Error::custom(
                "expected a JSON path (`$.field[0]`), `header:Name`, `status`, `body` \
                 or `!regex PATTERN` (an inbox step takes code, message and id too)",
            )),
        }
    }
}

impl Capture {
    /// `!regex PATTERN` or `!regex {from: SOURCE, pattern: PATTERN}`.
    fn regex(value: &serde_yaml::Value) -> Result<Capture, String> {
        use serde_yaml::Value as Yaml;
        let (from, pattern) = match value {
            Yaml::String(pattern) => (None, pattern.clone()),
            Yaml::Mapping(map) => {
                let mut from = None;
                let mut pattern = None;
                for (key, value) in map {
                    let text = value.as_str().map(str::to_string);
                    match key.as_str() {
                        Some("from") => from = Some(text.ok_or("`!regex` `from:` is text")?),
                        Some("pattern") => {
                            pattern = Some(text.ok_or("`!regex` `pattern:` is text")?)
                        }
                        _ => {
                            return Err(format!(
                                "`!regex` takes `from` and `pattern`, not `{}`",
                                serde_yaml::to_string(key).unwrap_or_default().trim()
                            ))
                        }
                    }
                }
                (
                    from,
                    pattern.ok_or("`!regex {from, pattern}` needs `pattern`")?,
                )
            }
            _ => {
                return Err(
                    "`!regex` takes a pattern, or `{from: SOURCE, pattern: PATTERN}`".into(),
                )
            }
        };
        let regex = regex::Regex::new(&pattern)
            .map_err(|e| format!("`!regex {pattern}` is not a regular expression: {e}"))?;
        if regex.captures_len() > 2 {
            return Err(format!(
                "`!regex {pattern}` has {} groups; a capture takes one (the value) or none \
                 (the whole match) — write the others as `(?:…)`",
                regex.captures_len() - 1
            ));
        }
        let source = match from {
            Some(from) => {
                let source = Capture::parse(&from)?;
                if matches!(source, Capture::Regex(..)) {
                    return Err("`!regex` reads a source, not another `!regex`".into());
                }
                source
            }
            // The body; an inbox step reads it as its message.
            None => Capture::Body,
        };
        Ok(Capture::Regex(Box::new(source), CaptureRegex(regex)))
    }

    /// Whether an inbox step can take it (the others take the rest).
    pub fn fits_inbox(&self) -> bool {
        match self {
            Capture::Code | Capture::Message | Capture::MessageId | Capture::Body => true,
            Capture::Regex(source, _) => source.fits_inbox(),
            _ => false,
        }
    }

    /// Whether a send, verify or http step can take it.
    pub fn fits_answer(&self) -> bool {
        match self {
            Capture::Code | Capture::Message | Capture::MessageId => false,
            Capture::Regex(source, _) => source.fits_answer(),
            _ => true,
        }
    }

    /// `$.path`, `header:Name`, `status`, `body`, `code`, `message` or
    /// `id`.
    pub fn parse(text: &str) -> Result<Capture, String> {
        match text {
            "status" => return Ok(Capture::Status),
            "body" => return Ok(Capture::Body),
            "code" => return Ok(Capture::Code),
            "message" => return Ok(Capture::Message),
            "id" => return Ok(Capture::MessageId),
            _ => {}
        }
        if let Some(name) = text.strip_prefix("header:") {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!(
                    "`{text}`: name the header, as in `header:Retry-After`"
                ));
            }
            return Ok(Capture::Header(name.to_string()));
        }
        let Some(mut rest) = text.strip_prefix('$') else {
            return Err(format!(
                "`{text}`: expected a JSON path (`$.field[0]`), `header:Name`, `status`, `body` \
                 or `!regex PATTERN` (an inbox step takes code, message and id too)"
            ));
        };
        let mut parts = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(format!("`{text}`: an empty key in the path"));
                }
                parts.push(PathPart::Key(after[..end].to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
                let inside = &after[..end];
                let part = match inside.parse::<usize>() {
                    Ok(index) => PathPart::Index(index),
                    Err(_) => PathPart::Key(inside.trim_matches(['"', '\'']).to_string()),
                };
                parts.push(part);
                rest = &after[end + 1..];
            } else {
                return Err(format!("`{text}`: expected `.key` or `[index]` after `$`"));
            }
        }
        Ok(Capture::Json(parts))
    }
}

/// `dialects: all` or a list.
#[derive(Debug, Clone)]
pub(crate) struct DialectsField(pub Option<Vec<Dialect>>);

impl<'de> Deserialize<'de> for DialectsField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(deserializer)?;
        let names: Vec<String> = match value {
            serde_yaml::Value::String(word) if word == "all" => return Ok(DialectsField(None)),
            serde_yaml::Value::String(word) => vec![word],
            serde_yaml::Value::Sequence(items) => items
                .into_iter()
                .map(|item| match item {
                    serde_yaml::Value::String(name) => Ok(name),
                    other => Err(de::Error::custom(format!(
                        "`{}`: expected a dialect name",
                        serde_yaml::to_string(&other).unwrap_or_default().trim()
                    ))),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(de::Error::custom(
                    "expected `all` or a list of dialect names",
                ))
            }
        };
        let mut dialects = Vec::new();
        for name in names {
            let dialect = Dialect::from_name(&name).ok_or_else(|| {
                let known: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
                de::Error::custom(format!(
                    "unknown dialect `{name}`, expected `all` or some of {}",
                    known.join(", ")
                ))
            })?;
            dialects.push(dialect);
        }
        Ok(DialectsField(Some(dialects)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_paths_read_keys_and_indexes() {
        assert_eq!(
            Capture::parse("$.data.items[2][\"a b\"]"),
            Ok(Capture::Json(vec![
                PathPart::Key("data".into()),
                PathPart::Key("items".into()),
                PathPart::Index(2),
                PathPart::Key("a b".into()),
            ]))
        );
        assert_eq!(
            Capture::parse("header:Retry-After"),
            Ok(Capture::Header("Retry-After".into()))
        );
        for bad in ["data.x", "$..x", "$[1", "header:"] {
            assert!(Capture::parse(bad).is_err(), "{bad}");
        }
    }
}
