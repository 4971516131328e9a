//! `otpbench report merge|compare|html`: the library commands return what
//! they made (or why not) as data, and the command line prints it with the
//! documented exit codes (0 ok, 1 usage, 2 invalid report file, 5 gate
//! breached).

use std::path::Path;

use clap::Parser;
use otpbench::cli::{exit, Cli, Command};
use otpbench::report::commands::{self, CommandError, HtmlOptions, MergeOptions};
use otpbench::report::{dir, json};

use crate::report_files::{part_a, part_b};
use crate::support::reports::{report, TempDir};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `otpbench report ARGS…` as main.rs runs it: exit code, stdout, stderr.
fn report_cli(args: &[&str]) -> (i32, String, String) {
    let cli = Cli::try_parse_from(["otpbench", "report"].iter().chain(args)).unwrap();
    let Command::Report(report) = cli.command else {
        panic!("not report")
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = report.run(&mut out, &mut err);
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (code, text(out), text(err))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn commands_exit_with_their_documented_codes() {
    let temp = TempDir::new("report-commands");
    let a = dir::write(
        &report(4, &["send", "verify"], &part_a()),
        &temp.0,
        Some("a"),
    )
    .unwrap();
    let b = dir::write(
        &report(4, &["send", "verify"], &part_b()),
        &temp.0,
        Some("b"),
    )
    .unwrap();
    let b_file = b.join("report.json");
    let merge = |name: &str, gate: &str| {
        report_cli(&[
            "merge",
            path(&a),
            path(&b_file),
            "--out",
            path(&temp.0),
            "--name",
            name,
            "--threshold",
            gate,
        ])
    };
    let (code, printed, _) = merge("m", "send.count>1000");
    assert_eq!(code, exit::GATE, "{printed}");
    assert!(printed.contains("FAIL send.count>1000: 720"), "{printed}");
    assert!(printed.contains("1 gate(s) breached"), "{printed}");
    let merged = json::read(&temp.0.join("m")).unwrap();
    assert_eq!(merged.requests, 1133);
    assert_eq!(merged.gates.len(), 1);
    let (code, printed, _) = merge("m2", "send.count>100");
    assert_eq!(code, exit::OK, "{printed}");
    assert!(
        printed.starts_with("merged 2 reports: 1133 requests"),
        "{printed}"
    );

    // B's verify is far slower than A's: a regression past 10%.
    let (code, table, _) = report_cli(&["compare", path(&a), path(&b)]);
    assert_eq!(code, exit::OK);
    assert!(table.contains("| verify.p99 | 9.01ms |"), "{table}");
    assert!(
        table.contains("| send.rate_limited | 4.76% | 0.00% |"),
        "{table}"
    );
    let (code, _, _) = report_cli(&["compare", path(&a), path(&b), "--max-regression", "10%"]);
    assert_eq!(code, exit::GATE);
    let (code, _, _) = report_cli(&["compare", path(&a), path(&a), "--max-regression", "0%"]);
    assert_eq!(code, exit::OK);

    let page = temp.0.join("page.html");
    let (code, printed, _) = report_cli(&["html", path(&a), "--out", path(&page)]);
    assert_eq!(code, exit::OK);
    assert!(read(&page).contains("<svg"));
    assert_eq!(printed.trim(), page.display().to_string());
}

#[test]
fn an_invalid_report_is_exit_2_naming_the_file() {
    let temp = TempDir::new("report-commands-bad");
    let bad = temp.0.join("other.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    for input in [bad.clone(), temp.0.join("missing.json")] {
        let (code, _, message) = report_cli(&["html", path(&input)]);
        assert_eq!(code, exit::INVALID_FILE);
        assert!(message.starts_with("error: "), "{message}");
        assert!(message.contains(&input.display().to_string()), "{message}");
        let (code, _, _) = report_cli(&["compare", path(&input), path(&input)]);
        assert_eq!(code, exit::INVALID_FILE);
        let error = commands::html(&HtmlOptions { input, out: None }).unwrap_err();
        assert!(matches!(error, CommandError::InvalidReport(_)), "{error}");
    }
    let options = MergeOptions {
        inputs: vec![],
        out: temp.0.clone(),
        name: None,
        gates: vec![],
    };
    let error = commands::merge(&options).unwrap_err();
    assert_eq!(error, CommandError::NoInput);
    assert_eq!(otpbench::cli::report::exit_code(&error), exit::USAGE);
}
