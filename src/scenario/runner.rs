//! Running scenarios against targets: every scenario × every target
//! whose dialect it speaks is one case; cases run in parallel (`jobs` at
//! a time) and are reported in a stable order.
//!
//! The clock rule (DESIGN.md §5): an embedded target gives every case an
//! engine of its own, so cases never share a clock; a shared (external)
//! target is guarded by a read-write lock, ordinary cases reading and a
//! case that moves the clock (`wait`) writing — it runs alone. So a
//! parallel run never fails where a sequential one would pass.
//!
//! A case that cannot run on a target is skipped with its reason: a
//! capability it `needs` that the target lacks, a `${policy.*}` value the
//! target's policy does not have (a second send window, a cooldown), a
//! wait the policy leaves no room for, or waits on a real clock longer
//! than `max_wait` in all.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{RwLock, Semaphore};

use crate::client::{Capability, ClockMode, Endpoint, Target, TargetSpec};
use crate::scenario::case::{Failure, Limits};
use crate::scenario::model::{Action, Scenario};
use crate::scenario::step::run_case;
use crate::scenario::template::{Lookup, Template};
use crate::scenario::{load, variables};
use crate::server::StoreSpec;
use crate::source::FileError;
use crate::vars::Vars;

/// What to run, and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario files and directories.
    pub paths: Vec<PathBuf>,
    /// The targets, in report order.
    pub targets: Vec<TargetSpec>,
    /// Only scenarios with one of these tags (all when empty).
    pub tags: Vec<String>,
    /// Cases at once.
    pub jobs: usize,
    /// Stop starting cases after the first failure.
    pub fail_fast: bool,
    /// Where embedded engines keep their state.
    pub store: StoreSpec,
    /// The longest wait to sleep through on a real clock; a case needing
    /// more is skipped.
    pub max_wait: Duration,
    /// `${env.…}` and `${var.…}` in scenario files, and the secrets the
    /// reports mask.
    pub vars: Arc<Vars>,
}

/// How a case ended.
#[derive(Debug, Clone)]
pub enum CaseStatus {
    Passed,
    Failed(Box<Failure>),
    Skipped(String),
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub scenario: Arc<Scenario>,
    /// The target's name and dialect.
    pub target: String,
    pub dialect: crate::dialect::Dialect,
    pub status: CaseStatus,
    pub elapsed: Duration,
    /// How answers were read where the vendor document allowed more than
    /// one reading (shown by `--verbose`).
    pub readings: Vec<String>,
}

impl CaseReport {
    /// `scenario name [target]`.
    pub fn title(&self) -> String {
        format!("{} [{}]", self.scenario.name, self.target)
    }
}

/// Every case's result, in order.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub cases: Vec<CaseReport>,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn passed(&self) -> usize {
        self.count(|s| matches!(s, CaseStatus::Passed))
    }
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, CaseStatus::Failed(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|s| matches!(s, CaseStatus::Skipped(_)))
    }
    /// The failed cases, in order, each with its failure.
    pub fn failures(&self) -> Vec<(&CaseReport, &Failure)> {
        self.cases
            .iter()
            .filter_map(|case| match &case.status {
                CaseStatus::Failed(failure) => Some((case, failure.as_ref())),
                _ => None,
            })
            .collect()
    }
    /// The skipped cases, in order, each with why.
    pub fn skips(&self) -> Vec<(&CaseReport, &str)> {
        self.cases
            .iter()
            .filter_map(|case| match &case.status {
                CaseStatus::Skipped(reason) => Some((case, reason.as_str())),
                _ => None,
            })
            .collect()
    }
    fn count(&self, f: impl Fn(&CaseStatus) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.status)).count()
    }
}

/// Why nothing (or not everything) could run.
#[derive(Debug)]
pub enum RunError {
    /// Scenario or target files are invalid.
    Files(Vec<FileError>),
    /// Nobody answers at a target's address.
    Unreachable { target: String, why: String },
    /// The setup cannot work (a port that cannot be bound…).
    Setup(String),
    /// The paths, tags and targets select no case.
    NoCases,
}

/// The cases `options` describe, without running them (`--list`,
/// `--check`). Every value a step will use that the target's policy
/// decides is checked here, for every case, so a mistake in a file is
/// never a failed case.
pub fn plan(options: &RunOptions) -> Result<Vec<(Arc<Scenario>, usize)>, RunError> {
    let scenarios = load_all(options)?;
    let mut cases = Vec::new();
    let mut errors: Vec<FileError> = Vec::new();
    for scenario in scenarios {
        for (index, target) in options.targets.iter().enumerate() {
            if scenario.speaks(target.dialect) {
                for error in policy_problems(&scenario, target) {
                    if !errors.contains(&error) {
                        errors.push(error);
                    }
                }
                cases.push((scenario.clone(), index));
            }
        }
    }
    if !errors.is_empty() {
        return Err(RunError::Files(errors));
    }
    Ok(cases)
}

/// What `scenario`'s steps cannot do with `target`'s policy (a count
/// over the cap, a bound that computes nothing); what the policy does
/// not have skips the case instead (see [`skip_reason`]).
fn policy_problems(scenario: &Scenario, target: &TargetSpec) -> Vec<FileError> {
    let lookup = PolicyOnly(target);
    let mut out = Vec::new();
    for step in &scenario.steps {
        let reads_policy = step
            .templates()
            .iter()
            .any(|t| t.variables().next().is_some());
        if !reads_policy {
            continue;
        }
        for (needle, message) in crate::scenario::check::step(step, &lookup) {
            out.push(load::place(
                scenario,
                step,
                &needle,
                format!("{message} (with target `{}`'s policy)", target.name),
            ));
        }
    }
    out
}

/// Every scenario under the paths; every problem in every file when
/// some are invalid.
pub fn load_all(options: &RunOptions) -> Result<Vec<Arc<Scenario>>, RunError> {
    let files = load::discover(&options.paths).map_err(|e| RunError::Files(vec![e]))?;
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load::load_file(&file, &options.vars) {
            Ok(found) => scenarios.extend(found.into_iter().map(Arc::new)),
            Err(found) => errors.extend(found),
        }
    }
    if !errors.is_empty() {
        return Err(RunError::Files(errors));
    }
    if !options.tags.is_empty() {
        scenarios.retain(|s| s.tags.iter().any(|t| options.tags.contains(t)));
    }
    Ok(scenarios)
}

/// A target opened once and shared by its cases (not embedded).
struct Shared {
    target: Arc<Target>,
    /// Held for writing by a case that must run alone (it moves the clock
    /// or sets provider faults), for reading by the others.
    clock: Arc<RwLock<()>>,
}

/// Starts one embedded engine as the cases will and checks that it
/// answers healthy, so a store that cannot be reached stops the run once
/// instead of failing every case.
async fn preflight_embedded(spec: &TargetSpec, store: &StoreSpec) -> Result<(), RunError> {
    let target = Target::open(spec.clone(), &per_case(store))
        .await
        .map_err(RunError::Setup)?;
    let unreachable = |why: String| RunError::Unreachable {
        target: "the embedded engine".to_string(),
        why,
    };
    let health = target
        .raw(hyper::Method::GET, "/healthz", &[], bytes::Bytes::new())
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if health.status != 200 {
        return Err(unreachable(format!(
            "its store is not healthy: {}",
            health.text()
        )));
    }
    Ok(())
}

/// Runs the cases; `on_case` sees each result as soon as every earlier
/// one is reported (stable order while cases run in parallel).
pub async fn run(
    options: &RunOptions,
    mut on_case: impl FnMut(&CaseReport),
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let cases = plan(options)?;
    if cases.is_empty() {
        return Err(RunError::NoCases);
    }
    // Targets at one address share one clock (and one provider's faults),
    // whichever files name them: one lock for them all.
    let mut locks: Vec<(String, Arc<RwLock<()>>)> = Vec::new();
    let mut shared: Vec<Option<Arc<Shared>>> = Vec::with_capacity(options.targets.len());
    let mut embedded_checked = false;
    for spec in &options.targets {
        if spec.base == Endpoint::Embedded {
            if !embedded_checked {
                preflight_embedded(spec, &options.store).await?;
                embedded_checked = true;
            }
            shared.push(None);
            continue;
        }
        let target = Target::open(spec.clone(), &options.store)
            .await
            .map_err(RunError::Setup)?;
        let unreachable =
            |what: String, error: crate::client::TransportError| RunError::Unreachable {
                target: what,
                why: error.to_string(),
            };
        if let Err(error) = target.probe().await {
            return Err(unreachable(
                format!("{} ({})", spec.name, target.base()),
                error,
            ));
        }
        if let Some(provider) = target.provider() {
            if let Err(error) = target.probe_provider().await {
                return Err(unreachable(
                    format!("{}'s provider ({provider})", spec.name),
                    error,
                ));
            }
        }
        let place = format!(
            "{} {}",
            target.base(),
            target.provider().map(|p| p.to_string()).unwrap_or_default()
        );
        let clock = match locks.iter().find(|(at, _)| *at == place) {
            Some((_, lock)) => lock.clone(),
            None => {
                let lock = Arc::new(RwLock::new(()));
                locks.push((place, lock.clone()));
                lock
            }
        };
        shared.push(Some(Arc::new(Shared {
            target: Arc::new(target),
            clock,
        })));
    }
    // Cases start in plan order: one dispatcher hands out the permits a
    // case at a time. So with `fail_fast` every case before the first
    // failure in plan order has run, and which failure that is does not
    // depend on how the tasks happened to be scheduled.
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let failed = Arc::new(AtomicBool::new(false));
    let count = cases.len();
    let (hand_over, mut begun) = tokio::sync::mpsc::unbounded_channel();
    let specs = options.targets.clone();
    let (store, fail_fast, max_wait) = (options.store.clone(), options.fail_fast, options.max_wait);
    tokio::spawn(async move {
        for (scenario, index) in cases {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let spec = specs[index].clone();
            let shared = shared[index].clone();
            let failed = failed.clone();
            let store = store.clone();
            let task = tokio::spawn(async move {
                let _permit = permit;
                let case_started = Instant::now();
                let (status, readings) = if fail_fast && failed.load(Ordering::SeqCst) {
                    let why = "not run: an earlier case failed (--fail-fast)";
                    (CaseStatus::Skipped(why.into()), Vec::new())
                } else {
                    case(&scenario, &spec, shared.as_deref(), &store, max_wait).await
                };
                if matches!(status, CaseStatus::Failed(_)) {
                    failed.store(true, Ordering::SeqCst);
                }
                CaseReport {
                    target: spec.name.clone(),
                    dialect: spec.dialect,
                    scenario,
                    status,
                    elapsed: case_started.elapsed(),
                    readings,
                }
            });
            if hand_over.send(task).is_err() {
                return;
            }
        }
    });
    let mut reports = Vec::with_capacity(count);
    while let Some(task) = begun.recv().await {
        let report = task
            .await
            .map_err(|e| RunError::Setup(format!("a case panicked: {e}")))?;
        on_case(&report);
        reports.push(report);
    }
    Ok(RunReport {
        cases: reports,
        elapsed: started.elapsed(),
    })
}

/// Runs one case, or says why it is skipped; and how its answers were
/// read where the vendor document allowed more than one reading.
async fn case(
    scenario: &Scenario,
    spec: &TargetSpec,
    shared: Option<&Shared>,
    store: &StoreSpec,
    max_wait: Duration,
) -> (CaseStatus, Vec<String>) {
    if let Some(reason) = skip_reason(scenario, spec, max_wait) {
        return (CaseStatus::Skipped(reason), Vec::new());
    }
    let limits = Limits { max_wait };
    let (result, readings) = match shared {
        Some(shared) => {
            if scenario.runs_alone(|t| t.duration(&PolicyOnly(spec)).ok()) {
                let _alone = shared.clock.write().await;
                run_case(scenario, &shared.target, limits).await
            } else {
                let _together = shared.clock.read().await;
                run_case(scenario, &shared.target, limits).await
            }
        }
        None => {
            let store = per_case(store);
            match Target::open(spec.clone(), &store).await {
                Ok(target) => run_case(scenario, &Arc::new(target), limits).await,
                Err(why) => {
                    let failure = Box::new(Failure::setup(scenario, why));
                    return (CaseStatus::Failed(failure), Vec::new());
                }
            }
        }
    };
    let status = match result {
        Ok(()) => CaseStatus::Passed,
        Err(failure) => CaseStatus::Failed(failure),
    };
    (status, readings)
}

/// How long an embedded engine's Redis has to take up an operation. The
/// store's default (500 ms, connecting included) is a serving budget;
/// every case opens a store of its own, and on a busy CI machine its
/// first call can take longer than that — a `store_unavailable` the
/// scenario did not cause.
const CASE_REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// A store of its own for one case's embedded engine (a namespace of its
/// own on a shared Redis, with room for a slow first call).
fn per_case(store: &StoreSpec) -> StoreSpec {
    match store {
        StoreSpec::Memory => StoreSpec::Memory,
        StoreSpec::Redis(options) => {
            let mut options = options.clone();
            options.namespace = format!("{}-{:016x}", options.namespace, rand::random::<u64>());
            options.timeout = options.timeout.max(CASE_REDIS_TIMEOUT);
            StoreSpec::Redis(options)
        }
    }
}

/// Why `scenario` cannot run on `spec`, if it cannot.
fn skip_reason(scenario: &Scenario, spec: &TargetSpec, max_wait: Duration) -> Option<String> {
    for &need in &scenario.needs {
        if !spec.has(need) {
            return Some(format!(
                "needs `{}`: {}",
                need.name(),
                spec.lack_reason(need)
            ));
        }
    }
    let uses = |f: fn(&Action) -> bool| scenario.steps.iter().any(|s| f(&s.action));
    if uses(|a| matches!(a, Action::Faults(_))) && !spec.has(Capability::Faults) {
        return Some(format!(
            "sets provider faults: {}",
            spec.lack_reason(Capability::Faults)
        ));
    }
    if uses(|a| matches!(a, Action::Inbox(_))) && !spec.has(Capability::Inbox) {
        return Some(format!(
            "reads the inbox: {}",
            spec.lack_reason(Capability::Inbox)
        ));
    }
    let named_codes: Vec<String> = scenario
        .steps
        .iter()
        .filter_map(|step| step.named.as_ref().map(|name| format!("{name}.code")))
        .collect();
    let reads_codes = scenario.steps.iter().any(|step| {
        matches!(&step.action, Action::Verify(args) if args.code.is_none())
            || step.templates().iter().any(|t| {
                t.variables().any(|name| {
                    variables::is_last_code(name) || named_codes.iter().any(|n| n == name)
                })
            })
    });
    if reads_codes && !spec.has(Capability::Inbox) && !spec.has(Capability::Echo) {
        return Some(format!(
            "reads codes, and target `{}` neither echoes them nor names a provider",
            spec.name
        ));
    }
    let policy_only = PolicyOnly(spec);
    for step in &scenario.steps {
        for template in step.templates() {
            for name in template.variables().filter(|n| n.starts_with("policy.")) {
                if let Err(why) = policy_only.get(name) {
                    return Some(format!("reads `${{{name}}}`: {why}"));
                }
            }
        }
    }
    // Every clock move the policy alone decides: none may be negative, and
    // on a real clock they are slept through, within --max-wait in all.
    let mut planned = Duration::ZERO;
    for step in &scenario.steps {
        let (moves, times) = match (&step.action, &step.every, &step.repeat) {
            (Action::Wait(duration), _, _) => (duration, Some(1)),
            (_, Some(every), Some(repeat)) => (every, repeat.number(&policy_only).ok()),
            _ => continue,
        };
        if let Ok(text) = moves.text(&policy_only) {
            match crate::scenario::calc::duration(&text) {
                Ok(by) => planned += by * times.unwrap_or(1).min(u32::MAX.into()) as u32,
                Err(why) if why.contains("negative") => {
                    return Some(format!(
                        "the target's policy leaves no room for the clock move `{}` ({why})",
                        moves.source()
                    ))
                }
                Err(_) => {}
            }
        }
    }
    if spec.clock == ClockMode::Real && planned > max_wait {
        return Some(format!(
            "waits {} on a real clock (the limit is --max-wait {}); give the \
             target a clock route (`clock: admin`) or raise the limit",
            crate::scenario::calc::compound(planned),
            crate::duration::format(max_wait)
        ));
    }
    None
}

/// Variables known before a case runs: the policy and the target.
struct PolicyOnly<'a>(&'a TargetSpec);

impl Lookup for PolicyOnly<'_> {
    fn get(&self, name: &str) -> Result<serde_json::Value, String> {
        variables::known_before(self.0, name)
            .unwrap_or_else(|| Err(format!("`{name}` is not known before the case runs")))
    }
}

/// A template's text with what is known before a run (for listings).
pub fn preview(template: &Template, spec: &TargetSpec) -> String {
    template
        .text(&PolicyOnly(spec))
        .unwrap_or_else(|_| template.source().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(steps: &str) -> Scenario {
        let text = format!("name: s\ndialects: [native]\nsteps:\n{steps}");
        load::parse(&text, "s.yaml").unwrap().remove(0)
    }

    fn target(text: &str) -> TargetSpec {
        TargetSpec::parse(&format!("dialect: native\n{text}"), "t.yaml").unwrap()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_policy_without_what_a_scenario_reads_skips_it_with_the_reason() {
        let second_window = scenario("  - repeat: ${policy.send_limits.2.count}\n    send:\n");
        assert_eq!(
            skip_reason(&second_window, &target(""), MINUTE).as_deref(),
            Some(
                "reads `${policy.send_limits.2.count}`: the target's policy has no second \
                 send limit (1 in all)"
            )
        );
        let two = target("policy: { send_limits: [5/1h, 10/1d] }\n");
        assert_eq!(skip_reason(&second_window, &two, MINUTE), None);
        let cooldown = scenario("  - wait: \"${policy.cooldown} - 1s\"\n");
        assert!(skip_reason(&cooldown, &target(""), MINUTE)
            .unwrap()
            .contains("has no cooldown"));
        // A wait the policy leaves no room for.
        let short = target("policy: { cooldown: 500ms }\n");
        assert!(skip_reason(&cooldown, &short, MINUTE)
            .unwrap()
            .contains("leaves no room for the clock move `${policy.cooldown} - 1s`"));
    }

    #[test]
    fn reading_a_code_in_any_form_needs_a_way_to_codes() {
        let bare = target("base_url: http://127.0.0.1:9\nlacks: [echo]\n");
        for steps in [
            "  - send:\n  - verify: { code: \"${code.truncated}\" }\n",
            "  - send:\n    as: first\n  - verify: { code: \"${first.code}\" }\n",
            "  - send:\n  - verify:\n",
        ] {
            let reason = skip_reason(&scenario(steps), &bare, MINUTE);
            assert!(
                reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("reads codes")),
                "{steps}: {reason:?}"
            );
        }
        let first_id = scenario(
            "  - send:\n    as: first\n  - verify: { id: \"${first.id}\", code: \"1\" }\n",
        );
        assert_eq!(skip_reason(&first_id, &bare, MINUTE), None);
    }

    #[test]
    fn waits_on_a_real_clock_add_up_against_max_wait() {
        let waits = scenario(
            "  - wait: 20s\n  - repeat: 3\n    every: \"${policy.ttl} / 20\"\n    send:\n",
        );
        let real = target("clock: real\npolicy: { ttl: 10m }\n");
        // 20 s and 3 × 30 s.
        assert!(skip_reason(&waits, &real, MINUTE)
            .unwrap()
            .starts_with("waits 1m50s on a real clock (the limit is --max-wait 1m)"));
        assert_eq!(skip_reason(&waits, &real, Duration::from_secs(110)), None);
        assert_eq!(
            skip_reason(&waits, &target("policy: { ttl: 10m }\n"), MINUTE),
            None
        );
    }

    #[test]
    fn only_a_scenario_that_moves_the_clock_or_sets_faults_runs_alone() {
        let spec = target("");
        let alone = |s: &Scenario| s.runs_alone(|t| t.duration(&PolicyOnly(&spec)).ok());
        assert!(!alone(&scenario(
            "  - wait: ${policy.send_gap}\n  - send:\n"
        )));
        assert!(alone(&scenario("  - wait: 1s\n")));
        assert!(alone(&scenario(
            "  - repeat: 2\n    every: \"${policy.ttl}\"\n    send:\n"
        )));
        assert!(alone(&scenario("  - faults: clear\n")));
        // What only the case knows might move it.
        assert!(alone(&scenario(
            "  - send:\n    capture: { w: status }\n  - wait: \"${w}ms\"\n"
        )));
    }
}
