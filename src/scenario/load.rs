//! Reading scenario files: finding them, parsing them with serde_yaml (a
//! file may hold several scenarios as YAML documents), placing each step
//! in its file, and the checks that need the whole scenario — one action
//! per step, modifiers that fit the action, every value a step will use
//! that is written as a literal (`scenario::check`), and every `${…}`
//! variable known where it is used. Every problem is a [`FileError`] at
//! `file:line:col`, and every problem of a file is reported, not only the
//! first: each step is checked on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::Deserializer;
use serde::Deserialize;

use crate::client::Capability;
use crate::scenario::model::{
    Action, Capture, CountKey, CountValue, DialectsField, Expect, FaultsArgs, HttpArgs, InboxArgs,
    Scenario, SendArgs, Step, VerifyArgs,
};
use crate::scenario::template::Template;
use crate::scenario::{check, variables};
use std::sync::Arc;

use crate::source::{FileError, Position, Source, SourceMap};
use crate::vars::{Strings, Vars};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioDoc {
    name: String,
    #[allow(dead_code)]
    description: Option<String>,
    dialects: Option<DialectsField>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    needs: Vec<Capability>,
    steps: Vec<StepDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    send: Option<SendArgs>,
    #[serde(default, deserialize_with = "present")]
    verify: Option<VerifyArgs>,
    http: Option<HttpArgs>,
    wait: Option<Template>,
    #[serde(default, deserialize_with = "present")]
    inbox: Option<InboxArgs>,
    faults: Option<FaultsArgs>,
    repeat: Option<Template>,
    parallel: Option<Template>,
    every: Option<Template>,
    #[serde(rename = "as")]
    named: Option<String>,
    expect: Option<Expect>,
    expect_counts: Option<BTreeMap<CountKey, CountValue>>,
    #[serde(default)]
    capture: BTreeMap<String, Capture>,
}

/// A key that may be written without a value (`- verify:`): present, with
/// its defaults.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(
        Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
    ))
}

/// The scenario files under `paths` (files as given; directories walked in
/// name order, skipping `targets/` and `load/`, which hold target and
/// workload files).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(FileError::unreadable(
                &path.display().to_string(),
                "no such file or directory",
            ));
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), FileError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| FileError::unreadable(&dir.display().to_string(), e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "targets" | "load") && !name.starts_with('.') {
                walk(&path, files)?;
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads every scenario in `path`, its `${env.…}` and `${var.…}` from
/// `vars`; every problem in it when it is invalid.
pub fn load_file(path: &Path, vars: &Vars) -> Result<Vec<Scenario>, Vec<FileError>> {
    let file = path.display().to_string();
    let raw = crate::source::read(path).map_err(|e| vec![e])?;
    let text = vars
        .expand(&raw, &file, Strings::Templates)
        .map_err(|e| vec![e])?;
    let source = Arc::new(Source::new(&file, &raw, &text));
    parse_source(&text, source)
        .map_err(|errors| errors.into_iter().map(|e| text.restore(e)).collect())
}

/// Reads scenario text; `file` names it in errors. Every problem is
/// returned: each document, and each step of a document, is checked
/// whatever the others hold.
pub fn parse(text: &str, file: &str) -> Result<Vec<Scenario>, Vec<FileError>> {
    parse_source(text, Arc::new(Source::new(file, text, text)))
}

/// [`parse`] of `text`, mapped in `source`, which the scenarios keep.
fn parse_source(text: &str, source: Arc<Source>) -> Result<Vec<Scenario>, Vec<FileError>> {
    let file = source.file.as_str();
    let map = &source.map;
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let doc = match ScenarioDoc::deserialize(document) {
            Ok(doc) => doc,
            Err(error) => {
                let first =
                    with_quote_hint(FileError::from_yaml_mapped(file, text, map, &error), text);
                let syntax = first.message().contains("while parsing")
                    || first.message().contains("while scanning");
                errors.push(first);
                if syntax {
                    // Past a YAML syntax error the rest cannot be read.
                    break;
                }
                errors.extend(other_step_errors(text, file, index, map, &errors));
                continue;
            }
        };
        let start = map.document_start(index);
        let positions = step_positions(map, index, doc.steps.len());
        let mut steps = Vec::with_capacity(doc.steps.len());
        let mut broken = false;
        // What earlier steps capture (a step that is refused too: its
        // captures are what the steps after it expect).
        let mut captured: BTreeSet<String> = BTreeSet::new();
        for (i, (step, position)) in doc.steps.into_iter().zip(positions).enumerate() {
            let provides = provided(
                step.capture.keys().map(String::as_str),
                step.named.as_deref(),
            );
            match step_of(step, position) {
                Ok(step) => {
                    let within = |needle: &str| {
                        map.find_in(text, index, &format!("steps[{i}]"), needle)
                            .unwrap_or(position)
                    };
                    for (needle, message) in check::step(&step, &check::Nothing) {
                        errors.push(FileError::at(file, text, Some(within(&needle)), message));
                    }
                    for (name, message) in check_variables(&step, &captured) {
                        let at = within(&format!("${{{name}}}"));
                        errors.push(FileError::at(file, text, Some(at), message));
                    }
                    steps.push(step);
                }
                Err(message) => {
                    broken = true;
                    errors.push(FileError::at(file, text, Some(position), message));
                }
            }
            captured.extend(provides);
        }
        if steps.is_empty() && !broken {
            errors.push(FileError::at(
                file,
                text,
                Some(start),
                format!("scenario `{}` has no steps", doc.name),
            ));
            continue;
        }
        let scenario = Scenario {
            name: doc.name,
            file: file.to_string(),
            source: Arc::clone(&source),
            document: index,
            position: start,
            dialects: doc.dialects.and_then(|d| d.0),
            tags: doc.tags,
            needs: doc.needs,
            steps,
        };
        scenarios.push(scenario);
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        // In the order of the file.
        errors.sort_by_key(|e| e.position());
        Err(errors)
    }
}

/// The problems of the steps serde_yaml did not reach in document
/// `index` (it stops at the first): each step read on its own, placed at
/// its start; the steps already reported are left out.
fn other_step_errors(
    text: &str,
    file: &str,
    index: usize,
    map: &SourceMap,
    reported: &[FileError],
) -> Vec<FileError> {
    let Some(document) = serde_yaml::Deserializer::from_str(text).nth(index) else {
        return Vec::new();
    };
    let Ok(value) = serde_yaml::Value::deserialize(document) else {
        return Vec::new();
    };
    let Some(steps) = value.get("steps").and_then(|s| s.as_sequence()) else {
        return Vec::new();
    };
    let positions = step_positions(map, index, steps.len());
    let reported_lines: Vec<usize> = reported
        .iter()
        .filter_map(|e| e.position().map(|p| p.line))
        .collect();
    let mut out = Vec::new();
    let mut captured: BTreeSet<String> = BTreeSet::new();
    for (i, (step, position)) in steps.iter().zip(&positions).enumerate() {
        let capture_names: Vec<&str> = step
            .get("capture")
            .and_then(|c| c.as_mapping())
            .map(|map| map.keys().filter_map(|k| k.as_str()).collect())
            .unwrap_or_default();
        let provides = provided(
            capture_names.into_iter(),
            step.get("as").and_then(|n| n.as_str()),
        );
        // The lines this step spans: to its next step.
        let end = positions
            .get(i + 1)
            .map_or(usize::MAX, |next| next.line.max(position.line + 1));
        if reported_lines
            .iter()
            .any(|line| (position.line..end).contains(line))
        {
            captured.extend(provides);
            continue;
        }
        let message = match StepDoc::deserialize(step.clone()) {
            Ok(doc) => match step_of(doc, *position) {
                Ok(step) => {
                    let within = |needle: &str| {
                        map.find_in(text, index, &format!("steps[{i}]"), needle)
                            .unwrap_or(*position)
                    };
                    let mut found: Vec<FileError> = check::step(&step, &check::Nothing)
                        .into_iter()
                        .map(|(needle, message)| {
                            FileError::at(file, text, Some(within(&needle)), message)
                        })
                        .collect();
                    for (name, message) in check_variables(&step, &captured) {
                        let at = within(&format!("${{{name}}}"));
                        found.push(FileError::at(file, text, Some(at), message));
                    }
                    found
                }
                Err(message) => vec![FileError::at(file, text, Some(*position), message)],
            },
            Err(error) => {
                let message = format!("steps[{i}]: {error}");
                vec![with_quote_hint(
                    FileError::at(file, text, Some(*position), message).with_typo_hint(),
                    text,
                )]
            }
        };
        out.extend(message);
        captured.extend(provides);
    }
    out
}

/// The variables a step makes for the steps after it: its captures, and
/// `${name.code}`… of a send named `name`.
fn provided<'a>(captures: impl Iterator<Item = &'a str>, named: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = captures.map(str::to_string).collect();
    if let Some(name) = named {
        out.extend(NAMED_PARTS.iter().map(|part| format!("{name}.{part}")));
    }
    out
}

/// The YAML error of an unquoted `${…}` in a flow mapping, with the hint
/// to quote it.
fn with_quote_hint(error: FileError, text: &str) -> FileError {
    let line = error
        .position()
        .and_then(|p| text.lines().nth(p.line.saturating_sub(1)));
    let unquoted = line.is_some_and(|line| {
        line.contains('{')
            && line
                .match_indices("${")
                .any(|(at, _)| !matches!(line[..at].chars().last(), Some('"' | '\'')))
    });
    if unquoted && error.hint().is_none() {
        error.with_hint(
            "quote a `${…}` template inside `{ … }`: `{ to: \"${phone}\" }` — unquoted, YAML \
             reads its braces as its own",
        )
    } else {
        error
    }
}

/// The positions of document `index`'s `count` steps: each where the map
/// places it, or all at the `steps:` key (or the document's start) when
/// the map cannot tell them apart.
fn step_positions(map: &SourceMap, index: usize, count: usize) -> Vec<Position> {
    let items = map.items(index, "steps");
    if items.len() == count {
        return items;
    }
    let at = map
        .key(index, "steps")
        .unwrap_or_else(|| map.document_start(index));
    vec![at; count]
}

/// A step from its document: one action, fitting modifiers.
fn step_of(mut doc: StepDoc, position: Position) -> Result<Step, String> {
    let action = action_of(&mut doc)?;
    check_runs(&doc, &action)?;
    check_name(&doc, &action)?;
    check_captures(&doc, &action)?;
    check_expect(&doc, &action)?;
    Ok(Step {
        position,
        label: doc.name,
        action,
        repeat: doc.repeat,
        parallel: doc.parallel,
        every: doc.every,
        named: doc.named,
        expect: doc.expect,
        expect_counts: doc.expect_counts,
        capture: doc.capture,
    })
}

/// The one action of a step (taken out of its document).
fn action_of(doc: &mut StepDoc) -> Result<Action, String> {
    let mut actions = Vec::new();
    if let Some(args) = doc.send.take() {
        actions.push(Action::Send(args));
    }
    if let Some(args) = doc.verify.take() {
        actions.push(Action::Verify(args));
    }
    if let Some(args) = doc.http.take() {
        actions.push(Action::Http(args));
    }
    if let Some(duration) = doc.wait.take() {
        actions.push(Action::Wait(duration));
    }
    if let Some(args) = doc.inbox.take() {
        actions.push(Action::Inbox(args));
    }
    if let Some(args) = doc.faults.take() {
        actions.push(Action::Faults(args));
    }
    match actions.len() {
        1 => Ok(actions.remove(0)),
        0 => Err("a step needs one of send, verify, http, wait, inbox or faults".into()),
        _ => {
            let names: Vec<&str> = actions.iter().map(Action::keyword).collect();
            Err(format!(
                "a step does one thing; this one has {}",
                names.join(" and ")
            ))
        }
    }
}

/// `repeat`, `parallel`, `every` and `expect_counts` fit the action and
/// each other.
fn check_runs(doc: &StepDoc, action: &Action) -> Result<(), String> {
    let requesting = matches!(
        action,
        Action::Send(_) | Action::Verify(_) | Action::Http(_)
    );
    let keyword = action.keyword();
    if doc.repeat.is_some() && doc.parallel.is_some() {
        return Err("a step takes `repeat` or `parallel`, not both".into());
    }
    if (doc.repeat.is_some() || doc.parallel.is_some()) && !requesting {
        return Err(format!(
            "`repeat` and `parallel` go with send, verify or http, not {keyword}"
        ));
    }
    if doc.expect_counts.is_some() && doc.repeat.is_none() && doc.parallel.is_none() {
        return Err("`expect_counts` needs `repeat` or `parallel`".into());
    }
    if doc.every.is_some() && doc.repeat.is_none() {
        return Err("`every` (the clock move between runs) goes with `repeat`".into());
    }
    Ok(())
}

/// `as` names a single send, with a name of its own.
fn check_name(doc: &StepDoc, action: &Action) -> Result<(), String> {
    let keyword = action.keyword();
    if let Some(name) = &doc.named {
        if !matches!(action, Action::Send(_)) {
            return Err(format!("`as` names a send, not a {keyword} step"));
        }
        if doc.parallel.is_some() {
            return Err("`as` names one send; a parallel step has many".into());
        }
        if !variables::is_send_name(name) {
            return Err(format!(
                "`as: {name}`: a name is lower-case letters, digits and `_`, and not one \
                 of the built-in names"
            ));
        }
    }
    Ok(())
}

/// `capture` fits the action: an inbox step captures from the message,
/// the others from their answer.
fn check_captures(doc: &StepDoc, action: &Action) -> Result<(), String> {
    let requesting = matches!(
        action,
        Action::Send(_) | Action::Verify(_) | Action::Http(_)
    );
    let keyword = action.keyword();
    if !doc.capture.is_empty() {
        let inbox = matches!(action, Action::Inbox(_));
        if !requesting && !inbox {
            return Err(format!(
                "`capture` goes with send, verify, http or inbox, not {keyword}"
            ));
        }
        for (name, source) in &doc.capture {
            if inbox && !source.fits_inbox() {
                return Err(format!(
                    "capture `{name}`: an inbox step captures `code`, `message`, `id` or \
                     `!regex` on the message"
                ));
            }
            if !inbox && !source.fits_answer() {
                return Err(format!(
                    "capture `{name}`: `code`, `message` and `id` are an inbox step's; a \
                     {keyword} step captures from its answer (`$.path`, `header:Name`, \
                     `status`, `body`, `!regex`)"
                ));
            }
        }
    }
    Ok(())
}

/// `expect` fits the action, and `expect_counts` gives the rest once.
fn check_expect(doc: &StepDoc, action: &Action) -> Result<(), String> {
    let keyword = action.keyword();
    if let Some(expect) = &doc.expect {
        match action {
            Action::Wait(_) | Action::Faults(_) => {
                return Err(format!("a {keyword} step has nothing to expect"))
            }
            Action::Inbox(_) => {
                let only_delivered = expect.outcome.is_none()
                    && expect.invalid.is_none()
                    && expect.status.is_none()
                    && expect.headers.is_empty()
                    && expect.json.is_none()
                    && expect.body.is_none()
                    && expect.elapsed.is_none();
                if !only_delivered {
                    return Err("an inbox step expects only `delivered`".into());
                }
            }
            _ if expect.delivered.is_some() => {
                return Err("`delivered` goes with inbox steps".into())
            }
            _ => {}
        }
    }
    if let Some(counts) = &doc.expect_counts {
        if counts
            .values()
            .filter(|v| matches!(v, CountValue::Rest))
            .count()
            > 1
        {
            return Err("only one outcome can take the `rest`".into());
        }
    }
    Ok(())
}

/// A problem `check` found in `step` of `scenario` after the file was
/// read (with a target's policy), placed at `needle` within the step.
pub(crate) fn place(
    scenario: &Scenario,
    step: &Step,
    needle: &str,
    message: impl Into<String>,
) -> FileError {
    let source = &scenario.source;
    let index = scenario
        .steps
        .iter()
        .position(|s| std::ptr::eq(s, step))
        .unwrap_or_default();
    let at = source
        .map
        .find_in(
            &source.text,
            scenario.document,
            &format!("steps[{index}]"),
            needle,
        )
        .unwrap_or(step.position);
    FileError::at(&scenario.file, &source.text, Some(at), message)
}

/// What a named send (`as: first`) offers: `${first.code}`, ….
pub(crate) const NAMED_PARTS: [&str; 3] = ["code", "id", "to"];

/// Every variable `step` reads is built in or in `captured` (by an
/// earlier step), and it captures into no built-in name: (the variable,
/// the message) for each that is not.
fn check_variables(step: &Step, captured: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for template in step.templates() {
        for name in template.variables() {
            if !variables::is_builtin(name) && !captured.contains(name) {
                let mut message = format!("unknown variable `${{{name}}}`");
                if let Some(near) = variables::nearest(name, captured) {
                    message.push_str(&format!(" (did you mean `${{{near}}}`?)"));
                } else {
                    message.push_str(&format!(
                        "; built in are {}, and what earlier steps capture",
                        variables::BUILTIN_SUMMARY
                    ));
                }
                errors.push((name.to_string(), message));
            }
        }
    }
    for name in step.capture.keys() {
        if variables::is_builtin(name) {
            errors.push((
                name.clone(),
                format!("`{name}` is a built-in variable; capture into another name"),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_placed_in_block_yaml() {
        let text = "name: a\nsteps:\n  - send: {}\n    expect: {outcome: sent}\n\n  # note\n  - verify:\n---\nname: b\nsteps:\n- wait: 1s\n- send: {}\n";
        let scenarios = parse(text, "s.yaml").unwrap();
        let at = |s: &Scenario| s.steps.iter().map(|s| s.position).collect::<Vec<_>>();
        assert_eq!(
            at(&scenarios[0]),
            [
                Position { line: 3, column: 3 },
                Position { line: 7, column: 3 }
            ]
        );
        assert_eq!(scenarios[1].position, Position { line: 9, column: 1 });
        assert_eq!(
            at(&scenarios[1]),
            [
                Position {
                    line: 11,
                    column: 1
                },
                Position {
                    line: 12,
                    column: 1
                }
            ]
        );
    }
}
