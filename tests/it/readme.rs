//! The README's examples stay true.

use otpbench::config::Config;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
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
    let yaml = block_after(&readme(), "## Configuration", "```yaml\n");
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
    let examples = block_after(&readme(), "### Gates", "```text\n");
    assert!(examples.lines().count() >= 8, "{examples}");
    for line in examples.lines() {
        if let Err(e) = otpbench::report::Gate::parse(line) {
            panic!("README gate example {line:?}: {e}");
        }
    }
}

#[test]
fn the_target_and_scenario_examples_are_valid_files() {
    let target = block_after(&readme(), "### Targets", "```yaml\n");
    let spec = otpbench::client::TargetSpec::parse(&target, "README.md").unwrap();
    assert_eq!(spec.dialect, otpbench::dialect::Dialect::Valify);
    let own = block_after(&readme(), "## Test your own OTP service", "```yaml\n");
    let spec = otpbench::client::TargetSpec::parse(&own, "README.md").unwrap();
    assert_eq!(spec.policy.send_limits.len(), 2);
    let scenario = block_after(&readme(), "### Scenarios", "```yaml\n");
    let scenarios = otpbench::scenario::load::parse(&scenario, "README.md").unwrap();
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
    let text = readme();
    let mut commands = block_after(&text, "## Load", "```sh\n");
    commands.push_str(&block_after(&text, "### Capacity", "```sh\n").replace("\\\n", " "));
    commands.push_str(&block_after(&text, "### Soak", "```sh\n").replace("\\\n", " "));
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
    let example = block_after(&text, "### Workload files", "```yaml\n");
    let file = otpbench::load::file::WorkloadFile::parse(&example, "README.md").unwrap();
    assert_eq!(file.dialect, Some(otpbench::dialect::Dialect::Native));
    assert_eq!(file.thresholds.len(), 3);
}

/// The "Writing scenarios" walkthrough's first three blocks make one
/// valid scenario, the finished file's first.
#[test]
fn the_walkthrough_blocks_make_a_valid_scenario() {
    let text = readme();
    let section = &text[text.find("## Writing scenarios").expect("the section")..];
    let section = &section[..section.find("\n## ").expect("a next section")];
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 4);
    let scenario = blocks[..3].concat();
    let parsed = otpbench::scenario::load::parse(&scenario, "README.md").unwrap();
    let finished = otpbench::scenario::load::parse(
        &std::fs::read_to_string("scenarios/conformance/resend.yaml").unwrap(),
        "resend.yaml",
    )
    .unwrap();
    assert_eq!(parsed[0].name, finished[0].name);
    assert_eq!(parsed[0].steps.len(), finished[0].steps.len());
}

#[test]
fn the_check_counterexample_example_is_a_valid_scenario() {
    let scenario = block_after(&readme(), "**Replaying it in CI.**", "```yaml\n");
    let scenarios = otpbench::scenario::load::parse(&scenario, "README.md").unwrap();
    assert_eq!(scenarios[0].steps.len(), 3);
}
