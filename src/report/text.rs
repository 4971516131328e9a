//! Small formatting helpers the renderers share, so a latency or a rate
//! reads the same in the Markdown summary, the HTML page and `compare`.

/// A latency in µs as people read it: `850µs`, `4.21ms`, `1.50s`.
pub fn latency(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// Requests per second: `1234.5/s`.
pub fn rate(rps: f64) -> String {
    format!("{rps:.1}/s")
}

/// The unit of a run's offered rate: a run through a dialect offers
/// flows (send, read the code, verify: several requests each), a `--url`
/// run requests.
pub fn offered_unit(run: &crate::report::model::RunInfo) -> &'static str {
    if run.dialect.is_some() {
        "flows/s"
    } else {
        "requests/s"
    }
}

/// A share as a percentage: `0.33%`.
pub fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

/// A relative change from `a` to `b`: `+12.3%`, `-4.0%`, `±0%`; `n/a`
/// when `a` is 0.
pub fn change(a: f64, b: f64) -> String {
    if a == 0.0 {
        return if b == 0.0 {
            "±0%".into()
        } else {
            "n/a".into()
        };
    }
    let change = (b - a) / a * 100.0;
    if change.abs() < 0.05 {
        "±0%".into()
    } else {
        format!("{change:+.1}%")
    }
}

/// Outcome counts as `sent 990, rate_limited 10`, largest first.
pub fn outcomes(outcomes: &std::collections::BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<(&String, &u64)> = outcomes.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    sorted
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_magnitude() {
        assert_eq!(latency(850.0), "850µs");
        assert_eq!(latency(4_210.0), "4.21ms");
        assert_eq!(latency(1_500_000.0), "1.50s");
        assert_eq!(change(100.0, 112.3), "+12.3%");
        assert_eq!(change(100.0, 96.0), "-4.0%");
        assert_eq!(change(0.0, 5.0), "n/a");
        let counts = [("sent".to_string(), 10), ("rate_limited".to_string(), 90)];
        assert_eq!(
            outcomes(&counts.into_iter().collect()),
            "rate_limited 90, sent 10"
        );
    }
}
