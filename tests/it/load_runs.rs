//! `otpbench load`, `capacity` and `report merge` as a user runs them:
//! the binary against a loopback `otpbench serve` (or the embedded
//! engine), its exit codes, and the reports it writes — each checked
//! against the schema. Runs are short and bounded; every server is a
//! child killed at the end.

use std::time::Duration;

use hdrhistogram::Histogram;
use otpbench::report::{json, Report};

use crate::support::process::{otpbench, run, shell_words, signal, ServeProcess};
use crate::support::reports::{assert_matches_schema, TempDir};

/// Reads a run directory's report, checking it against the schema.
fn report(dir: &std::path::Path) -> Report {
    let text = std::fs::read_to_string(dir.join("report.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_matches_schema(&text);
    json::from_json(&text, "report.json").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const LIMIT: Duration = Duration::from_secs(60);

/// Waits (at most `limit`) until the server at `base` (`http://ADDR`)
/// holds `count` established TCP connections, read from
/// `/proc/net/tcp`; the caller goes on either way.
fn wait_for_connections(base: &str, count: usize, limit: Duration) {
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let local = format!(":{port:04X}");
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let established = table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "01"
            })
            .count();
        if established >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 200/s for 6 s through 4 connections, with the server stopped
/// (SIGSTOP) for 2 s from about 1 s into the run: a third of the
/// arrivals wait for it.
#[test]
fn a_frozen_server_shows_in_the_corrected_p99_and_not_in_the_median() {
    let server = ServeProcess::start(&[]);
    let dir = TempDir::new("frozen");
    let before = std::time::SystemTime::now();
    let out = dir.0.join("run");
    let load = otpbench()
        .args(["load", "--url", &server.url("/healthz"), "--rate", "200"])
        .args([
            "--duration",
            "6s",
            "--connections",
            "4",
            "--workers",
            "1",
            "-q",
        ])
        .arg("--report")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Freeze once the run is under way, however long the generator took
    // to start on a busy machine: its lanes are connected, and a second
    // of load has gone by.
    wait_for_connections(&server.url(""), 4, LIMIT);
    std::thread::sleep(Duration::from_secs(1));
    signal(server.pid(), "STOP");
    std::thread::sleep(Duration::from_secs(2));
    signal(server.pid(), "CONT");
    let output = crate::support::process::finish(load, LIMIT);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = report(&out);
    // The run is stamped with when it started, not when it ended: 6 s of
    // load after the moment the command was started.
    let started = humantime::parse_rfc3339(&report.run.started_at).unwrap();
    let ended = started + Duration::from_secs_f64(report.duration_s);
    assert!(started >= before, "{}", report.run.started_at);
    assert!(
        ended <= std::time::SystemTime::now(),
        "{}",
        report.run.started_at
    );
    let http = &report.operations["http"];
    // Every arrival of the schedule is measured, answered late or not.
    assert_eq!(http.count, 1200, "{:?}", http.outcomes);
    assert_eq!(http.outcomes.get("200"), Some(&1200));
    let (latency, service) = (http.latency_us, http.service_time_us);
    // The median user never saw the freeze; the 99th percentile waited
    // most of it, from the moment they were meant to be served.
    assert!(latency.p50 < 200_000, "{latency:?}");
    assert!(latency.p99 > 1_500_000, "{latency:?}");
    assert!(latency.max > 1_800_000, "{latency:?}");
    // Measured from when a connection was free to send — what a
    // closed-loop tool reports — only the 4 requests caught in flight
    // saw it: the tail looks healthy.
    assert!(service.max > 1_500_000, "{service:?}");
    assert!(service.p99 * 10 < latency.p99, "{service:?} vs {latency:?}");
    // And the series shows the second in which nothing was answered.
    assert!(
        report.series.iter().any(|row| row.requests == 0),
        "{:?}",
        report.series
    );
}

/// Two generators (`--shard 0/2` and `1/2`) load one server's OTP flow at
/// once; `report merge` adds them up exactly.
#[test]
fn two_sharded_processes_merge_into_one_run() {
    let server = ServeProcess::start(&["--test-mode", "--echo-codes"]);
    let dir = TempDir::new("shards");
    let target = dir.0.join("native.yaml");
    std::fs::write(
        &target,
        format!(
            "dialect: native\nbase_url: {}\ncode_source: echo\n",
            server.url("")
        ),
    )
    .unwrap();
    let shard = |i: u32| {
        let out = dir.0.join(format!("shard-{i}"));
        let child = otpbench()
            .args(["load", "--target"])
            .arg(&target)
            .args(["--rate", "100", "--duration", "2s", "--pool", "100", "-q"])
            .args(["--shard", &format!("{i}/2"), "--report"])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        (child, out)
    };
    let (first, second) = (shard(0), shard(1));
    for child in [first.0, second.0] {
        let output = crate::support::process::finish(child, LIMIT);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let shards = [report(&first.1), report(&second.1)];
    for (i, shard) in shards.iter().enumerate() {
        assert_eq!(shard.run.shard.as_deref(), Some(&*format!("{i}/2")));
        // Half the schedule each, and no identifier shared with the other
        // shard: every flow's code verifies.
        assert_eq!(shard.operations["send"].count, 100, "{i}");
        assert_eq!(shard.outcome_count("send", "sent"), Some(100));
        assert_eq!(shard.outcome_count("verify", "verified"), Some(100));
    }
    let merged_dir = dir.0.join("merged");
    let merge = run(
        &[
            "report",
            "merge",
            first.1.to_str().unwrap(),
            second.1.to_str().unwrap(),
            "--out",
            dir.0.to_str().unwrap(),
            "--name",
            "merged",
        ],
        LIMIT,
    );
    assert_eq!(merge.status.code(), Some(0), "{}", text(&merge.stderr));
    let merged = report(&merged_dir);
    assert_eq!(merged.requests, shards[0].requests + shards[1].requests);
    for op in ["send", "verify"] {
        let [a, b] = [&shards[0].operations[op], &shards[1].operations[op]];
        let sum = &merged.operations[op];
        assert_eq!(sum.count, a.count + b.count, "{op}");
        // Percentiles come from the sum of the histograms, not from
        // averaging the shards' percentiles.
        let mut histogram: Histogram<u64> = a.histogram.0.clone();
        histogram.add(&b.histogram.0).unwrap();
        assert_eq!(
            sum.latency_us.p99,
            histogram.value_at_quantile(0.99),
            "{op}"
        );
        assert_eq!(sum.latency_us.p50, histogram.value_at_quantile(0.5), "{op}");
        assert_eq!(sum.latency_us.max, a.latency_us.max.max(b.latency_us.max));
    }
}

#[test]
fn breached_gates_exit_5_naming_the_gate_and_held_gates_exit_0() {
    let server = ServeProcess::start(&[]);
    let dir = TempDir::new("gates");
    let url = server.url("/healthz");
    let load = |name: &str, extra: &[&str]| {
        let out = dir.0.join(name);
        let mut args = vec![
            "load",
            "--url",
            &url,
            "--rate",
            "100",
            "--duration",
            "1s",
            "-q",
        ];
        args.extend(["--report", out.to_str().unwrap()]);
        args.extend(extra);
        let output = run(&args, LIMIT);
        (output, out)
    };
    let (held, held_dir) = load(
        "held",
        &[
            "--threshold",
            "http.count>=100",
            "--threshold",
            "errors<1%",
            "--reference-url",
            "/healthz",
            "--threshold",
            "throughput/reference>0.5",
        ],
    );
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stderr));
    let stdout = text(&held.stdout);
    assert!(stdout.contains("ok   throughput/reference>0.5"), "{stdout}");
    let held_report = report(&held_dir);
    assert_eq!(held_report.gates.len(), 3);
    assert!(held_report.reference.is_some());

    let (broken, broken_dir) = load("broken", &["--threshold", "http.p99<1us"]);
    assert_eq!(broken.status.code(), Some(5), "{}", text(&broken.stderr));
    let stdout = text(&broken.stdout);
    assert!(
        stdout.contains("FAIL http.p99<1us") && stdout.contains("BROKEN by"),
        "{stdout}"
    );
    assert!(!report(&broken_dir).gates[0].passed);

    // A baseline that did a thousand times more: the throughput gate breaks.
    let mut faster = held_report.clone();
    faster.throughput_rps *= 1000.0;
    let baseline = dir.0.join("faster.json");
    std::fs::write(&baseline, json::to_json(&faster)).unwrap();
    let (slower, _) = load(
        "slower",
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--max-regression",
            "10%",
        ],
    );
    assert_eq!(slower.status.code(), Some(5), "{}", text(&slower.stderr));
    let stdout = text(&slower.stdout);
    assert!(
        stdout.contains("FAIL throughput within -10% of baseline"),
        "{stdout}"
    );
    // Against itself, with room for a loaded machine's noise, it holds.
    let (same, _) = load(
        "same",
        &[
            "--baseline",
            held_dir.to_str().unwrap(),
            "--max-regression",
            "5000%",
        ],
    );
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
}

#[test]
fn an_unreachable_target_exits_3_and_bad_flags_exit_1() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://{addr}/");
    let output = run(
        &["load", "--url", &url, "--rate", "10", "--duration", "1s"],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("unreachable") && stderr.contains(&addr.to_string()),
        "{stderr}"
    );
    for args in [
        &["load", "--url", &url][..],
        &["load", "--url", &url, "--rate", "5", "--concurrency", "5"],
        &[
            "load",
            "--url",
            &url,
            "--rate",
            "5",
            "--threshold",
            "http.p99<5",
        ],
        &["capacity", "--url", &url],
    ] {
        let output = run(args, LIMIT);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    for missing in ["--target", "--workload"] {
        let output = run(
            &["load", missing, "/nonexistent/x.yaml", "--rate", "5"],
            LIMIT,
        );
        assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
        assert!(text(&output.stderr).contains("/nonexistent/x.yaml"));
    }
}

/// The embedded engine's OTP flow, with a pool so small that the send
/// limit (5 per hour) answers half the sends: those are `rate_limited`,
/// counted by name, not errors.
#[test]
fn otp_flows_are_tallied_the_dialects_way() {
    let dir = TempDir::new("flow");
    let out = dir.0.join("run");
    let output = run(
        &[
            "load",
            "--dialect",
            "native",
            "--rate",
            "50",
            "--duration",
            "1s",
            "--pool",
            "5",
            "--workers",
            "1",
            "--wrong-code-ratio",
            "0.5",
            "-q",
            "--report",
            out.to_str().unwrap(),
            "--threshold",
            "send.rate_limited<=50%",
        ],
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report = report(&out);
    assert_eq!(report.run.dialect.as_deref(), Some("native"));
    assert_eq!(report.outcome_count("send", "sent"), Some(25));
    assert_eq!(report.outcome_count("send", "rate_limited"), Some(25));
    // The embedded target reads codes from the provider's journal.
    assert_eq!(report.outcome_count("code", "200"), Some(25));
    let verify = &report.operations["verify"];
    assert_eq!(verify.count, 25);
    let wrong = verify.outcomes.get("wrong_code").copied().unwrap_or(0);
    assert!((5..=20).contains(&wrong), "{:?}", verify.outcomes);
    assert_eq!(
        verify.outcomes.get("verified").copied().unwrap_or(0) + wrong,
        25,
        "{:?}",
        verify.outcomes
    );
    assert_eq!(report.errors, 0);
}

#[test]
fn capacity_reports_the_highest_rate_that_held_with_its_evidence() {
    let server = ServeProcess::start(&[]);
    let dir = TempDir::new("capacity");
    let url = server.url("/healthz");
    let capacity = |name: &str, slo: &str| {
        let out = dir.0.join(name);
        let output = run(
            &[
                "capacity",
                "--url",
                &url,
                "--slo",
                slo,
                "--start-rate",
                "50",
                "--max-rate",
                "100",
                "--step-duration",
                "1s",
                "--max-steps",
                "2",
                "-q",
                "--report",
                out.to_str().unwrap(),
            ],
            LIMIT,
        );
        (output, out)
    };
    let (held, out) = capacity("held", "http.p99<5s");
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stderr));
    let stdout = text(&held.stdout);
    assert!(
        stdout.contains("highest sustainable rate: 100.0/s"),
        "{stdout}"
    );
    let found = report(&out);
    let steps = &found.capacity.as_ref().unwrap().steps;
    assert_eq!(
        steps.iter().map(|s| s.rate_rps).collect::<Vec<_>>(),
        [50.0, 100.0]
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "the latency-vs-rate plot");

    let (never, out) = capacity("never", "http.p99<1us");
    assert_eq!(never.status.code(), Some(5), "{}", text(&never.stderr));
    assert!(text(&never.stdout).contains("no rate met the SLO"));
    assert_eq!(report(&out).capacity.unwrap().max_sustainable_rps, None);
}

/// Every example under `scenarios/load/` reads and makes a valid run.
#[test]
fn the_workload_files_under_scenarios_load_are_valid() {
    use clap::Parser;
    use otpbench::cli::{Cli, Command};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/load");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let cli = Cli::try_parse_from(["otpbench", "load", "--workload", path.to_str().unwrap()])
            .unwrap();
        let Command::Load(args) = cli.command else {
            panic!("not load")
        };
        if let Err(error) = args.options() {
            panic!("{}: {error}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 3, "{seen} workload files");
}

/// deploy/load-job.yaml: its target parses, and the command its pods and
/// the merge Job run is one the CLI accepts.
#[test]
fn the_kubernetes_manifests_run_what_the_cli_accepts() {
    use clap::Parser;
    use otpbench::cli::Cli;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut commands = Vec::new();
    for file in ["deploy/load-job.yaml", "deploy/merge-job.yaml"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = <serde_yaml::Value as serde::Deserialize>::deserialize(document).unwrap();
            if let Some(target) = value["data"]["target.yaml"].as_str() {
                otpbench::client::TargetSpec::parse(target, file).unwrap();
            }
            let containers = &value["spec"]["template"]["spec"]["containers"];
            for container in containers.as_sequence().into_iter().flatten() {
                let script = container["args"][0].as_str().unwrap();
                commands.push(
                    script
                        .replace("$JOB_COMPLETION_INDEX", "0")
                        .replace("$RUN", "run"),
                );
            }
        }
    }
    assert_eq!(commands.len(), 2);
    for command in commands {
        let words = shell_words(command.trim_start_matches("exec "));
        assert!(Cli::try_parse_from(&words).is_ok(), "{words:?}");
    }
}
