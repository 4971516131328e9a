//! Fault injection rules of the mock provider (DESIGN.md §4).
//!
//! `PUT /_admin/faults` replaces the rule set; the first rule whose
//! `channel` and `to_prefix` (both optional) match a message applies. Per
//! message, in this order: the latency is waited out; `down` answers 503;
//! then one draw decides among reset (TCP RST, no answer), hang (no answer
//! until the client gives up or the provider stops), error (`error_status`,
//! default 503) and drop (202 but never journaled), with the rates as
//! consecutive slices of [0, 1) — so they must add up to at most 1.
//!
//! A rule is checked whole when it is put ([`FaultSet::validate`]):
//! latencies at most [`MAX_LATENCY`], a lognormal's sigma at most
//! [`MAX_SIGMA`], rates finite in [0, 1]. Sampling clamps as well, so a
//! rule that was accepted can never make a message's task panic.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::delivery::Channel;

/// Longest latency a rule may ask for (and the most any draw waits).
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

/// Largest lognormal sigma a rule may give: at 10 the 99th percentile
/// is already 10¹⁰ times the median, past any latency worth simulating.
pub const MAX_SIGMA: f64 = 10.0;

/// The body of `PUT /_admin/faults`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSet {
    pub rules: Vec<FaultRule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub to_prefix: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<Latency>,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    #[serde(default)]
    pub drop_rate: f64,
    #[serde(default)]
    pub hang_rate: f64,
    #[serde(default)]
    pub reset_rate: f64,
    #[serde(default)]
    pub down: bool,
}

fn default_error_status() -> u16 {
    503
}

/// How long to wait before answering, in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Latency {
    Fixed(u64),
    Uniform([u64; 2]),
    Lognormal { median: f64, sigma: f64 },
}

impl Latency {
    fn sample(&self, rng: &mut impl Rng) -> Duration {
        let ms = match *self {
            Latency::Fixed(ms) => ms as f64,
            Latency::Uniform([low, high]) => rng.random_range(low..=high) as f64,
            Latency::Lognormal { median, sigma } => {
                // Box–Muller: a standard normal from two uniforms.
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                let v: f64 = rng.random();
                let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                median * (sigma * normal).exp()
            }
        };
        // NaN and infinities (a huge sigma's tail) are the longest wait,
        // never a panic in `Duration`.
        let max_ms = MAX_LATENCY.as_secs_f64() * 1000.0;
        let ms = if ms.is_nan() {
            max_ms
        } else {
            ms.clamp(0.0, max_ms)
        };
        Duration::try_from_secs_f64(ms / 1000.0).map_or(MAX_LATENCY, |d| d.min(MAX_LATENCY))
    }
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Deliver,
    Down,
    Reset,
    Hang,
    Error(u16),
    Drop,
}

impl FaultSet {
    /// Checks ranges; the error names the rule and the field.
    pub fn validate(&self) -> Result<(), String> {
        for (at, rule) in self.rules.iter().enumerate() {
            let field = |name: &str| format!("rules[{at}].{name}");
            for (name, rate) in [
                ("error_rate", rule.error_rate),
                ("drop_rate", rule.drop_rate),
                ("hang_rate", rule.hang_rate),
                ("reset_rate", rule.reset_rate),
            ] {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!("{}: expected 0 to 1, got {rate}", field(name)));
                }
            }
            let sum = rule.error_rate + rule.drop_rate + rule.hang_rate + rule.reset_rate;
            if sum > 1.0 + 1e-9 {
                return Err(format!(
                    "rules[{at}]: error, drop, hang and reset rates add up to {sum}, more than 1"
                ));
            }
            if !(400..=599).contains(&rule.error_status) {
                return Err(format!(
                    "{}: expected 400 to 599, got {}",
                    field("error_status"),
                    rule.error_status
                ));
            }
            let max_ms = MAX_LATENCY.as_millis() as u64;
            let too_long = |what: &str, ms: String| {
                Err(format!(
                    "{}: {what} {ms} ms is longer than the most a rule may wait, {max_ms} ms",
                    field("latency_ms")
                ))
            };
            match rule.latency_ms {
                Some(Latency::Fixed(ms)) if ms > max_ms => {
                    return too_long("fixed", ms.to_string())
                }
                Some(Latency::Uniform([low, high])) if low > high => {
                    return Err(format!(
                        "{}: uniform [{low}, {high}] is empty",
                        field("latency_ms")
                    ))
                }
                Some(Latency::Uniform([_, high])) if high > max_ms => {
                    return too_long("uniform's upper bound", high.to_string())
                }
                Some(Latency::Lognormal { median, sigma })
                    if !(median > 0.0
                        && median.is_finite()
                        && sigma >= 0.0
                        && sigma.is_finite()) =>
                {
                    return Err(format!(
                        "{}: lognormal needs median > 0 and sigma >= 0",
                        field("latency_ms")
                    ))
                }
                Some(Latency::Lognormal { median, .. }) if median > max_ms as f64 => {
                    return too_long("lognormal's median", median.to_string())
                }
                Some(Latency::Lognormal { sigma, .. }) if sigma > MAX_SIGMA => {
                    return Err(format!(
                        "{}: lognormal sigma {sigma} is above {MAX_SIGMA}",
                        field("latency_ms")
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The first rule matching this message.
    pub fn rule_for(&self, channel: Channel, to: &str) -> Option<&FaultRule> {
        self.rules.iter().find(|rule| {
            rule.channel.is_none_or(|c| c == channel)
                && rule.to_prefix.as_deref().is_none_or(|p| to.starts_with(p))
        })
    }
}

impl FaultRule {
    /// The latency to wait out first, if any.
    pub fn latency(&self) -> Option<Duration> {
        let mut rng = rand::rng();
        self.latency_ms.as_ref().map(|l| l.sample(&mut rng))
    }

    /// What happens after the latency.
    pub fn verdict(&self) -> Verdict {
        if self.down {
            return Verdict::Down;
        }
        let draw: f64 = rand::rng().random();
        let mut edge = self.reset_rate;
        if draw < edge {
            return Verdict::Reset;
        }
        edge += self.hang_rate;
        if draw < edge {
            return Verdict::Hang;
        }
        edge += self.error_rate;
        if draw < edge {
            return Verdict::Error(self.error_status);
        }
        edge += self.drop_rate;
        if draw < edge {
            return Verdict::Drop;
        }
        Verdict::Deliver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<FaultSet, String> {
        let set: FaultSet = serde_json::from_str(json).map_err(|e| e.to_string())?;
        set.validate()?;
        Ok(set)
    }

    #[test]
    fn the_documented_example_parses() {
        let set = parse(
            r#"{"rules": [{"channel": "sms", "to_prefix": "+7",
                "latency_ms": {"lognormal": {"median": 50, "sigma": 0.5}},
                "error_rate": 0.2, "error_status": 503, "drop_rate": 0.0,
                "hang_rate": 0.0, "reset_rate": 0.0, "down": false}]}"#,
        )
        .unwrap();
        assert!(set.rule_for(Channel::Sms, "+79991234567").is_some());
        assert!(set.rule_for(Channel::Sms, "+14155550100").is_none());
        assert!(set.rule_for(Channel::Email, "+79991234567").is_none());
    }

    #[test]
    fn bad_rules_name_the_field() {
        for (json, expected) in [
            (r#"{"rules": [{"error_rate": 1.5}]}"#, "rules[0].error_rate"),
            (
                r#"{"rules": [{"error_rate": 0.6, "drop_rate": 0.6}]}"#,
                "add up to",
            ),
            (
                r#"{"rules": [{"error_status": 200}]}"#,
                "rules[0].error_status",
            ),
            (
                r#"{"rules": [{}, {"latency_ms": {"uniform": [9, 1]}}]}"#,
                "rules[1].latency_ms",
            ),
            (
                r#"{"rules": [{"latency_ms": {"lognormal": {"median": 0, "sigma": 1}}}]}"#,
                "median > 0",
            ),
            (
                r#"{"rules": [{"chanel": "sms"}]}"#,
                "unknown field `chanel`",
            ),
        ] {
            let error = parse(json).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn issue_19_latencies_that_would_overflow_are_refused_naming_the_field() {
        for (json, expected) in [
            (
                r#"{"rules": [{"latency_ms": {"lognormal": {"median": 50, "sigma": 1000}}}]}"#,
                "rules[0].latency_ms: lognormal sigma 1000 is above 10",
            ),
            (
                r#"{"rules": [{"latency_ms": {"lognormal": {"median": 1e300, "sigma": 0.5}}}]}"#,
                "rules[0].latency_ms: lognormal's median",
            ),
            (
                r#"{"rules": [{}, {"latency_ms": {"fixed": 60001}}]}"#,
                "rules[1].latency_ms: fixed 60001 ms",
            ),
            (
                r#"{"rules": [{"latency_ms": {"uniform": [0, 18446744073709551615]}}]}"#,
                "rules[0].latency_ms: uniform's upper bound",
            ),
        ] {
            let error = parse(json).unwrap_err();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn issue_19_sampling_never_panics_whatever_the_numbers() {
        let mut rng = rand::rng();
        for (median, sigma) in [
            (50.0, 1000.0),
            (1e300, 0.5),
            (f64::MAX, f64::MAX),
            (f64::NAN, 1.0),
            (f64::INFINITY, 0.0),
            (-5.0, 1.0),
        ] {
            for _ in 0..100 {
                let d = Latency::Lognormal { median, sigma }.sample(&mut rng);
                assert!(d <= MAX_LATENCY, "{median} {sigma}: {d:?}");
            }
        }
        let d = Latency::Fixed(u64::MAX).sample(&mut rng);
        assert_eq!(d, MAX_LATENCY);
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        fn number() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<f64>()
                    .prop_filter("JSON has no NaN or infinity", |n| n.is_finite())
                    .prop_map(|n| format!("{n:e}")),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                (0u32..2000).prop_map(|n| format!("{}", n as f64 / 1000.0)),
                Just("0".to_string()),
                Just("\"x\"".to_string()),
                Just("null".to_string()),
            ]
        }

        fn latency() -> impl Strategy<Value = String> {
            prop_oneof![
                number().prop_map(|n| format!(r#"{{"fixed": {n}}}"#)),
                (number(), number()).prop_map(|(a, b)| format!(r#"{{"uniform": [{a}, {b}]}}"#)),
                (number(), number()).prop_map(|(m, s)| format!(
                    r#"{{"lognormal": {{"median": {m}, "sigma": {s}}}}}"#
                )),
                Just(r#"{"lognormal": {"median": 1}}"#.to_string()),
                Just(r#"{"weibull": 3}"#.to_string()),
            ]
        }

        fn rule() -> impl Strategy<Value = String> {
            let field = prop_oneof![
                latency().prop_map(|l| format!(r#""latency_ms": {l}"#)),
                number().prop_map(|n| format!(r#""error_rate": {n}"#)),
                number().prop_map(|n| format!(r#""drop_rate": {n}"#)),
                number().prop_map(|n| format!(r#""hang_rate": {n}"#)),
                number().prop_map(|n| format!(r#""reset_rate": {n}"#)),
                number().prop_map(|n| format!(r#""error_status": {n}"#)),
                any::<bool>().prop_map(|b| format!(r#""down": {b}"#)),
                Just(r#""channel": "sms""#.to_string()),
                Just(r#""to_prefix": "+7""#.to_string()),
            ];
            proptest::collection::vec(field, 0..6).prop_map(|f| format!("{{{}}}", f.join(", ")))
        }

        proptest! {
            /// Whatever is put, it is refused with a message or accepted,
            /// and an accepted rule samples and decides without panicking,
            /// within the bounds.
            #[test]
            fn issue_19_fault_rules_parse_or_refuse_and_never_panic(
                rules in proptest::collection::vec(rule(), 0..4)
            ) {
                let json = format!(r#"{{"rules": [{}]}}"#, rules.join(", "));
                let Ok(set) = serde_json::from_str::<FaultSet>(&json) else {
                    return Ok(());
                };
                if let Err(message) = set.validate() {
                    prop_assert!(message.starts_with("rules["), "{}", message);
                    return Ok(());
                }
                for rule in &set.rules {
                    for _ in 0..20 {
                        if let Some(latency) = rule.latency() {
                            prop_assert!(latency <= MAX_LATENCY);
                        }
                        let _ = rule.verdict();
                    }
                }
            }
        }
    }

    #[test]
    fn rates_are_slices_of_one_draw() {
        let rule = |reset, hang, error, drop| FaultRule {
            channel: None,
            to_prefix: None,
            latency_ms: None,
            error_rate: error,
            error_status: 502,
            drop_rate: drop,
            hang_rate: hang,
            reset_rate: reset,
            down: false,
        };
        assert_eq!(rule(1.0, 0.0, 0.0, 0.0).verdict(), Verdict::Reset);
        assert_eq!(rule(0.0, 1.0, 0.0, 0.0).verdict(), Verdict::Hang);
        assert_eq!(rule(0.0, 0.0, 1.0, 0.0).verdict(), Verdict::Error(502));
        assert_eq!(rule(0.0, 0.0, 0.0, 1.0).verdict(), Verdict::Drop);
        assert_eq!(rule(0.0, 0.0, 0.0, 0.0).verdict(), Verdict::Deliver);
        let half = rule(0.0, 0.0, 0.5, 0.0);
        let errors = (0..10_000)
            .filter(|_| half.verdict() != Verdict::Deliver)
            .count();
        assert!((4_500..5_500).contains(&errors), "{errors}");
    }

    #[test]
    fn latencies_stay_in_their_ranges() {
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let d = Latency::Uniform([10, 20]).sample(&mut rng);
            assert!((10..=20).contains(&(d.as_millis() as u64)), "{d:?}");
        }
        assert_eq!(
            Latency::Fixed(50).sample(&mut rng),
            Duration::from_millis(50)
        );
        let mut samples: Vec<f64> = (0..20_001)
            .map(|_| {
                Latency::Lognormal {
                    median: 50.0,
                    sigma: 0.5,
                }
                .sample(&mut rng)
                .as_secs_f64()
                    * 1000.0
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[10_000];
        assert!((45.0..55.0).contains(&median), "median {median}");
    }
}
