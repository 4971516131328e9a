//! `run --summary` and `run --html`: what a CI page and a browser are
//! given — failures first with expected and got, skips with reasons, the
//! failing request and answer with the target's secrets masked, nothing
//! fetched from anywhere.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::process::run;

/// Scenarios that fail and skip on purpose (the docs' example).
const DEMO: &str = "examples/run-report-demo.yaml";

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otpbench-run-reports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn summary_and_html_show_failures_first_with_secrets_masked() {
    let dir = tempdir();
    let (summary, html) = (dir.join("summary.md"), dir.join("html"));
    let out = run(
        &[
            "run",
            DEMO,
            "--target",
            "scenarios/targets/valify.yaml",
            "--target",
            "scenarios/targets/examples/valify-no-clock.yaml",
            "--summary",
            summary.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("1 passed, 4 failed, 1 skipped"), "{stdout}");

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("## otpbench run: ❌ 4 of 6 cases failed\n"),
        "{md}"
    );
    assert!(md.contains("| valify | 1 | 2 | 0 |"), "{md}");
    assert!(md.contains("| valify-no-clock | 0 | 2 | 1 |"), "{md}");
    let failures = md.find("### Failures").expect("failures");
    let skipped = md.find("### Skipped").expect("skips");
    assert!(failures < skipped, "{md}");
    assert!(
        md.contains("run-report-demo.yaml:10:3</code> — step 2 (verify)"),
        "{md}"
    );
    assert!(
        md.contains("| outcome | <code>verified</code> | <code>wrong_code</code> |"),
        "{md}"
    );
    // A `|` and markup in a value stay inside their cell.
    assert!(
        md.contains(
            "<code>&quot;Unsupported media type &#124; &lt;b&gt;html&lt;/b&gt;&quot;</code>"
        ),
        "{md}"
    );
    assert!(
        md.contains("| a wait only a movable clock allows [valify-no-clock] | needs `clock`"),
        "{md}"
    );

    let page = std::fs::read_to_string(html.join("index.html")).unwrap();
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    assert!(at("id=\"failures\"") < at("id=\"skipped\""));
    assert!(at("id=\"skipped\"") < at("id=\"cases\""));
    // The failing request and answer, masked; the source line.
    assert!(page.contains("authorization: Bearer ***"), "{page}");
    assert!(
        page.contains("&quot;bundle_key&quot;: &quot;***&quot;"),
        "{page}"
    );
    assert!(page.contains("&quot;error_code&quot;: 1003"), "{page}");
    assert!(page.contains("10 |   - verify: { code: &quot;${wrong_code}&quot; }"));
    assert!(page.contains("&lt;b&gt;html&lt;/b&gt;") && !page.contains("<b>html</b>"));
    // Every case, with its steps.
    assert_eq!(page.matches("<details class=\"case\">").count(), 6);
    assert!(
        page.contains("<li class=\"bad\">verify (line 10)</li>"),
        "{page}"
    );
    // Self-contained.
    for outside in ["<script", "src=", "<link", "@import", "url("] {
        assert!(!page.contains(outside), "the page loads {outside}");
    }
    // The target's credentials are nowhere.
    for text in [&page, &md, &stdout.to_string()] {
        for secret in ["test-token", "test-bundle"] {
            assert!(!text.contains(secret), "{secret} shown");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_that_cannot_happen_says_why_in_the_summary() {
    let dir = std::env::temp_dir().join(format!("otpbench-not-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("bad.yaml");
    std::fs::write(&scenario, "name: x\nsteps:\n  - sned: {}\n").unwrap();
    let summary = dir.join("summary.md");
    let out = run(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--dialect",
            "native",
            "--summary",
            summary.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("## otpbench run: ⛔ nothing ran (exit 2)\n"),
        "{md}"
    );
    assert!(md.contains("bad.yaml:3:"), "{md}");
    // The terminal still says it all.
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
