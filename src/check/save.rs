//! A counterexample as a scenario file (DESIGN.md §5): the steps that ran,
//! up to and including the one that diverged, each expecting what the
//! model expects. `otpbench run --target` replays it with fresh
//! recipients: it fails (exit 4) on the faulty target and passes on a
//! correct one. Skipped steps are left out; the wrong codes are written
//! as literals of the code's shape (a replay's codes are new, so a
//! literal is right by chance once in |alphabet|^length runs).

use std::fmt::Write as _;

use crate::check::exec::Trace;
use crate::client::TargetSpec;

/// The scenario file for `trace` (found with `seed` on `spec`).
pub fn scenario(spec: &TargetSpec, seed: u64, trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Found by `otpbench check --seed {seed}` against target `{}`: a",
        spec.name
    );
    out.push_str("# program DESIGN.md §2 answers otherwise than the target did.\n");
    if let Some(failed) = trace.failed.and_then(|i| trace.steps.get(i)) {
        let _ = writeln!(
            out,
            "# Diverged at: {} — expected {}, observed {}.",
            one_line(&failed.what),
            one_line(&failed.expected),
            one_line(&failed.observed)
        );
    }
    let _ = writeln!(out, "name: check counterexample (seed {seed})");
    let _ = writeln!(out, "dialects: [{}]", spec.dialect.name());
    out.push_str("tags: [check]\n");
    let waits = trace.steps.iter().any(|s| {
        s.yaml
            .as_deref()
            .is_some_and(|y| y.starts_with("  - wait:") || y.contains("\n    every:"))
    });
    if waits {
        out.push_str("needs: [clock]\n");
    }
    out.push_str("steps:\n");
    for step in &trace.steps {
        if let Some(yaml) = &step.yaml {
            let _ = writeln!(out, "  # {}", one_line(&step.what));
            out.push_str(yaml);
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
