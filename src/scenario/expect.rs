//! Judging an answer: a step's `expect` (outcome, invalid field and
//! fault, status, headers, JSON subset, body, elapsed time), its
//! `expect_counts` over several runs, and its captures. Each difference
//! is a [`Problem`] saying what was expected and what came.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::{Exchange, TransportError};
use crate::engine::outcome::{Observed, Outcome, OutcomeKind};
use crate::scenario::matcher::{shown, Comparison, Mismatch, Pattern};
use crate::scenario::model::{
    Capture, CountKey, CountValue, Elapsed, Expect, InvalidExpect, PathPart,
};
use crate::scenario::template::Lookup;

/// One way an answer differs from what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What was checked: `outcome`, `status`, `header Retry-After`,
    /// `$.result.success`, `counts`…
    pub what: String,
    pub expected: String,
    pub actual: String,
}

/// What one run of a step got: an answer (and, for send and verify, the
/// dialect's reading of it), or no answer.
pub(crate) enum Got<'a> {
    Answer {
        exchange: &'a Exchange,
        observed: Option<&'a Observed>,
        /// Other outcomes the vendor document lets the answer mean.
        also: &'a [OutcomeKind],
    },
    Failed(&'a TransportError),
}

/// Every way `got` differs from `expect`, kind by kind in this order:
/// outcome, invalid, a body that is not JSON, status, headers, JSON,
/// body, elapsed.
pub(crate) fn check(expect: &Expect, got: &Got<'_>, lookup: &dyn Lookup) -> Vec<Problem> {
    let (exchange, observed, also) = match got {
        Got::Answer {
            exchange,
            observed,
            also,
        } => (*exchange, *observed, *also),
        Got::Failed(error) => {
            return vec![Problem {
                what: "answer".into(),
                expected: "an HTTP answer".into(),
                actual: error.to_string(),
            }]
        }
    };
    let mut problems = Vec::new();
    if let Some(outcomes) = &expect.outcome {
        problems.extend(outcome(&outcomes.0, observed, also));
    }
    if let Some(invalid) = &expect.invalid {
        problems.extend(invalid_input(invalid, observed));
    }
    let json = expect
        .json
        .as_ref()
        .map(|pattern| json_body(pattern, exchange, lookup));
    if let Some(Err(not_json)) = &json {
        problems.push(not_json.clone());
    }
    if let Some(pattern) = &expect.status {
        problems.extend(status(pattern, exchange, lookup));
    }
    for (name, pattern) in &expect.headers {
        problems.extend(header(name, pattern, exchange, lookup));
    }
    if let Some(Ok(found)) = json {
        problems.extend(found);
    }
    if let Some(pattern) = &expect.body {
        problems.extend(body(pattern, exchange, lookup));
    }
    if let Some(bound) = &expect.elapsed {
        problems.extend(elapsed(bound, exchange));
    }
    problems
}

/// `outcome:` — the reading, or one the vendor document also allows, is
/// one of those named.
fn outcome(
    outcomes: &[OutcomeKind],
    observed: Option<&Observed>,
    also: &[OutcomeKind],
) -> Option<Problem> {
    let matches = observed.is_some_and(|o| outcomes.contains(&o.kind()))
        || also.iter().any(|kind| outcomes.contains(kind));
    if matches {
        return None;
    }
    let names: Vec<&str> = outcomes.iter().map(|k| k.name()).collect();
    Some(Problem {
        what: "outcome".into(),
        expected: names.join(" or "),
        actual: observed
            .map(|o| describe_read(o, also))
            .unwrap_or_else(|| "(not a send or verify)".into()),
    })
}

/// `invalid:` — invalid input, on the field and with the fault named.
fn invalid_input(invalid: &InvalidExpect, observed: Option<&Observed>) -> Option<Problem> {
    let holds = match observed {
        Some(Outcome::InvalidInput { reason }) => reason.problems().any(|p| {
            invalid.field.as_deref().is_none_or(|f| p.field == f)
                && invalid.fault.is_none_or(|f| p.fault == f)
        }),
        _ => false,
    };
    if holds {
        return None;
    }
    let expected = match (&invalid.field, invalid.fault) {
        (Some(field), Some(fault)) => format!("invalid_input on `{field}` ({fault})"),
        (Some(field), None) => format!("invalid_input on `{field}`"),
        (None, Some(fault)) => format!("invalid_input ({fault})"),
        (None, None) => "invalid_input".to_string(),
    };
    Some(Problem {
        what: "invalid".into(),
        expected,
        actual: observed.map_or("(not a send or verify)".into(), describe_observed),
    })
}

/// Matcher mismatches as problems.
fn problems_of(check: impl FnOnce(&mut Vec<Mismatch>)) -> Vec<Problem> {
    let mut mismatches = Vec::new();
    check(&mut mismatches);
    mismatches
        .into_iter()
        .map(|m| Problem {
            what: m.path,
            expected: m.expected,
            actual: m.actual,
        })
        .collect()
}

/// `status:`.
fn status(pattern: &Pattern, exchange: &Exchange, lookup: &dyn Lookup) -> Vec<Problem> {
    problems_of(|out| pattern.check(Some(&Value::from(exchange.status)), "status", lookup, out))
}

/// One of `headers:` — its values joined with `, `, or absent.
fn header(name: &str, pattern: &Pattern, exchange: &Exchange, lookup: &dyn Lookup) -> Vec<Problem> {
    let values: Vec<String> = exchange
        .headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let joined = (!values.is_empty()).then(|| values.join(", "));
    problems_of(|out| pattern.check_text(joined.as_deref(), &format!("header {name}"), lookup, out))
}

/// `json:` — the body's mismatches, or (`Err`) a body that is not JSON.
fn json_body(
    pattern: &Pattern,
    exchange: &Exchange,
    lookup: &dyn Lookup,
) -> Result<Vec<Problem>, Problem> {
    match serde_json::from_slice::<Value>(&exchange.body) {
        Ok(body) => Ok(problems_of(|out| {
            pattern.check(Some(&body), "$", lookup, out)
        })),
        Err(_) => Err(Problem {
            what: "json".into(),
            expected: "a JSON body".into(),
            actual: body_text(exchange),
        }),
    }
}

/// `body:` — the body as text.
fn body(pattern: &Pattern, exchange: &Exchange, lookup: &dyn Lookup) -> Vec<Problem> {
    let text = Value::String(String::from_utf8_lossy(&exchange.body).into_owned());
    problems_of(|out| pattern.check(Some(&text), "body", lookup, out))
}

/// `elapsed:` — the answer's time against the bound.
fn elapsed(bound: &Elapsed, exchange: &Exchange) -> Option<Problem> {
    let took = exchange.elapsed;
    let (holds, op) = match bound.comparison {
        Comparison::Lt => (took < bound.limit, "<"),
        Comparison::Lte => (took <= bound.limit, "<="),
        Comparison::Gt => (took > bound.limit, ">"),
        Comparison::Gte => (took >= bound.limit, ">="),
    };
    (!holds).then(|| Problem {
        what: "elapsed".into(),
        expected: format!("{op} {}", crate::duration::format(bound.limit)),
        actual: format!("{:.1} ms", took.as_secs_f64() * 1000.0),
    })
}

/// An outcome as reports show it: the name, and the reason for invalid
/// input and unrecognized answers.
pub(crate) fn describe_observed(observed: &Observed) -> String {
    match observed {
        Outcome::InvalidInput { reason } => format!("invalid_input ({reason})"),
        Outcome::Unrecognized { reason } => format!("unrecognized ({reason})"),
        other => other.kind().name().to_string(),
    }
}

/// An outcome with the other readings the document allows.
fn describe_read(observed: &Observed, also: &[OutcomeKind]) -> String {
    let taken = describe_observed(observed);
    if also.is_empty() {
        return taken;
    }
    let names: Vec<&str> = also.iter().map(|kind| kind.name()).collect();
    format!("{taken} (or {})", names.join(", "))
}

fn body_text(exchange: &Exchange) -> String {
    shown(&Value::String(exchange.text()))
}

/// How many runs answered each way. An answer the document lets mean
/// several outcomes counts as the first of them that `expected` names.
pub(crate) fn tally<'a>(
    runs: impl Iterator<Item = &'a Got<'a>>,
    expected: &BTreeMap<CountKey, CountValue>,
) -> BTreeMap<CountKey, u64> {
    let mut counts = BTreeMap::new();
    for got in runs {
        let key = match got {
            Got::Answer {
                observed: Some(observed),
                also,
                ..
            } => {
                let taken = CountKey::Outcome(observed.kind());
                let named = also
                    .iter()
                    .map(|kind| CountKey::Outcome(*kind))
                    .find(|key| expected.contains_key(key));
                match named {
                    Some(key) if !expected.contains_key(&taken) => key,
                    _ => taken,
                }
            }
            Got::Answer { observed: None, .. } => continue,
            Got::Failed(_) => CountKey::TransportError,
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Whether the counts are what `expected` says, over `total` runs.
pub(crate) fn check_counts(
    expected: &BTreeMap<CountKey, CountValue>,
    counts: &BTreeMap<CountKey, u64>,
    total: u64,
    lookup: &dyn Lookup,
) -> Result<Option<Problem>, String> {
    let mut want: BTreeMap<CountKey, u64> = BTreeMap::new();
    let mut rest_key = None;
    for (key, value) in expected {
        match value {
            CountValue::Exactly(template) => {
                want.insert(*key, template.number(lookup)?);
            }
            CountValue::Rest => rest_key = Some(*key),
        }
    }
    let named: u64 = want.values().sum();
    if let Some(key) = rest_key {
        if named > total {
            return Err(format!(
                "expect_counts names {named} runs, more than the {total} there are"
            ));
        }
        want.insert(key, total - named);
    }
    let holds = if rest_key.is_some() || named == total {
        let mut all_keys: Vec<CountKey> = want.keys().chain(counts.keys()).copied().collect();
        all_keys.sort();
        all_keys.dedup();
        all_keys
            .iter()
            .all(|k| want.get(k).copied().unwrap_or(0) == counts.get(k).copied().unwrap_or(0))
    } else {
        // Without `rest`, only the named outcomes are checked.
        want.iter()
            .all(|(k, n)| counts.get(k).copied().unwrap_or(0) == *n)
    };
    if holds {
        return Ok(None);
    }
    let render = |map: &BTreeMap<CountKey, u64>| {
        let parts: Vec<String> = map
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{}: {n}", k.name()))
            .collect();
        format!("{{{}}}", parts.join(", "))
    };
    Ok(Some(Problem {
        what: "counts".into(),
        expected: render(&want),
        actual: render(counts),
    }))
}

/// The value `capture` takes from an answer.
pub(crate) fn capture(capture: &Capture, exchange: &Exchange) -> Result<Value, String> {
    match capture {
        Capture::Status => Ok(Value::from(exchange.status)),
        Capture::Body => Ok(Value::String(exchange.text())),
        Capture::Header(name) => exchange
            .headers
            .get(name.as_str())
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .ok_or_else(|| format!("the answer has no {name} header")),
        Capture::Json(path) => {
            let mut value: Value = serde_json::from_slice(&exchange.body)
                .map_err(|_| "the answer's body is not JSON".to_string())?;
            let mut at = String::from("$");
            for part in path {
                value = match part {
                    PathPart::Key(key) => {
                        at.push('.');
                        at.push_str(key);
                        value.get(key).cloned()
                    }
                    PathPart::Index(index) => {
                        at.push_str(&format!("[{index}]"));
                        value.get(*index).cloned()
                    }
                }
                .ok_or_else(|| format!("the answer's body has nothing at {at}"))?;
            }
            Ok(value)
        }
        Capture::Regex(source, regex) => {
            let value = self::capture(source, exchange)?;
            found(
                &regex.0,
                &value,
                &describe_source(source, "the answer's body"),
            )
        }
        Capture::Code | Capture::Message | Capture::MessageId => {
            Err("`code`, `message` and `id` are read by inbox steps".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::model::OneOrMany;

    struct NoVars;

    impl Lookup for NoVars {
        fn get(&self, name: &str) -> Result<Value, String> {
            Err(format!("no `{name}`"))
        }
    }

    fn exchange() -> Exchange {
        Exchange {
            status: 400,
            headers: hyper::HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{}"),
            elapsed: Duration::from_millis(1),
        }
    }

    fn expecting(kind: OutcomeKind) -> Expect {
        Expect {
            outcome: Some(OneOrMany(vec![kind])),
            ..Expect::default()
        }
    }

    /// An answer the document lets mean several outcomes meets an
    /// expectation of any of them, and of none besides.
    #[test]
    fn an_outcome_expectation_holds_for_every_reading_the_document_allows() {
        let exchange = exchange();
        let observed = Observed::invalid(crate::engine::outcome::Invalid::body(
            crate::engine::outcome::Fault::Invalid,
        ));
        let also = [OutcomeKind::WrongCode, OutcomeKind::Expired];
        let got = Got::Answer {
            exchange: &exchange,
            observed: Some(&observed),
            also: &also,
        };
        for kind in [
            OutcomeKind::InvalidInput,
            OutcomeKind::WrongCode,
            OutcomeKind::Expired,
        ] {
            assert!(
                check(&expecting(kind), &got, &NoVars).is_empty(),
                "{kind:?}"
            );
        }
        let problems = check(&expecting(OutcomeKind::NotFound), &got, &NoVars);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].actual.contains("(or wrong_code, expired)"),
            "{:?}",
            problems[0]
        );
    }

    /// Counted as the reading the expectation names, else as the one
    /// taken.
    #[test]
    fn counts_take_the_reading_the_expectation_names() {
        let exchange = exchange();
        let observed = Observed::AttemptsExceeded { retry_after: None };
        let also = [OutcomeKind::RateLimited];
        let got = Got::Answer {
            exchange: &exchange,
            observed: Some(&observed),
            also: &also,
        };
        let key = |kind| CountKey::Outcome(kind);
        let mut expected = BTreeMap::new();
        expected.insert(key(OutcomeKind::Sent), CountValue::Rest);
        expected.insert(key(OutcomeKind::RateLimited), CountValue::Rest);
        let counts = tally([&got].into_iter(), &expected);
        assert_eq!(counts.get(&key(OutcomeKind::RateLimited)), Some(&1));
        expected.remove(&key(OutcomeKind::RateLimited));
        let counts = tally([&got].into_iter(), &expected);
        assert_eq!(counts.get(&key(OutcomeKind::AttemptsExceeded)), Some(&1));
        expected.insert(key(OutcomeKind::AttemptsExceeded), CountValue::Rest);
        expected.insert(key(OutcomeKind::RateLimited), CountValue::Rest);
        let counts = tally([&got].into_iter(), &expected);
        assert_eq!(counts.get(&key(OutcomeKind::AttemptsExceeded)), Some(&1));
    }
}
/// A message an inbox step read.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub id: u64,
    pub text: String,
    pub code: Option<String>,
}

/// The value `capture` takes from a message an inbox step read.
pub(crate) fn capture_message(capture: &Capture, message: &Message) -> Result<Value, String> {
    match capture {
        Capture::Code => message
            .code
            .clone()
            .map(Value::String)
            .ok_or_else(|| format!("the message holds no code: {:?}", message.text)),
        Capture::Message | Capture::Body => Ok(Value::String(message.text.clone())),
        Capture::MessageId => Ok(Value::from(message.id)),
        Capture::Regex(source, regex) => {
            let value = capture_message(source, message)?;
            found(&regex.0, &value, &describe_source(source, "the message"))
        }
        _ => Err("an inbox step captures `code`, `message`, `id` or `!regex`".into()),
    }
}

fn describe_source(source: &Capture, body: &str) -> String {
    match source {
        Capture::Body | Capture::Message => body.to_string(),
        Capture::Header(name) => format!("the {name} header"),
        Capture::Json(_) => "the JSON value".to_string(),
        Capture::Status => "the status".to_string(),
        Capture::Code => "the code".to_string(),
        _ => "the value".to_string(),
    }
}

/// What `regex` finds in `value` (as text): its group, or the whole
/// match.
fn found(regex: &regex::Regex, value: &Value, source: &str) -> Result<Value, String> {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let captures = regex.captures(&text).ok_or_else(|| {
        let shown: String = text.chars().take(200).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        format!(
            "`{}` finds nothing in {source}: {shown:?}{more}",
            regex.as_str()
        )
    })?;
    let matched = captures.get(1).or_else(|| captures.get(0));
    Ok(Value::String(
        matched.map_or_else(String::new, |m| m.as_str().to_string()),
    ))
}
