//! The README's and docs/'s examples stay true, and their links lead
//! somewhere.

use otpbench::config::Config;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn readme() -> String {
    std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap()
}

/// README.md, then every docs/*.md by name: (path from the root, text).
fn documents() -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(format!("{ROOT}/docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    names.sort();
    names.insert(0, "README.md".to_string());
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(format!("{ROOT}/{n}")).unwrap();
            (n, text)
        })
        .collect()
}

/// The text from `heading` to the end of the one document that holds it.
/// The heading starts a line and, when it is a Markdown heading, is the
/// whole title or the part before a colon.
fn section(heading: &str) -> String {
    let mut found = Vec::new();
    for (name, text) in documents() {
        for (at, _) in text.match_indices(heading) {
            let after = text[at + heading.len()..].chars().next();
            let whole = !heading.starts_with('#') || matches!(after, None | Some('\n' | ':'));
            if (at == 0 || text[..at].ends_with('\n')) && whole {
                found.push((name.clone(), text[at..].to_string()));
            }
        }
    }
    let names: Vec<&String> = found.iter().map(|(n, _)| n).collect();
    assert_eq!(found.len(), 1, "{heading:?} in {names:?}");
    found.pop().unwrap().1
}

/// The fenced block right after `heading`, wherever it is documented.
fn block(heading: &str, fence: &str) -> String {
    block_after(&section(heading), heading, fence)
}

/// The fenced block right after `heading`.
fn block_after(text: &str, heading: &str, fence: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &text[start..];
    let open = rest.find(fence).expect("a fenced block") + fence.len();
    let close = rest[open..].find("```").expect("a closing fence");
    rest[open..open + close].to_string()
}

#[test]
fn the_config_example_parses_and_shows_the_defaults() {
    let yaml = block("## Configuration", "```yaml\n");
    let config = Config::parse(&yaml, "README.md").unwrap();
    let defaults = Config::default();
    assert_eq!(config.secret.as_ref().map(|s| s.len()), Some(16));
    assert_eq!(
        Config {
            secret: None,
            ..config
        },
        defaults,
        "README example is not the defaults"
    );
}

#[test]
fn the_readme_starts_with_the_two_commands() {
    let first = block_after(&readme(), "# otpbench", "```sh\n");
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 2, "{first}");
    assert!(lines[0].starts_with("cargo run --release -- "), "{first}");
    assert!(lines[1].starts_with("cargo test"), "{first}");
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run must run the README's test command"
    );
}

#[test]
fn the_gate_examples_parse() {
    let examples = block("### Gates", "```text\n");
    assert!(examples.lines().count() >= 8, "{examples}");
    for line in examples.lines() {
        if let Err(e) = otpbench::report::Gate::parse(line) {
            panic!("README gate example {line:?}: {e}");
        }
    }
}

#[test]
fn the_target_and_scenario_examples_are_valid_files() {
    let target = block("### Targets", "```yaml\n");
    let spec = otpbench::client::TargetSpec::parse(&target, "README.md").unwrap();
    assert_eq!(spec.dialect, otpbench::dialect::Dialect::Valify);
    let own = block("## Test your own OTP service", "```yaml\n");
    let spec = otpbench::client::TargetSpec::parse(&own, "README.md").unwrap();
    assert_eq!(spec.policy.send_limits.len(), 2);
    let scenario = block("### Scenarios", "```yaml\n");
    let scenarios = otpbench::scenario::parse(&scenario, "README.md").unwrap();
    assert_eq!(scenarios[0].steps.len(), 3);
}

#[test]
fn ci_runs_the_main_job() {
    let first = block_after(&readme(), "# otpbench", "```sh\n");
    let main_job = first
        .lines()
        .next()
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(main_job, "cargo run --release -- run");
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == main_job),
        ".ci/run must run the README's main job"
    );
}

/// The commands of "## Load" and "### Capacity" are ones the CLI accepts,
/// and the workload file example reads.
#[test]
fn the_load_examples_parse() {
    use clap::Parser;
    use otpbench::cli::Cli;
    let mut commands = block("## Load", "```sh\n");
    commands.push_str(&block("### Capacity", "```sh\n").replace("\\\n", " "));
    commands.push_str(&block("### Soak", "```sh\n").replace("\\\n", " "));
    let mut parsed = 0;
    for line in commands.lines() {
        let line = line.split(" &").next().unwrap();
        if !line.starts_with("otpbench load") && !line.starts_with("otpbench capacity") {
            continue;
        }
        // Drop the optional flags shown in brackets.
        let line: String = line.split(" [").next().unwrap().to_string();
        let words = crate::support::process::shell_words(&line);
        if let Err(e) = Cli::try_parse_from(&words) {
            panic!("README: {line}\n{e}");
        }
        parsed += 1;
    }
    assert!(parsed >= 6, "{parsed} commands");
    let example = block("### Workload files", "```yaml\n");
    let file = otpbench::load::file::WorkloadFile::parse(&example, "README.md").unwrap();
    assert_eq!(file.dialect, Some(otpbench::dialect::Dialect::Native));
    assert_eq!(file.thresholds.len(), 3);
}

/// The "Writing scenarios" walkthrough's first three blocks make one
/// valid scenario, the finished file's first.
#[test]
fn the_walkthrough_blocks_make_a_valid_scenario() {
    let text = section("## Writing scenarios");
    let end = ["\n## ", "\n# "]
        .iter()
        .filter_map(|h| text.find(h))
        .min()
        .unwrap_or(text.len());
    let section = &text[..end];
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 4);
    let scenario = blocks[..3].concat();
    let parsed = otpbench::scenario::parse(&scenario, "README.md").unwrap();
    let finished = otpbench::scenario::parse(
        &std::fs::read_to_string("scenarios/conformance/resend.yaml").unwrap(),
        "resend.yaml",
    )
    .unwrap();
    assert_eq!(parsed[0].name, finished[0].name);
    assert_eq!(parsed[0].steps.len(), finished[0].steps.len());
}

#[test]
fn the_check_counterexample_example_is_a_valid_scenario() {
    let scenario = block("**Replaying it in CI.**", "```yaml\n");
    let scenarios = otpbench::scenario::parse(&scenario, "README.md").unwrap();
    assert_eq!(scenarios[0].steps.len(), 3);
}

/// GitHub's anchor for a heading: lower case, letters, digits, `-` and
/// `_` kept, spaces made `-`, everything else dropped.
fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Lines outside fenced blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The anchors of a document's headings, duplicates numbered as GitHub does.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for line in prose(text) {
        let title = line.trim_start_matches('#');
        if title.len() == line.len() || !title.starts_with(' ') {
            continue;
        }
        let base = anchor(title.trim());
        let twins = seen
            .iter()
            .filter(|a| {
                **a == base
                    || a.strip_prefix(&format!("{base}-"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .count();
        seen.push(if twins == 0 {
            base
        } else {
            format!("{base}-{twins}")
        });
    }
    seen
}

/// The targets of a text's `[text](target)` links, outside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        // Drop inline code spans.
        let line: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let Some(end) = tail.find(')') else { break };
            found.push(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    found
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading() {
    let documents = documents();
    assert!(documents.len() >= 15, "{} documents", documents.len());
    let mut checked = 0;
    for (name, text) in &documents {
        let dir = std::path::Path::new(name).parent().unwrap();
        for target in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                name.clone()
            } else {
                dir.join(path).to_string_lossy().into_owned()
            };
            let full = format!("{ROOT}/{file}");
            assert!(
                std::path::Path::new(&full).exists(),
                "{name}: link {target:?}: no {file}"
            );
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&full).unwrap();
                assert!(
                    anchors(&text).iter().any(|a| a == fragment),
                    "{name}: link {target:?}: {file} has no heading #{fragment}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} links");
}

#[test]
fn the_readme_is_an_overview() {
    let lines = readme().lines().count();
    assert!(lines <= 250, "README.md is {lines} lines");
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchor("Mutants: `otpbench mutants`"),
        "mutants-otpbench-mutants"
    );
    assert_eq!(
        anchor("Judging someone else's service: the client side's tolerance"),
        "judging-someone-elses-service-the-client-sides-tolerance"
    );
    assert_eq!(
        anchors("# A\n```\n# not a heading\n```\n## A\n### A b\n"),
        ["a", "a-1", "a-b"]
    );
}
