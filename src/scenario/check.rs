//! The values a step will use, checked before anything is sent: counts
//! (`repeat`, `parallel`, `expect_counts`), durations (`wait`, `every`,
//! `within`), an http step's method, path and headers, a send's channel,
//! type, length and expiry, and matcher bounds. [`step`] checks what a
//! [`Lookup`] can render: with [`Nothing`], the literals, when the file
//! is read; with the target's policy, what reads only the policy, before
//! any case runs. What reads a value only the case will have (a code, a
//! capture) is checked when it is rendered.
//!
//! Each problem carries a needle — text written in the step near the
//! mistake — which the caller turns into a `file:line:col`.

use crate::scenario::model::{Action, CountValue, Step};
use crate::scenario::request;
use crate::scenario::template::{Lookup, Template};

/// What a step holds that cannot work: (needle, message).
pub(crate) type Found = Vec<(String, String)>;

/// A lookup that knows nothing: only literals are checked.
pub(crate) struct Nothing;

impl Lookup for Nothing {
    fn get(&self, name: &str) -> Result<serde_json::Value, String> {
        Err(format!("`{name}` is not known when the file is read"))
    }
}

/// Whether `lookup` knows every variable `template` reads.
fn known(template: &Template, lookup: &dyn Lookup) -> bool {
    template.variables().all(|name| lookup.get(name).is_ok())
}

/// A problem with a template's value, placed at the template.
fn push(out: &mut Found, key: &str, template: &Template, why: String) {
    let needle = if template.source().is_empty() {
        format!("{key}:")
    } else {
        template.source().to_string()
    };
    out.push((needle, format!("{key}: {why}")));
}

/// A clock move or a wait: a duration of at most 100 years.
fn duration(out: &mut Found, lookup: &dyn Lookup, key: &str, template: &Template) {
    if !known(template, lookup) {
        return;
    }
    match template.duration(lookup) {
        Ok(d) if d > crate::duration::MAX => push(
            out,
            key,
            template,
            format!("`{template}` is longer than 100 years"),
        ),
        Ok(_) => {}
        // A negative clock move from the policy skips the case (the
        // policy leaves no room for it); a literal one is a mistake.
        Err(why) if why.contains("negative") && template.variables().next().is_some() => {}
        Err(why) => push(out, key, template, why),
    }
}

/// A count of runs: `least` to [`request::MAX_RUNS`].
fn count(out: &mut Found, lookup: &dyn Lookup, key: &str, template: &Template, least: u64) {
    if !known(template, lookup) {
        return;
    }
    match template.number(lookup) {
        Ok(n) if n < least || n > request::MAX_RUNS => push(
            out,
            key,
            template,
            format!(
                "`{template}` is {n}; expected {least} to {}",
                request::MAX_RUNS
            ),
        ),
        Ok(_) => {}
        Err(why) if why.contains("negative") && template.variables().next().is_some() => {}
        Err(why) => push(out, key, template, why),
    }
}

/// A send argument's text, checked by `check`.
fn text(
    out: &mut Found,
    lookup: &dyn Lookup,
    key: &str,
    template: &Option<Template>,
    check: fn(&str) -> Result<(), String>,
) {
    if let Some(template) = template.as_ref().filter(|t| known(t, lookup)) {
        if let Err(why) = template.text(lookup).and_then(|text| check(&text)) {
            push(out, key, template, why);
        }
    }
}

/// Every problem in `step` that `lookup` lets show.
pub(crate) fn step(step: &Step, lookup: &dyn Lookup) -> Found {
    let mut out = Found::new();
    match &step.action {
        Action::Wait(template) => duration(&mut out, lookup, "wait", template),
        Action::Inbox(args) => {
            if let Some(within) = &args.within {
                duration(&mut out, lookup, "within", within);
            }
        }
        Action::Send(args) => {
            text(&mut out, lookup, "channel", &args.channel, |t| {
                request::channel(t).map(drop)
            });
            text(&mut out, lookup, "type", &args.code_type, |t| {
                request::alphabet(t).map(drop)
            });
            text(&mut out, lookup, "expiry", &args.expiry, |t| {
                request::expiry(t).map(drop)
            });
            if let Some(length) = args.length.as_ref().filter(|t| known(t, lookup)) {
                if let Err(why) = length.number(lookup).and_then(request::length) {
                    push(&mut out, "length", length, why);
                }
            }
        }
        Action::Verify(_) | Action::Faults(_) => {}
        Action::Http(args) => {
            if let Err(why) = request::method(&args.method) {
                out.push((args.method.clone(), why));
            }
            let path = &args.path;
            if known(path, lookup) {
                if let Err(why) = path.text(lookup).and_then(|p| request::path(&p)) {
                    out.push((path.source().to_string(), why));
                }
            } else if !path.source().starts_with("${") {
                // What is written before the first variable is the start
                // of the path whatever the variable holds.
                let start = path.source().split("${").next().unwrap_or_default();
                if let Err(why) = request::path(start) {
                    if start.starts_with("http") || !start.starts_with('/') {
                        out.push((path.source().to_string(), why));
                    }
                }
            }
            for (name, value) in &args.headers {
                if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    out.push((
                        name.clone(),
                        format!("headers: `{name}` is not a header name"),
                    ));
                }
                if known(value, lookup) {
                    let valid = value
                        .text(lookup)
                        .is_ok_and(|text| hyper::header::HeaderValue::from_str(&text).is_ok());
                    if !valid {
                        out.push((
                            value.source().to_string(),
                            format!("headers: the value of {name} is not a header value"),
                        ));
                    }
                }
            }
            if args.body.is_some() && args.json.is_some() {
                out.push((
                    "json:".into(),
                    "an http step takes `body` or `json`, not both".into(),
                ));
            }
        }
    }
    if let Some(repeat) = &step.repeat {
        count(&mut out, lookup, "repeat", repeat, 0);
    }
    if let Some(parallel) = &step.parallel {
        count(&mut out, lookup, "parallel", parallel, 1);
    }
    if let Some(every) = &step.every {
        duration(&mut out, lookup, "every", every);
    }
    if let Some(counts) = &step.expect_counts {
        for (key, value) in counts {
            if let CountValue::Exactly(template) = value {
                count(&mut out, lookup, key.name(), template, 0);
            }
        }
    }
    if let Some(expect) = &step.expect {
        let mut found = Vec::new();
        for pattern in [&expect.status, &expect.json, &expect.body]
            .into_iter()
            .flatten()
            .chain(expect.headers.values())
        {
            pattern.problems(lookup, &mut found);
        }
        if let Some(crate::scenario::matcher::Pattern::Equal(
            crate::scenario::matcher::Scalar::Number(n),
        )) = &expect.status
        {
            if !n.as_u64().is_some_and(|n| (100..=599).contains(&n)) {
                found.push((
                    "status:".into(),
                    format!("status: `{n}` is not an HTTP status (100 to 599)"),
                ));
            }
        }
        out.extend(found);
    }
    out
}
