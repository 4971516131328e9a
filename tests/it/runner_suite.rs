//! The conformance suite that ships in `scenarios/` (issue 14): it passes
//! against the reference engine in all six dialects, on the memory store
//! and on Redis, and adapts to targets whose policy differs from the
//! reference (`scenarios/targets/examples/`) — their policy configures
//! the embedded engine — running what their policy and capabilities allow
//! and skipping the rest with the reason. Runs in-process through the
//! CLI's `run`.

use crate::runner_targets::run;
use crate::support::redis::RedisServer;

fn path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// Passed, failed and skipped cases from the summary line.
fn summary(out: &str) -> (usize, usize, usize) {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary in:\n{out}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

fn assert_every_dialect_passes(out: &str) {
    for dialect in [
        "native",
        "rees46",
        "sigmasms",
        "valify",
        "nomado",
        "loyaltydog",
    ] {
        let passed = out
            .lines()
            .filter(|l| l.starts_with("ok ") && l.contains(&format!("[{dialect}]")))
            .count();
        assert!(passed >= 25, "{dialect}: {passed} cases passed\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_suite_passes_in_every_dialect() {
    let scenarios = path("scenarios");
    let (code, out) = run(&[&scenarios]).await;
    assert_eq!(code, 0, "{out}");
    let (passed, failed, _) = summary(&out);
    assert_eq!(failed, 0, "{out}");
    assert!(passed >= 150, "{out}");
    assert_every_dialect_passes(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_suite_passes_on_redis() {
    let redis = RedisServer::start();
    let scenarios = path("scenarios");
    let (code, out) = run(&[&scenarios, "--store", &redis.url]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(summary(&out).1, 0, "{out}");
    assert_every_dialect_passes(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_adapts_to_targets_that_differ_from_the_reference() {
    let scenarios = path("scenarios");
    let strict = path("scenarios/targets/examples/native-strict.yaml");
    let no_clock = path("scenarios/targets/examples/valify-no-clock.yaml");
    let no_provider = path("scenarios/targets/examples/nomado-no-provider.yaml");
    let (code, out) = run(&[
        &scenarios,
        "--target",
        &strict,
        "--target",
        &no_clock,
        "--target",
        &no_provider,
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    let (passed, failed, skipped) = summary(&out);
    assert_eq!(failed, 0, "{out}");
    assert!(passed >= 100, "{out}");
    let has = |line: &str| assert!(out.contains(line), "no `{line}` in:\n{out}");
    // Three windows and a cooldown: each window filled at its boundary,
    // one send of a parallel burst through.
    has("ok      a third window holds behind the shorter ones [native-strict]");
    has("ok      a send within the cooldown is refused [native-strict]");
    has("ok      concurrent sends pass exactly as many as the limit allows [native-strict]");
    // No clock route: a 3 s ttl is waited out, an hour is not.
    has("ok      a code has expired just after its ttl [valify-no-clock]");
    has(
        "skipped a full window opens again when its oldest send leaves it [valify-no-clock]: \
         waits 1h1s on a real clock (the limit is --max-wait 1m)",
    );
    // No inbox and no faults: codes from the answers only.
    has("ok      one recipient's code does not verify another's challenge [nomado-no-provider]");
    has(
        "skipped codes have the policy's length and alphabet [nomado-no-provider]: needs \
         `inbox`: target `nomado-no-provider` lacks `inbox`",
    );
    has(
        "skipped a send that could not be delivered still counts against the limit \
         [nomado-no-provider]: sets provider faults: target `nomado-no-provider` lacks `faults`",
    );
    // What no policy here has is skipped as such, never passed.
    has(
        "skipped a send within the cooldown is refused [valify-no-clock]: reads \
         `${policy.cooldown}`: the target's policy has no cooldown",
    );
    assert!(skipped >= 10, "{out}");
}
