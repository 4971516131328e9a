//! `otpbench load --soak` as a user runs it: windows of one model, each
//! with the footprint of this process and of a watched one, and the
//! trends fitted through them in `soak.json`. Runs are a few seconds,
//! loopback, and stop by themselves.

use std::time::Duration;

use otpbench::report::json;
use serde_json::Value;

use crate::support::process::{run, ServeProcess};
use crate::support::reports::TempDir;

const LIMIT: Duration = Duration::from_secs(90);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_soak_reports_each_window_and_the_trends_through_them() {
    let watched = ServeProcess::start(&[]);
    let dir = TempDir::new("soak");
    let out = dir.0.join("run");
    let watch = format!("server={}", watched.pid());
    let output = run(
        &[
            "load",
            "--dialect",
            "native",
            "--rate",
            "40",
            "--duration",
            "4s",
            "--soak",
            "1s",
            "--watch-pid",
            &watch,
            "--quiet",
            "--report",
            out.to_str().unwrap(),
        ],
        LIMIT,
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    // Each window's row as it ends, then the verdicts.
    assert_eq!(text(&output.stderr).matches("soak ").count(), 4);
    assert!(stdout.contains("otpbench rss_bytes"), "{stdout}");

    let soak: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("soak.json")).unwrap()).unwrap();
    let windows = soak["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 4);
    let mut requests = 0;
    for window in windows {
        requests += window["requests"].as_u64().unwrap();
        for process in ["otpbench", "server"] {
            let footprint = &window["processes"][process];
            assert!(
                footprint["rss_bytes"].as_u64().unwrap() > 1 << 20,
                "{window}"
            );
            assert!(footprint["fds"].as_u64().unwrap() >= 3, "{window}");
        }
        for op in ["send", "code", "verify"] {
            assert!(window["p99_us"][op].as_u64().unwrap() > 0, "{window}");
        }
    }
    assert_eq!(soak["warmup_windows"], 1);
    let figures: Vec<&str> = soak["trends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["figure"].as_str().unwrap())
        .collect();
    for figure in ["otpbench rss_bytes", "server fds", "send p99_us"] {
        assert!(figures.contains(&figure), "{figures:?}");
    }
    // The windows together are the run's report.
    let report = json::read(&out.join("report.json")).unwrap();
    assert_eq!(report.requests, requests);
    // Each window ends with its last arrival, a little short of its
    // length; four of them make nearly four seconds.
    assert!(report.duration_s >= 3.9, "{}", report.duration_s);
}

#[test]
fn a_soak_refuses_what_it_cannot_hold_steady() {
    for (args, says) in [
        (
            &["--rate", "5", "--stage", "2s:10/s", "--soak", "1s"][..],
            "--stage",
        ),
        (
            &["--rate", "5", "--soak", "1s", "--watch-pid", "engine"],
            "NAME=PID",
        ),
        (&["--rate", "5", "--watch-pid", "engine=1"], "--soak"),
    ] {
        let mut all = vec!["load", "--dialect", "native", "--quiet"];
        all.extend_from_slice(args);
        let output = run(&all, LIMIT);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            text(&output.stderr).contains(says),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
}
