//! Reading scenario files: finding them, parsing them with serde_yaml (a
//! file may hold several scenarios as YAML documents), placing each step
//! in its file, and the checks that need the whole scenario — one action
//! per step, modifiers that fit the action, and every `${…}` variable
//! known where it is used. Every problem is a [`FileError`] at
//! `file:line:col`.

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
use crate::scenario::variables;
use crate::source::{FileError, Position};

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

/// Reads every scenario in `path`.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>, FileError> {
    let file = path.display().to_string();
    let text = crate::source::read(path)?;
    parse(&text, &file)
}

/// Reads scenario text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Vec<Scenario>, FileError> {
    let layout = Layout::of(text);
    let mut scenarios = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let doc =
            ScenarioDoc::deserialize(document).map_err(|e| FileError::from_yaml(file, text, &e))?;
        let start = layout.document_start(index);
        let positions = layout.steps(index, doc.steps.len());
        let mut steps = Vec::with_capacity(doc.steps.len());
        for (step, position) in doc.steps.into_iter().zip(positions) {
            steps.push(
                step_of(step, position)
                    .map_err(|message| FileError::at(file, text, Some(position), message))?,
            );
        }
        if steps.is_empty() {
            return Err(FileError::at(
                file,
                text,
                Some(start),
                format!("scenario `{}` has no steps", doc.name),
            ));
        }
        let scenario = Scenario {
            name: doc.name,
            file: file.to_string(),
            position: start,
            dialects: doc.dialects.and_then(|d| d.0),
            tags: doc.tags,
            needs: doc.needs,
            steps,
        };
        check_variables(&scenario).map_err(|(position, name, message)| {
            let at = find_after(text, position, &format!("${{{name}}}")).unwrap_or(position);
            FileError::at(file, text, Some(at), message)
        })?;
        scenarios.push(scenario);
    }
    Ok(scenarios)
}

/// A step from its document: one action, fitting modifiers.
fn step_of(doc: StepDoc, position: Position) -> Result<Step, String> {
    let mut actions = Vec::new();
    if let Some(args) = doc.send {
        actions.push(Action::Send(args));
    }
    if let Some(args) = doc.verify {
        actions.push(Action::Verify(args));
    }
    if let Some(args) = doc.http {
        actions.push(Action::Http(args));
    }
    if let Some(duration) = doc.wait {
        actions.push(Action::Wait(duration));
    }
    if let Some(args) = doc.inbox {
        actions.push(Action::Inbox(args));
    }
    if let Some(args) = doc.faults {
        actions.push(Action::Faults(args));
    }
    let action = match actions.len() {
        1 => actions.remove(0),
        0 => return Err("a step needs one of send, verify, http, wait, inbox or faults".into()),
        _ => {
            let names: Vec<&str> = actions.iter().map(Action::keyword).collect();
            return Err(format!(
                "a step does one thing; this one has {}",
                names.join(" and ")
            ));
        }
    };
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
    if !doc.capture.is_empty() && !requesting {
        return Err(format!(
            "`capture` goes with send, verify or http, not {keyword}"
        ));
    }
    if let Some(expect) = &doc.expect {
        match &action {
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

/// What a named send (`as: first`) offers: `${first.code}`, ….
pub(crate) const NAMED_PARTS: [&str; 3] = ["code", "id", "to"];

/// Where `needle` is first written at or after `from`.
fn find_after(text: &str, from: Position, needle: &str) -> Option<Position> {
    for (index, line) in text.lines().enumerate().skip(from.line.saturating_sub(1)) {
        let start = if index + 1 == from.line {
            from.column.saturating_sub(1)
        } else {
            0
        };
        if let Some(at) = line.get(start..).and_then(|rest| rest.find(needle)) {
            return Some(Position {
                line: index + 1,
                column: line[..start + at].chars().count() + 1,
            });
        }
    }
    None
}

/// Every variable a step reads is built in or captured by an earlier step;
/// the error names the variable too, to place it.
fn check_variables(scenario: &Scenario) -> Result<(), (Position, String, String)> {
    let mut captured: BTreeSet<String> = BTreeSet::new();
    for step in &scenario.steps {
        for template in step.templates() {
            for name in template.variables() {
                if !variables::is_builtin(name) && !captured.contains(name) {
                    let mut message = format!("unknown variable `${{{name}}}`");
                    if let Some(near) = variables::nearest(name, &captured) {
                        message.push_str(&format!(" (did you mean `${{{near}}}`?)"));
                    } else {
                        message.push_str(&format!(
                            "; built in are {}, and what earlier steps capture",
                            variables::BUILTIN_SUMMARY
                        ));
                    }
                    return Err((step.position, name.to_string(), message));
                }
            }
        }
        for name in step.capture.keys() {
            if variables::is_builtin(name) {
                return Err((
                    step.position,
                    name.clone(),
                    format!("`{name}` is a built-in variable; capture into another name"),
                ));
            }
            captured.insert(name.clone());
        }
        if let Some(name) = &step.named {
            for part in NAMED_PARTS {
                captured.insert(format!("{name}.{part}"));
            }
        }
    }
    Ok(())
}

/// Where documents and their steps start, found by reading the lines of
/// block-style YAML (serde_yaml keeps no positions of values it read
/// well). A flow-style `steps: [...]` places every step at `steps:`.
struct Layout {
    documents: Vec<DocumentLayout>,
}

struct DocumentLayout {
    start: Position,
    steps: Vec<Position>,
    steps_key: Option<Position>,
}

impl Layout {
    fn of(text: &str) -> Layout {
        let lines: Vec<&str> = text.lines().collect();
        let mut documents = Vec::new();
        let mut current = DocumentLayout {
            start: Position { line: 1, column: 1 },
            steps: Vec::new(),
            steps_key: None,
        };
        let mut seen_content = false;
        let mut index = 0;
        while index < lines.len() {
            let line = lines[index];
            if line.starts_with("---") {
                if seen_content {
                    documents.push(current);
                }
                current = DocumentLayout {
                    start: Position {
                        line: index + 2,
                        column: 1,
                    },
                    steps: Vec::new(),
                    steps_key: None,
                };
                seen_content = false;
                index += 1;
                continue;
            }
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                index += 1;
                continue;
            }
            if !seen_content {
                current.start = Position {
                    line: index + 1,
                    column: 1,
                };
                seen_content = true;
            }
            let is_steps_key = line.starts_with("steps:");
            if is_steps_key {
                let key = Position {
                    line: index + 1,
                    column: 1,
                };
                current.steps_key = Some(key);
                let rest = line["steps:".len()..].trim();
                if !rest.is_empty() && !rest.starts_with('#') {
                    index += 1;
                    continue;
                }
                let mut item_indent: Option<usize> = None;
                index += 1;
                while index < lines.len() {
                    let line = lines[index];
                    let trimmed = line.trim_start();
                    if line.starts_with("---") {
                        break;
                    }
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        index += 1;
                        continue;
                    }
                    let indent = line.len() - trimmed.len();
                    let is_item = trimmed == "-" || trimmed.starts_with("- ");
                    if item_indent.is_none() && is_item {
                        item_indent = Some(indent);
                    }
                    match item_indent {
                        Some(at) if indent == at && is_item => current.steps.push(Position {
                            line: index + 1,
                            column: indent + 1,
                        }),
                        Some(at) if indent < at || (indent == 0 && !is_item) => break,
                        None if indent == 0 => break,
                        _ => {}
                    }
                    index += 1;
                }
                continue;
            }
            index += 1;
        }
        if seen_content {
            documents.push(current);
        }
        Layout { documents }
    }

    fn document_start(&self, index: usize) -> Position {
        self.documents
            .get(index)
            .map_or(Position { line: 1, column: 1 }, |d| d.start)
    }

    /// `count` step positions of document `index` (all at the `steps:` key,
    /// or the document start, when the lines do not show them).
    fn steps(&self, index: usize, count: usize) -> Vec<Position> {
        let Some(document) = self.documents.get(index) else {
            return vec![Position { line: 1, column: 1 }; count];
        };
        if document.steps.len() == count {
            return document.steps.clone();
        }
        vec![document.steps_key.unwrap_or(document.start); count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_placed_in_block_yaml() {
        let text = "name: a\nsteps:\n  - send: {}\n    expect: {outcome: sent}\n\n  # note\n  - verify:\n---\nname: b\nsteps:\n- wait: 1s\n- send: {}\n";
        let layout = Layout::of(text);
        assert_eq!(
            layout.steps(0, 2),
            [
                Position { line: 3, column: 3 },
                Position { line: 7, column: 3 }
            ]
        );
        assert_eq!(layout.document_start(1), Position { line: 9, column: 1 });
        assert_eq!(
            layout.steps(1, 2),
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
