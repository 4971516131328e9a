//! What a user writes for `otpbench load`, as file pairs in the manner of
//! `tests/scenarios/`: workload files under `tests/files/workload/` that
//! must be refused, each with the error next to it (`.err`: the place, the
//! line, a caret and any hint; exit 2), and gates under
//! `tests/files/gates/` (`.gates`: one expression a line) with the
//! verdicts they print next to them (`.out`; exit 5 when one broke), run
//! by the binary from the crate root. `OTPBENCH_BLESS=1` rewrites the
//! `.out` files from what the binary printed (review the diff).

use otpbench::report::dir;

use crate::report_files::part_a;
use crate::support::pairs::{at_root as otpbench, expected, files, relative};
use crate::support::reports::{report, TempDir};

#[test]
fn invalid_workload_files_are_refused_at_their_position() {
    for file in files("tests/files/workload", "yaml") {
        let out = otpbench()
            .args(["load", "--workload", &relative(&file)])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(out.stdout.is_empty(), "{}: ran something", file.display());
        assert_eq!(stderr, expected(&file, "err"), "{}", file.display());
    }
}

/// A closed model from the flag, rate stages from the file: the file's
/// stage is at fault, and placed.
#[test]
fn a_files_rate_stage_under_a_closed_model_flag_is_placed() {
    let out = otpbench()
        .args([
            "load",
            "--workload",
            "scenarios/load/otp-login.yaml",
            "--concurrency",
            "4",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: scenarios/load/otp-login.yaml:")
            && stderr.contains("is not a whole number of connections")
            && stderr.contains('^'),
        "{stderr}"
    );
}

#[test]
fn gates_print_their_verdicts_and_a_breach_exits_5() {
    let temp = TempDir::new("gate-files");
    let run = dir::write(
        &report(4, &["send", "verify"], &part_a()),
        &temp.0,
        Some("run"),
    )
    .unwrap();
    for (i, file) in files("tests/files/gates", "gates").into_iter().enumerate() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut command = otpbench();
        command
            .args(["report", "merge"])
            .arg(&run)
            .arg("--out")
            .arg(&temp.0)
            .args(["--name", &format!("merged-{i}")]);
        for gate in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            command.args(["--threshold", gate]);
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The first line says where the merged run went.
        let verdicts: String = stdout.lines().skip(1).map(|l| format!("{l}\n")).collect();
        if std::env::var_os("OTPBENCH_BLESS").is_some() {
            std::fs::write(file.with_extension("out"), &verdicts).unwrap();
        }
        let expected = expected(&file, "out");
        assert_eq!(verdicts, expected, "{}", file.display());
        let breached = expected.contains("breached");
        assert_eq!(
            out.status.code(),
            Some(if breached { 5 } else { 0 }),
            "{}: {stdout}",
            file.display()
        );
    }
}
