//! `${env.NAME}` and `${var.NAME}` (docs/variables.md): a target file that
//! reads its token from the environment runs with it set, stops with exit
//! 2 at the reference's line when it is not, and the token's value reaches
//! no output of `run`, `load` or `capacity`: not the terminal, not
//! `--verbose`, not JUnit, not JSON, not a file of a load report. The binary runs as a
//! child process so each run has an environment of its own.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::support::process::{finish, otpbench, ServeProcess};

/// The token: unlike anything otpbench prints by itself.
const TOKEN: &str = "tok-7f3a9c51e2d84b06";
/// A value given with `--var` (and one with `--vars-file`).
const GIVEN: &str = "given-41c0de55";
const FROM_FILE: &str = "filed-93be7a10";

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otpbench-vars-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `otpbench ARGS…` with `OTP_TOKEN` set to `token` (or unset).
fn otpbench_with(token: Option<&str>, args: &[&str]) -> Output {
    let mut command = otpbench();
    command
        .args(args)
        .env_remove("OTP_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("OTP_TOKEN", token);
    }
    finish(
        command.spawn().expect("otpbench starts"),
        Duration::from_secs(120),
    )
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Every file under `dir`, as text, with its path.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    found
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [TOKEN, GIVEN, FROM_FILE] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

#[test]
fn a_token_from_the_environment_is_used_required_and_never_shown() {
    let dir = tempdir();
    // The engine accepts only the token, so a passing case proves it was
    // read from the environment and sent.
    let config = write(
        &dir,
        "otpbench.yaml",
        &format!("native: {{ bearer: {TOKEN} }}\n"),
    );
    let server = ServeProcess::start(&["--test-mode", "--echo-codes", "--config", &config]);
    let target = write(
        &dir,
        "staging.yaml",
        &format!(
            "# The staging service; its token comes from the CI's secrets.\n\
             dialect: native\n\
             name: staging-${{var.REGION}}\n\
             base_url: http://{}\n\
             code_source: echo\n\
             clock: admin\n\
             auth:\n  bearer: ${{env.OTP_TOKEN}}\n",
            server.addr
        ),
    );
    let vars_file = write(
        &dir,
        "vars.env",
        &format!("# for ${{var.…}}\nSALT={FROM_FILE}\n"),
    );
    // A scenario that puts the token in a header, the URL and an
    // expectation that fails, so every part of a failure report has it.
    let leaky = write(
        &dir,
        "leaky.yaml",
        "name: a failing step that carries the token everywhere\n\
         dialects: [native]\n\
         steps:\n\
         \x20 - http:\n\
         \x20     path: /v1/otp/send?key=${env.OTP_TOKEN}&salt=${var.SALT}\n\
         \x20     auth: true\n\
         \x20     headers: { X-Api-Key: \"${env.OTP_TOKEN}\" }\n\
         \x20     json: { to: \"${phone}\", purpose: \"login\" }\n\
         \x20   expect: { status: 599, body: \"answer ${env.OTP_TOKEN} ${var.REGION}\" }\n",
    );
    let junit = dir.join("junit.xml");
    let json = dir.join("run.json");
    let happy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/conformance/happy_path.yaml"
    );
    let run_args = [
        "run",
        happy,
        &leaky,
        "--target",
        &target,
        "--verbose",
        "--jobs",
        "1",
        "--var",
        &format!("REGION={GIVEN}"),
        "--vars-file",
        &vars_file,
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];

    let run = otpbench_with(Some(TOKEN), &run_args);
    let shown = text(&run);
    assert_eq!(run.status.code(), Some(4), "{shown}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().expect("cases");
    let status = |name: &str| {
        cases
            .iter()
            .find(|c| c["scenario"].as_str().is_some_and(|s| s.contains(name)))
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no case {name}: {report:#}"))
    };
    assert_eq!(status("a sent code verifies"), "passed", "{report:#}");
    assert_eq!(status("carries the token"), "failed", "{report:#}");
    // What was masked is still shown as masked, in place.
    assert!(shown.contains("staging-***"), "{shown}");
    assert!(shown.contains("answer *** ***"), "{shown}");
    assert_no_secret("run's output", &shown);
    assert_no_secret("JUnit", &std::fs::read_to_string(&junit).unwrap());
    assert_no_secret("the JSON report", &std::fs::read_to_string(&json).unwrap());

    // Unset: exit 2 at the reference, before anything is sent.
    let unset = otpbench_with(None, &run_args);
    let said = text(&unset);
    assert_eq!(unset.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("{target}:8:11")), "{said}");
    assert!(said.contains("`${env.OTP_TOKEN}` is not set"), "{said}");
    assert!(said.contains("bearer: ${env.OTP_TOKEN}"), "{said}");

    // A load run against the same target: its terminal output and every
    // file of its report.
    let workload = write(
        &dir,
        "workload.yaml",
        "target: staging.yaml\nrate: ${var.RATE}\nduration: 1s\n",
    );
    let reports = dir.join("load");
    let load = otpbench_with(
        Some(TOKEN),
        &[
            "load",
            "--workload",
            &workload,
            "--workers",
            "1",
            "--var",
            &format!("REGION={GIVEN}"),
            "--var",
            "RATE=20",
            "--vars-file",
            &vars_file,
            "--report",
            reports.to_str().unwrap(),
        ],
    );
    let shown = text(&load);
    assert_eq!(load.status.code(), Some(0), "{shown}");
    assert_no_secret("load's output", &shown);
    let files = files_under(&reports);
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["report.json", "report.html", "summary.md", "send.hgrm"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for (path, contents) in &files {
        assert_no_secret(&path.display().to_string(), contents);
    }
    let report = std::fs::read_to_string(reports.join("report.json")).unwrap();
    // A number from --var is a number: 20 arrivals a second for 1 s.
    assert!(report.contains("\"rate_rps\": 20.0"), "{report}");
    // The command line it records is masked, not dropped.
    assert!(report.contains("\"REGION=***\""), "{report}");

    // capacity: one short step, the same masking.
    let steps = dir.join("capacity");
    let capacity = otpbench_with(
        Some(TOKEN),
        &[
            "capacity",
            "--target",
            &target,
            "--slo",
            "send.p99<10s",
            "--start-rate",
            "10",
            "--max-steps",
            "1",
            "--step-duration",
            "1s",
            "--workers",
            "1",
            "--var",
            &format!("REGION={GIVEN}"),
            "--vars-file",
            &vars_file,
            "--report",
            steps.to_str().unwrap(),
        ],
    );
    let shown = text(&capacity);
    assert_eq!(capacity.status.code(), Some(0), "{shown}");
    assert_no_secret("capacity's output", &shown);
    let files = files_under(&steps);
    assert!(files.len() >= 4, "{files:?}");
    for (path, contents) in &files {
        assert_no_secret(&path.display().to_string(), contents);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_vars_file_or_flag_is_refused_with_its_place() {
    let dir = tempdir();
    let vars_file = write(&dir, "vars.env", "OK=1\nnot a pair\n");
    let out = otpbench_with(None, &["run", "--list", "--vars-file", &vars_file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{vars_file}:2:1")),
        "{}",
        text(&out)
    );
    let out = otpbench_with(
        None,
        &[
            "load",
            "--dialect",
            "native",
            "--rate",
            "1",
            "--var",
            "A-B=1",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--var"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fenced block after `heading` in `text`.
fn block_after(text: &str, heading: &str, fence: &str) -> String {
    let rest = &text[text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"))..];
    let open = rest.find(fence).expect("a fenced block") + fence.len();
    let close = rest[open..].find("```").expect("a closing fence");
    rest[open..open + close].to_string()
}

/// docs/variables.md and the README's section: the target examples read
/// with their variables set, the vars file reads, the commands parse.
#[test]
fn the_documented_examples_hold() {
    use clap::Parser;
    use otpbench::client::TargetSpec;
    use otpbench::vars::{parse_vars_file, Strings, Vars};
    let root = env!("CARGO_MANIFEST_DIR");
    let docs = std::fs::read_to_string(format!("{root}/docs/variables.md")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let environment = [
        ("OTP_TOKEN", "tok-123456"),
        ("OTP_BASE_URL", "https://otp.staging.example.com"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into_iter()
    .collect();
    let given = [("REGION".to_string(), "eu-west".to_string())]
        .into_iter()
        .collect();
    let vars = Vars::with_environment(given, Some(environment));
    for (text, heading) in [
        (&docs, "# Variables"),
        (&readme, "## Variables and secrets"),
    ] {
        let yaml = block_after(text, heading, "```yaml\n");
        let expanded = vars
            .expand(&yaml, "staging.yaml", Strings::Literal)
            .unwrap();
        let spec = TargetSpec::parse(&expanded, "staging.yaml").unwrap();
        assert_eq!(spec.credentials.bearer, "tok-123456", "{heading}");
        let commands = block_after(text, heading, "```sh\n");
        let mut parsed = 0;
        for line in commands.lines() {
            let Some(at) = line.find("otpbench ") else {
                continue;
            };
            let line = line[at..].split('#').next().unwrap();
            let words = crate::support::process::shell_words(line);
            if let Err(e) = otpbench::cli::Cli::try_parse_from(&words) {
                panic!("{heading}: {line}\n{e}");
            }
            parsed += 1;
        }
        assert!(parsed >= 1, "{heading}: {commands}");
    }
    let file = block_after(&docs, "## A vars file", "```\n");
    let given = parse_vars_file(&file, "ci.env").unwrap();
    assert_eq!(given["API_KEY"], "abc=def \"quoted\"");
    let error = block_after(&docs, "## When a value is missing", "```\n");
    let environment = [("OTP_BASE_URL".to_string(), "https://x".to_string())];
    let vars = Vars::with_environment(Default::default(), Some(environment.into_iter().collect()));
    let yaml = block_after(&docs, "# Variables", "```yaml\n");
    let rendered = vars
        .expand(&yaml, "staging.yaml", Strings::Literal)
        .unwrap_err()
        .render();
    assert_eq!(format!("error: {rendered}\n"), error);
}
