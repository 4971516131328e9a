//! The flags of `otpbench load` and `otpbench capacity` (clap), and the
//! parsers of their values.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::cli::vars::VarsFlags;
use crate::dialect::Dialect;
use crate::load::flow::Mix;
use crate::load::schedule::parse_rate;
use crate::load::shard::Shard;
use crate::report::gate::{parse_percent, Gate};

/// What to load and how: the flags `load` and `capacity` share.
#[derive(Debug, Args, Default)]
pub struct WorkloadFlags {
    /// Plain HTTP load on this URL (any server; to compare with wrk on
    /// equal terms). Tallied by status.
    #[arg(long, value_name = "URL", conflicts_with_all = ["dialect", "target"])]
    pub url: Option<String>,

    /// OTP flows (send, read the code, verify) against the embedded
    /// engine speaking this dialect: native, rees46, sigmasms, valify,
    /// nomado or loyaltydog.
    #[arg(long, value_name = "NAME", value_parser = parse_dialect, conflicts_with = "target")]
    pub dialect: Option<Dialect>,

    /// OTP flows against the target this file describes (DESIGN.md §5).
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,

    /// A workload file (scenarios/load/*.yaml); flags win over its keys.
    #[arg(long, value_name = "FILE")]
    pub workload: Option<PathBuf>,

    /// --url: the request method.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// --url: an extra header, 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// --url: the request body.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// --url: accept any TLS certificate (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,

    /// Open model: requests (or flows) in flight at most, this generator
    /// (default 64). Arrivals that find every connection busy wait, and
    /// their latency counts from their intended start.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: Option<u32>,

    /// Worker threads, each with its own runtime (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Open model: busy-wait the last DURATION before each intended start
    /// instead of sleeping (e.g. 200us). Keeps the wake-up of an idle core
    /// (tens of µs, hundreds at the tail on a VM) out of the latency, at
    /// the price of a busy core. Default 0: sleep to the deadline.
    #[arg(long, value_name = "DURATION", value_parser = parse_fine_duration)]
    pub spin: Option<Duration>,

    /// Longest wait for one request (default 10s, or the target file's).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// OTP: identifiers in the whole run, split between shards and
    /// workers (default 1,000,000). Size it below rate × duration ÷ the
    /// send limit to meet the target's limits on purpose.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pool: Option<u64>,

    /// OTP: share of verifies sent with a wrong code, 0..1 (default 0).
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub wrong_code_ratio: Option<f64>,

    /// OTP: weights of whole flows and lone sends, e.g. flow=9,send=1.
    #[arg(long, value_name = "WEIGHTS", value_parser = parse_mix)]
    pub mix: Option<Mix>,

    /// OTP: the purpose sent (native `purpose`, REES46 `event`).
    #[arg(long, value_name = "NAME")]
    pub purpose: Option<String>,

    /// OTP: where codes come from (default: the target's).
    #[arg(long, value_name = "SOURCE")]
    pub code_source: Option<CodeSourceArg>,

    /// This generator is shard i of n (from 0): it takes every n-th
    /// arrival and its own block of the identifier pool.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// The run directory to write (default: `reports/<start time>/`).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// No progress output; only the summary.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub vars: VarsFlags,
}

/// `--code-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodeSourceArg {
    /// From the send's answer.
    Echo,
    /// From the provider's journal.
    Inbox,
}

/// Flags of `otpbench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub workload: WorkloadFlags,

    /// Open model: iterations started per second (500, 500/s, 30000/m),
    /// whatever the answers take; the start rate when --stage is given.
    #[arg(long, value_name = "N", value_parser = parse_rate_flag, conflicts_with = "concurrency")]
    pub rate: Option<f64>,

    /// Closed model: connections, each starting its next iteration when
    /// the last one is answered; the start value when --stage is given.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,

    /// How long the load runs (default 10s; not with --stage).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Ramp linearly to TARGET over DURATION, e.g. 30s:500/s or 30s:50
    /// (repeatable; stages follow each other).
    #[arg(long = "stage", value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,

    /// Also measure GET on this URL (or a path on the target's host,
    /// e.g. /healthz) with the same model, first, into the report's
    /// `reference` section — for gates like throughput/reference>0.6.
    #[arg(long, value_name = "URL")]
    pub reference_url: Option<String>,

    /// A gate, e.g. 'verify.p99<20ms', 'errors<0.1%', 'throughput>5000'
    /// (repeatable); a breach exits 5.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_gate)]
    pub thresholds: Vec<Gate>,

    /// A report.json (or run directory) to gate against: p50, p99 and
    /// throughput may be at most --max-regression worse.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// With --baseline: how much worse is allowed (default 10%).
    #[arg(long, value_name = "PCT", value_parser = parse_percent, requires = "baseline")]
    pub max_regression: Option<f64>,

    /// Soak: run in windows of WINDOW (e.g. 1m) and report per window the
    /// RSS and open fds of this process (with an embedded target, also the
    /// engine's and provider's) and each operation's p99, with their
    /// growth fitted as a slope (soak.json). One --rate or --concurrency.
    #[arg(long, value_name = "WINDOW", value_parser = parse_positive_duration)]
    pub soak: Option<Duration>,

    /// Soak: also sample this process each window, e.g. engine=1234 (a
    /// target run apart; repeatable).
    #[arg(long = "watch-pid", value_name = "NAME=PID", value_parser = parse_watch_pid, requires = "soak")]
    pub watch_pids: Vec<(String, u32)>,
}

/// Flags of `otpbench capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub workload: WorkloadFlags,

    /// The SLO every sustainable rate must meet, e.g. 'send.p99<50ms'
    /// (repeatable; the gate grammar of --threshold).
    #[arg(long = "slo", value_name = "EXPR", value_parser = parse_gate, required = true)]
    pub slo: Vec<Gate>,

    /// The first rate measured (default 100/s).
    #[arg(long, value_name = "N", value_parser = parse_rate_flag)]
    pub start_rate: Option<f64>,

    /// Never offer more than this.
    #[arg(long, value_name = "N", value_parser = parse_rate_flag)]
    pub max_rate: Option<f64>,

    /// How long each rate is offered (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub step_duration: Option<Duration>,

    /// Factor between rates while climbing (default 2).
    #[arg(long, value_name = "F", value_parser = parse_growth)]
    pub growth: Option<f64>,

    /// Stop bisecting when the rates that held and broke are this close
    /// (default 5%).
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub tolerance: Option<f64>,

    /// Most rates measured (default 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_steps: Option<u32>,

    /// How many times a rate that broke is measured again before it
    /// counts as broken (default 1; 0: never). It holds if any
    /// measurement does: one stall must not halve the figure.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10))]
    pub confirm: Option<u32>,
}

pub(super) fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Dialect::from_name(text).ok_or_else(|| {
        format!(
            "unknown dialect {text:?} (expected one of {})",
            Dialect::ALL.map(|d| d.name()).join(", ")
        )
    })
}

pub(super) fn parse_gate(text: &str) -> Result<Gate, String> {
    Gate::parse(text).map_err(|e| e.to_string())
}

pub(super) fn parse_rate_flag(text: &str) -> Result<f64, String> {
    parse_rate(text).map_err(|e| e.to_string())
}

pub(super) fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

/// A duration that may be in microseconds (`200us`), for `--spin`.
pub(super) fn parse_fine_duration(text: &str) -> Result<Duration, String> {
    let micros = text
        .strip_suffix("us")
        .or_else(|| text.strip_suffix("µs"))
        .map(|n| n.parse::<u64>());
    match micros {
        Some(Ok(n)) => Ok(Duration::from_micros(n)),
        Some(Err(_)) => Err(format!(
            "{text:?}: expected a whole number of microseconds, like 200us"
        )),
        None => crate::duration::parse(text).map_err(|e| e.to_string()),
    }
}

pub(super) fn parse_watch_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=PID, e.g. engine=1234"))?;
    if name.is_empty() {
        return Err(format!("{text:?}: the name before '=' is empty"));
    }
    let pid = pid
        .parse()
        .map_err(|_| format!("{text:?}: {pid:?} is not a process id"))?;
    Ok((name.to_string(), pid))
}

pub(super) fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match crate::duration::parse(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be longer than 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

pub(super) fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number (expected 0..1, e.g. 0.05)"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not between 0 and 1"))
    }
}

pub(super) fn parse_growth(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(g) if g > 1.0 && g.is_finite() => Ok(g),
        _ => Err(format!(
            "{text:?}: the growth factor must be a number above 1"
        )),
    }
}

pub(super) fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text:?}: the header has no name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

pub(super) fn parse_mix(text: &str) -> Result<Mix, String> {
    let mut mix = Mix { flow: 0, send: 0 };
    for part in text.split(',') {
        let (kind, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected KIND=WEIGHT, e.g. flow=9,send=1"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("{weight:?} is not a whole number"))?;
        match kind.trim() {
            "flow" => mix.flow = weight,
            "send" => mix.send = weight,
            other => return Err(format!("unknown iteration kind {other:?} (flow, send)")),
        }
    }
    if mix.flow == 0 && mix.send == 0 {
        return Err("give flow or send a weight above 0".into());
    }
    Ok(mix)
}
