//! `otpbench report merge|compare|html` as library commands: their output
//! and their documented exit codes (0 ok, 1 usage, 2 invalid report file,
//! 5 gate breached).

use otpbench::cli::exit;
use otpbench::report::commands::{self, CompareOptions, HtmlOptions, MergeOptions};
use otpbench::report::{dir, json, Gate};

use crate::report_files::{part_a, part_b};
use crate::support::reports::{report, TempDir};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let merge_into = |name: &str, gates: &[&str]| MergeOptions {
        inputs: vec![a.clone(), b.join("report.json")],
        out: temp.0.clone(),
        name: Some(name.into()),
        gates: Gate::parse_all(gates).unwrap(),
    };
    let code = commands::merge(&merge_into("m", &["send.count>1000"]), &mut out, &mut err);
    let printed = String::from_utf8_lossy(&out).to_string();
    assert_eq!(code, exit::GATE, "{printed}");
    assert!(printed.contains("FAIL send.count>1000: 720"), "{printed}");
    let merged = json::read(&temp.0.join("m")).unwrap();
    assert_eq!(merged.requests, 1133);
    assert_eq!(merged.gates.len(), 1);
    out.clear();
    let code = commands::merge(&merge_into("m2", &["send.count>100"]), &mut out, &mut err);
    assert_eq!(code, exit::OK);

    // B's verify is far slower than A's: a regression past 10%.
    out.clear();
    let compare = |max_regression| CompareOptions {
        a: a.clone(),
        b: b.clone(),
        max_regression,
    };
    assert_eq!(
        commands::compare(&compare(None), &mut out, &mut err),
        exit::OK
    );
    let table = String::from_utf8_lossy(&out).to_string();
    assert!(table.contains("| verify.p99 | 9.01ms |"), "{table}");
    assert!(
        table.contains("| send.rate_limited | 4.76% | 0.00% |"),
        "{table}"
    );
    assert_eq!(
        commands::compare(&compare(Some(0.1)), &mut out, &mut err),
        exit::GATE
    );
    let same = CompareOptions {
        a: a.clone(),
        b: a.clone(),
        max_regression: Some(0.0),
    };
    assert_eq!(commands::compare(&same, &mut out, &mut err), exit::OK);

    out.clear();
    let page = temp.0.join("page.html");
    let options = HtmlOptions {
        input: a.clone(),
        out: Some(page.clone()),
    };
    assert_eq!(commands::html(&options, &mut out, &mut err), exit::OK);
    assert!(read(&page).contains("<svg"));
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        page.display().to_string()
    );
}

#[test]
fn an_invalid_report_is_exit_2_naming_the_file() {
    let temp = TempDir::new("report-commands-bad");
    let path = temp.0.join("other.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    for input in [path.clone(), temp.0.join("missing.json")] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let options = HtmlOptions {
            input: input.clone(),
            out: None,
        };
        assert_eq!(
            commands::html(&options, &mut out, &mut err),
            exit::INVALID_FILE
        );
        let message = String::from_utf8_lossy(&err).to_string();
        assert!(message.starts_with("error: "), "{message}");
        assert!(message.contains(&input.display().to_string()), "{message}");
        let options = CompareOptions {
            a: input.clone(),
            b: input.clone(),
            max_regression: None,
        };
        assert_eq!(
            commands::compare(&options, &mut out, &mut err),
            exit::INVALID_FILE
        );
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let options = MergeOptions {
        inputs: vec![],
        out: temp.0.clone(),
        name: None,
        gates: vec![],
    };
    assert_eq!(commands::merge(&options, &mut out, &mut err), exit::USAGE);
}
