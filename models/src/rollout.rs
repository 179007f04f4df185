//! Pre-release rollouts (SPEC.md "Streaming and rollouts"): a new version of a service brought
//! in by canary steps or a blue-green switch, judged at each analysis interval (fixed bounds,
//! as Argo Rollouts' AnalysisRuns and Flagger do, or a statistical comparison with the
//! baseline, as Kayenta does), then promoted or rolled back. This module owns the spec, its
//! checks, the judgement of one interval (pure: what the controller decides from what it saw)
//! and the summary of what happened; the simulator moves traffic and pods (`sim::rollout`).

use crate::canary_stats::{mann_whitney_greater, quantile, two_proportion_greater};
use crate::distribution::Distribution;
use crate::path::PathSegment;
use crate::scenario::Scenario;
use crate::units::{Duration, Fraction};
use serde::{Deserialize, Serialize};

/// One rollout of a new version of `service`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    pub name: String,
    pub service: String,
    /// When the rollout starts (the new version's pods are created).
    pub at: Duration,
    pub strategy: Strategy,
    /// Traffic weights and the pauses after them; the last weight should be 100 %. Absent:
    /// one step to 100 % (a plain blue-green switch).
    #[serde(default)]
    pub steps: Vec<RolloutStep>,
    /// What the new version changes: any of the service's demand keys.
    #[serde(default)]
    pub new_version: NewVersion,
    pub analysis: Analysis,
    /// How `twin drill --rollout NAME` runs it against a real deployment (absent: it is only
    /// predicted).
    #[serde(default)]
    pub drill: Option<RolloutDrill>,
}

/// The reality hooks of a rollout (`rollouts[].drill`), beside the drills' own commands: the
/// user's commands that deploy the new version, shift traffic (`{weight}` is replaced by the
/// step's weight in percent, `10` for 10 %), promote it and roll it back, each run as a drill
/// step is (split into words, no shell unless `shell: true`, `${ENV}` from the environment
/// only, killed at `timeout`); and the response header whose value names the version that
/// answered, which splits the load's own measurements for the live analysis. A blue-green
/// rollout's one switch is its `set_weight` at 100 % (`deploy` returns once the green stack is
/// ready, as the simulator's switch waits for its pods), so its `set_weight` need not name
/// `{weight}`. `memory`, when the analysis bounds memory, reads the new version's memory from
/// the deployment at each analysis (the load cannot see it).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutDrill {
    pub deploy: String,
    pub set_weight: String,
    pub promote: String,
    pub rollback: String,
    /// Prints the new version's memory, one line per pod: a share of the pod's memory request
    /// (`72%`) or a Kubernetes quantity of bytes (`734003200`, `700Mi`) that the pod's
    /// `memory:` request divides; the largest is judged against `analysis.memory`. Run at
    /// each analysis; a failure or no reading is no data, and fails the bound.
    #[serde(default)]
    pub memory: Option<String>,
    #[serde(default = "default_version_header")]
    pub version_header: String,
    /// The header's value that names the new version (default: the rollout's name).
    #[serde(default)]
    pub new_version: Option<String>,
    #[serde(default)]
    pub shell: bool,
    #[serde(default = "default_hook_timeout")]
    pub timeout: Duration,
    /// Journey starts per second of the load kept running (default: the workload's mean rate).
    #[serde(default)]
    pub rate: Option<crate::units::Rate>,
    /// Journeys of the load, by name, started in turn; empty: every journey with `http:` steps.
    #[serde(default)]
    pub journeys: Vec<String>,
}

fn default_version_header() -> String {
    "x-version".into()
}

fn default_hook_timeout() -> Duration {
    Duration::from_secs(60)
}

/// What a rollout hook does (the label on the drill's log and timeline).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hook {
    Deploy,
    /// Shift the share of traffic the new version takes to this weight (0..=1).
    SetWeight(f64),
    Promote,
    Rollback,
    /// Read the new version's memory (for the analysis; changes nothing).
    Memory,
}

impl RolloutDrill {
    /// The header value that names the new version.
    pub fn new_version_value<'a>(&'a self, rollout: &'a RolloutSpec) -> &'a str {
        self.new_version.as_deref().unwrap_or(&rollout.name)
    }

    /// The drill step that runs `hook` at `at` (from the start of the load).
    pub fn step(&self, hook: Hook, at: Duration) -> crate::drill::DrillStep {
        use crate::drill::StepKind;
        let (run, kind, name) = match hook {
            Hook::Deploy => (self.deploy.clone(), StepKind::Degrade, "deploy".to_string()),
            Hook::SetWeight(w) => {
                let percent = format_percent(w);
                (
                    self.set_weight.replace("{weight}", &percent),
                    StepKind::Degrade,
                    format!("set weight {percent} %"),
                )
            }
            Hook::Promote => (self.promote.clone(), StepKind::Recovery, "promote".into()),
            Hook::Rollback => (self.rollback.clone(), StepKind::Recovery, "rollback".into()),
            Hook::Memory => (
                self.memory.clone().unwrap_or_default(),
                StepKind::Check,
                "read memory".into(),
            ),
        };
        crate::drill::DrillStep {
            at,
            run,
            kind,
            timeout: self.timeout,
            shell: self.shell,
            name: Some(name),
        }
    }

    /// The drill `twin drill --rollout` runs, as a drill of `drills:` would be written: the
    /// load (the workload's rate, for the horizon at most: it stops at the decision), the
    /// hooks on the planned timeline (deploy at `at`, each weight after the pauses before it,
    /// promote at the end) and the rollback hook as its rollback. The plan, the safety checks,
    /// the environment variables and the redaction of `twin drill` all read it.
    pub fn drill_spec(&self, rollout: &RolloutSpec, s: &Scenario) -> crate::drill::DrillSpec {
        let own: f64 = s
            .workload
            .journeys
            .iter()
            .filter_map(|j| j.arrivals.as_ref())
            .map(|a| a.mean_rate(s.horizon))
            .sum();
        let rate = self.rate.map_or_else(
            || s.workload.arrivals.mean_rate(s.horizon) + own,
            |r| r.per_sec(),
        );
        let mut steps = vec![self.step(Hook::Deploy, rollout.at)];
        let mut t = rollout.at;
        for st in rollout.plan() {
            steps.push(self.step(Hook::SetWeight(st.weight.0), t));
            t = Duration(t.0 + st.pause.map_or(0, |p| p.0));
        }
        steps.push(self.step(Hook::Promote, t));
        if self.memory.is_some() {
            // Listed once, at the first analysis (it runs at each), so the plan shows it and
            // its `${ENV}` are checked and redacted as the other hooks'.
            let first = Duration(rollout.at.0 + rollout.analysis.interval.0);
            steps.push(self.step(Hook::Memory, first));
        }
        crate::drill::DrillSpec {
            name: format!("rollout {}", rollout.name),
            description: Some(format!(
                "{} rollout of `{}`: deploy, shift traffic, analyse every {} live, then promote or roll back",
                rollout.strategy.as_str(),
                rollout.service,
                rollout.analysis.interval
            )),
            load: crate::drill::DrillLoad {
                rate: crate::units::Rate(rate),
                duration: s.horizon,
                journeys: self.journeys.clone(),
                timeout: Duration::from_secs(5),
                retry: None,
            },
            steps,
            rollback: vec![self.step(Hook::Rollback, Duration(0))],
            audit: None,
            recovery: Default::default(),
            targets: Vec::new(),
            allowed_targets: Vec::new(),
            predict: None,
        }
    }
}

impl RolloutDrill {
    /// The scenario the twin predicts the drill with: `s` with this rollout alone and no
    /// faults (a rollout drill breaks nothing but the release).
    pub fn prediction_scenario(&self, rollout: &RolloutSpec, s: &Scenario) -> Scenario {
        let mut p = s.clone();
        p.rollouts.retain(|r| r.name == rollout.name);
        p.faults.clear();
        p
    }
}

/// A weight in percent as a command takes it: `10`, `12.5`, `100`.
fn format_percent(w: f64) -> String {
    let p = (w * 100.0 * 1000.0).round() / 1000.0;
    format!("{p}")
}

impl RolloutSpec {
    /// The analyses its pauses hold (at least one): the comparisons a baseline check makes
    /// over the rollout, over which its `confidence` is shared (Bonferroni), so that identical
    /// versions are rolled back at most 1 - confidence of the time, not once in four rollouts
    /// of eight analyses at 5 % each.
    pub fn planned_analyses(&self) -> u32 {
        let paused: u64 = self.steps.iter().filter_map(|s| s.pause.map(|p| p.0)).sum();
        let interval = self.analysis.interval.0.max(1);
        (paused.div_ceil(interval)).max(1) as u32
    }
}

/// How the new version's replicas come: a canary scales them with the weight (ceil(weight x
/// the service's replicas), at least one), blue-green starts them all (the green stack) before
/// any traffic moves, so it needs the node pools' headroom for a second copy of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Canary,
    BlueGreen,
}

impl Strategy {
    /// As the scenario writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue_green",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutStep {
    pub weight: Fraction,
    /// How long the step holds (analysed meanwhile) before the next; absent: none.
    #[serde(default)]
    pub pause: Option<Duration>,
}

/// The service's demand keys the new version may change (absent: as the old version).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    #[serde(default)]
    pub service_time: Option<Distribution>,
    #[serde(default)]
    pub cpu: Option<Distribution>,
    #[serde(default)]
    pub errors: Option<Fraction>,
    /// The pod's memory working set (as `pod.memory_usage`).
    #[serde(default)]
    pub memory_usage: Option<crate::metrics_pipeline::MemoryUsage>,
}

/// What one analysis judges, every `interval`, from the new version's requests of that interval.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    pub interval: Duration,
    /// Fail when the new version's error rate is above this.
    #[serde(default)]
    pub error_rate: Option<Fraction>,
    /// Fail when the new version's p95 (successful visits, queue + service) is above this.
    #[serde(default)]
    pub p95: Option<Duration>,
    /// Fail when the new version's pods use more than this share of their memory request.
    #[serde(default)]
    pub memory: Option<Fraction>,
    /// `baseline`: fail when the new version is worse than the old one with `confidence`
    /// (Mann-Whitney U on latency, two-proportion z on errors).
    #[serde(default)]
    pub compare: Option<Compare>,
    /// The confidence level of the comparison (default 95 %).
    #[serde(default)]
    pub confidence: Option<Fraction>,
    /// Fewer new-version requests than this in an interval: inconclusive, not a pass
    /// (default 1).
    #[serde(default)]
    pub min_requests: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    Baseline,
}

impl RolloutSpec {
    /// The steps, or one step to 100 % when none are given.
    pub fn plan(&self) -> Vec<RolloutStep> {
        if self.steps.is_empty() {
            vec![RolloutStep {
                weight: Fraction(1.0),
                pause: None,
            }]
        } else {
            self.steps.clone()
        }
    }

    /// Seconds the plan pauses in all (the earliest a promotion can come after traffic starts).
    pub fn total_pause_s(&self) -> f64 {
        self.plan()
            .iter()
            .filter_map(|s| s.pause)
            .map(|p| p.as_secs_f64())
            .sum()
    }

    /// Checks what serde cannot; `base` is the rollout's path.
    pub fn check(&self, s: &Scenario, base: &[PathSegment]) -> Vec<(Vec<PathSegment>, String)> {
        let mut out = Vec::new();
        let at = |key: &str| {
            let mut p = base.to_vec();
            p.push(PathSegment::from(key));
            p
        };
        match s.services.get(&self.service) {
            None => out.push((
                at("service"),
                format!(
                    "rollout `{}` names the service `{}`, which is not defined",
                    self.name, self.service
                ),
            )),
            Some(svc) => {
                if svc.cloud_run.is_some() || svc.vm.is_some() || svc.ray.is_some() {
                    out.push((
                        at("service"),
                        "a rollout applies to a service of replicas or pods (not Cloud Run, a VM or Ray)".into(),
                    ));
                }
                if self.new_version.cpu.is_some() && svc.cpu.is_none() {
                    out.push((
                        at("new_version"),
                        "`cpu:` in new_version needs the service's own `cpu:` (its CPU model)"
                            .into(),
                    ));
                }
                if self.new_version.memory_usage.is_some() && svc.pod.is_none() {
                    out.push((
                        at("new_version"),
                        "`memory_usage:` in new_version needs the service's `pod:`".into(),
                    ));
                }
                if self.analysis.memory.is_some() && svc.pod.is_none() {
                    out.push((
                        at("analysis"),
                        "a `memory:` bound needs the service's `pod:` (its memory request)".into(),
                    ));
                }
            }
        }
        if self.at >= s.horizon {
            out.push((
                at("at"),
                format!(
                    "the rollout starts at {}, not before the horizon ({})",
                    self.at, s.horizon
                ),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let mut p = at("steps");
            p.push(PathSegment::from(i));
            let w = step.weight.0;
            if !(w > 0.0 && w <= 1.0) {
                p.push(PathSegment::from("weight"));
                out.push((
                    p,
                    format!(
                        "a step's weight must be in (0 %, 100 %], found {}",
                        w * 100.0
                    ),
                ));
            } else if i > 0 && w < self.steps[i - 1].weight.0 {
                p.push(PathSegment::from("weight"));
                out.push((
                    p,
                    "step weights must not decrease (a rollback is the analysis' to decide)".into(),
                ));
            }
        }
        if let Some(last) = self.steps.last() {
            if last.weight.0 < 1.0 {
                let mut p = at("steps");
                p.push(PathSegment::from(self.steps.len() - 1));
                out.push((
                    p,
                    "the last step must reach weight 100 % (the promotion)".into(),
                ));
            }
        }
        if let Some(e) = self.new_version.errors {
            if !(0.0..=1.0).contains(&e.0) {
                out.push((
                    at("new_version"),
                    "errors must be between 0 % and 100 %".into(),
                ));
            }
        }
        for (key, d) in [
            ("service_time", &self.new_version.service_time),
            ("cpu", &self.new_version.cpu),
        ] {
            if let Some(Err(e)) = d.as_ref().map(|d| d.check()) {
                let mut p = at("new_version");
                p.push(PathSegment::from(key));
                out.push((p, e));
            }
        }
        if let Some(Err(e)) = self.new_version.memory_usage.as_ref().map(|m| m.bytes()) {
            out.push((at("new_version"), e));
        }
        let a = &self.analysis;
        let mut analysis = |key: &str, message: String| {
            let mut p = at("analysis");
            p.push(PathSegment::from(key));
            out.push((p, message));
        };
        if a.interval.0 == 0 {
            analysis(
                "interval",
                "the analysis interval must be greater than zero".into(),
            );
        }
        if a.error_rate.is_none() && a.p95.is_none() && a.memory.is_none() && a.compare.is_none() {
            analysis(
                "interval",
                "an analysis needs a bound (`error_rate`, `p95`, `memory`) or `compare: baseline`"
                    .into(),
            );
        }
        for (key, f) in [("error_rate", a.error_rate), ("memory", a.memory)] {
            if let Some(f) = f.filter(|f| !(f.0 > 0.0 && f.0 <= 1.0)) {
                analysis(
                    key,
                    format!("`{key}` must be in (0 %, 100 %], found {}", f.0 * 100.0),
                );
            }
        }
        if let Some(c) = a.confidence {
            if a.compare.is_none() {
                analysis(
                    "confidence",
                    "`confidence` applies to `compare: baseline`".into(),
                );
            } else if !(c.0 > 0.5 && c.0 < 1.0) {
                analysis(
                    "confidence",
                    format!("confidence must be in (50 %, 100 %), found {}", c.0 * 100.0),
                );
            }
        }
        if a.min_requests == Some(0) {
            analysis("min_requests", "min_requests must be at least 1".into());
        }
        if let Some(d) = &self.drill {
            let mut hook = |key: &str, message: String| {
                let mut p = at("drill");
                p.push(PathSegment::from(key));
                out.push((p, message));
            };
            for (key, cmd) in [
                ("deploy", &d.deploy),
                ("set_weight", &d.set_weight),
                ("promote", &d.promote),
                ("rollback", &d.rollback),
            ] {
                if cmd.trim().is_empty() {
                    hook(key, format!("the `{key}` command is empty"));
                }
            }
            // A blue-green plan of one switch (every weight 100 %) has no weight to pass.
            let one_switch = self.strategy == Strategy::BlueGreen
                && self.plan().iter().all(|st| st.weight.0 >= 1.0);
            if !one_switch && !d.set_weight.contains("{weight}") {
                hook(
                    "set_weight",
                    "`set_weight` must name `{weight}` (the step's weight in percent)".into(),
                );
            }
            match (&d.memory, self.analysis.memory) {
                (Some(cmd), _) if cmd.trim().is_empty() => {
                    hook("memory", "the `memory` command is empty".into())
                }
                (Some(_), None) => hook(
                    "memory",
                    "`memory` reads memory for the analysis' `memory:` bound, and there is none"
                        .into(),
                ),
                _ => {}
            }
            if d.version_header.trim().is_empty() || not_a_header_name(&d.version_header) {
                hook(
                    "version_header",
                    format!("`{}` is not an HTTP header name", d.version_header),
                );
            }
            if d.timeout.0 == 0 {
                hook(
                    "timeout",
                    "a hook's timeout must be greater than zero".into(),
                );
            }
            if let Some(r) = d.rate.filter(|r| !(r.0 > 0.0 && r.0.is_finite())) {
                hook(
                    "rate",
                    format!("the load's rate must be above zero, found {r}"),
                );
            }
            if d.memory.is_none() && self.analysis.memory.is_some() {
                let mut p = at("analysis");
                p.push(PathSegment::from("memory"));
                out.push((
                    p,
                    "a drilled rollout's `memory:` bound needs a `memory` command in its `drill:` that prints the new version's memory (without it every analysis fails for want of data)"
                        .into(),
                ));
            }
            for (i, j) in d.journeys.iter().enumerate() {
                if !s.workload.journeys.iter().any(|w| &w.name == j) {
                    let mut p = at("drill");
                    p.push(PathSegment::from("journeys"));
                    p.push(PathSegment::from(i));
                    out.push((p, format!("no journey `{j}` in the workload")));
                }
            }
        }
        out
    }
}

/// Not an HTTP header name (RFC 9110 token characters).
fn not_a_header_name(name: &str) -> bool {
    !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// What one interval of the rollout saw: the new version's visits and those of the old.
#[derive(Clone, Debug, Default)]
pub struct IntervalSample {
    pub new_requests: u64,
    pub new_errors: u64,
    /// Sojourns (queue + service) of the new version's successful visits, in seconds.
    pub new_latency_s: Vec<f64>,
    pub old_requests: u64,
    pub old_errors: u64,
    pub old_latency_s: Vec<f64>,
    /// The new version's pods' memory working set over their request (None: not modelled).
    pub new_memory: Option<f64>,
    /// Why `new_memory` is None where it was asked for (a drill's `memory` hook failed).
    pub memory_unread: Option<String>,
}

/// The verdict of one analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Too few requests to judge: neither a pass nor a failure.
    Inconclusive,
}

/// One analysis: what it measured and decided (and why, when it failed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    pub at_s: f64,
    pub verdict: Verdict,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    /// One-sided p-values of the comparison with the baseline (latency, errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_latency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_errors: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Analysis {
    /// Judges one interval, one of `comparisons` a baseline comparison shares its confidence
    /// over ([`RolloutSpec::planned_analyses`]). Consumes the latency samples' order (sorts
    /// them).
    pub fn judge(
        &self,
        at_s: f64,
        sample: &mut IntervalSample,
        comparisons: u32,
    ) -> AnalysisRecord {
        let n = sample.new_requests;
        let error_rate = (n > 0).then(|| sample.new_errors as f64 / n as f64);
        let p95 = quantile(&mut sample.new_latency_s, 0.95);
        let mut record = AnalysisRecord {
            at_s,
            verdict: Verdict::Pass,
            requests: n,
            errors: sample.new_errors,
            error_rate,
            p95_ms: p95.map(|s| s * 1e3),
            memory: sample.new_memory,
            p_latency: None,
            p_errors: None,
            reason: String::new(),
        };
        let fail = |record: &mut AnalysisRecord, why: String| {
            record.verdict = Verdict::Fail;
            if !record.reason.is_empty() {
                record.reason.push_str("; ");
            }
            record.reason.push_str(&why);
        };
        if n < self.min_requests.unwrap_or(1) {
            record.verdict = Verdict::Inconclusive;
            record.reason = format!("{n} requests reached the new version");
            return record;
        }
        if let (Some(bound), Some(r)) = (self.error_rate, error_rate) {
            if r > bound.0 {
                fail(
                    &mut record,
                    format!("error rate {:.2} % > {:.2} %", r * 100.0, bound.0 * 100.0),
                );
            }
        }
        if let Some(bound) = self.p95 {
            match p95 {
                Some(p) if p > bound.as_secs_f64() => {
                    fail(&mut record, format!("p95 {:.1} ms > {}", p * 1e3, bound))
                }
                None => fail(&mut record, "p95: no successful request (no data)".into()),
                _ => {}
            }
        }
        if let Some(bound) = self.memory {
            match sample.new_memory {
                Some(m) if m > bound.0 => fail(
                    &mut record,
                    format!("memory {:.1} % > {:.1} %", m * 100.0, bound.0 * 100.0),
                ),
                // A bound nothing could be read against is no evidence that it holds.
                None => fail(
                    &mut record,
                    format!(
                        "memory: not observed ({})",
                        sample.memory_unread.as_deref().unwrap_or("no data")
                    ),
                ),
                _ => {}
            }
        }
        if self.compare.is_some() {
            let alpha =
                (1.0 - self.confidence.map_or(0.95, |c| c.0)) / f64::from(comparisons.max(1));
            let lat = mann_whitney_greater(&sample.new_latency_s, &sample.old_latency_s);
            let err = two_proportion_greater(
                sample.new_errors,
                n,
                sample.old_errors,
                sample.old_requests,
            );
            record.p_latency = lat.map(|t| t.p_value);
            record.p_errors = err.map(|t| t.p_value);
            if let Some(p) = record.p_latency.filter(|p| *p < alpha) {
                fail(
                    &mut record,
                    format!("latency worse than the baseline (Mann-Whitney p = {p:.4})"),
                );
            }
            if let Some(p) = record.p_errors.filter(|p| *p < alpha) {
                fail(
                    &mut record,
                    format!("errors worse than the baseline (two-proportion p = {p:.4})"),
                );
            }
            if lat.is_none() && err.is_none() && record.verdict == Verdict::Pass {
                record.verdict = Verdict::Inconclusive;
                record.reason = "no baseline requests to compare with".into();
            }
        }
        record
    }
}

/// How a rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Promoted,
    RolledBack,
    /// The horizon came before a decision (or no analysis ever had data).
    InProgress,
}

/// One replication's rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutRun {
    pub outcome: Outcome,
    /// When the decision (promotion or rollback) came, from the run's start.
    pub decided_at_s: Option<f64>,
    /// When the losing version's replicas were gone (the decision plus the termination
    /// grace period): the cluster holds one version again. None before the horizon.
    #[serde(default)]
    pub completed_at_s: Option<f64>,
    /// When the new version first took traffic (blue-green: the switch).
    pub first_traffic_s: Option<f64>,
    /// Visits the new version served, and those that failed (the damage a bad release did).
    pub requests_new: u64,
    pub errors_new: u64,
    /// Journeys started over the run (the denominator of the damage's share).
    pub journeys: u64,
    /// The new version's weight over time: (seconds, weight).
    pub weights: Vec<[f64; 2]>,
    pub analyses: Vec<AnalysisRecord>,
}

impl RolloutRun {
    /// A rollout before its start: no traffic, weight 0 from time 0.
    pub fn not_started() -> RolloutRun {
        RolloutRun {
            outcome: Outcome::InProgress,
            decided_at_s: None,
            completed_at_s: None,
            first_traffic_s: None,
            requests_new: 0,
            errors_new: 0,
            journeys: 0,
            weights: vec![[0.0, 0.0]],
            analyses: Vec::new(),
        }
    }
}

/// A rollout over the replications (`summary.json` `rollouts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutSummary {
    pub name: String,
    pub service: String,
    pub strategy: Strategy,
    /// The most frequent outcome over the replications (ties: the worse, rolled back first).
    pub outcome: Outcome,
    pub outcomes: OutcomeCounts,
    /// Mean over the replications that decided (null if none did).
    pub decided_at_s: Option<f64>,
    pub decided_at_ci95: Option<[f64; 2]>,
    /// The rollout's duration: from its start (`at`) to the losing version's replicas gone
    /// (fully promoted or rolled back), mean over the replications that got there (null if
    /// none did), with its Student-t interval.
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub duration_ci95: Option<[f64; 2]>,
    /// The time its plan takes to promote a version that passes: its pauses summed (what a
    /// sweep's `--pick fastest` ranks by).
    #[serde(default)]
    pub planned_pause_s: f64,
    /// Mean time from the rollout's start to the new version's first traffic (pods placed
    /// and started; blue-green: the whole green stack).
    pub wait_for_pods_s: Option<f64>,
    pub requests_new: f64,
    pub errors_new: f64,
    pub errors_new_ci95: Option<[f64; 2]>,
    /// The predicted user-facing damage: failed visits attributable to the new version, as a
    /// share of all journeys started (mean), and the worst replication's count.
    pub damage_share: f64,
    pub worst_errors_new: u64,
    /// The largest damage share of any replication (the worst case a sweep's `--bound`
    /// judges).
    #[serde(default)]
    pub worst_damage_share: f64,
    /// Every replication, in order (the report's timeline draws the first).
    pub runs: Vec<RolloutRun>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub promoted: u32,
    pub rolled_back: u32,
    pub in_progress: u32,
}

impl RolloutSummary {
    /// Summarises the replications' runs of `spec` (`ci95` is the caller's Student-t interval).
    pub fn over(
        spec: &RolloutSpec,
        runs: Vec<RolloutRun>,
        ci95: impl Fn(&[f64]) -> Option<[f64; 2]>,
    ) -> RolloutSummary {
        let mut counts = OutcomeCounts::default();
        for r in &runs {
            match r.outcome {
                Outcome::Promoted => counts.promoted += 1,
                Outcome::RolledBack => counts.rolled_back += 1,
                Outcome::InProgress => counts.in_progress += 1,
            }
        }
        let outcome = [
            (counts.rolled_back, Outcome::RolledBack),
            (counts.promoted, Outcome::Promoted),
            (counts.in_progress, Outcome::InProgress),
        ]
        .into_iter()
        .fold((0, Outcome::InProgress), |best, c| {
            if c.0 > best.0 {
                c
            } else {
                best
            }
        })
        .1;
        let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
        let decided: Vec<f64> = runs.iter().filter_map(|r| r.decided_at_s).collect();
        let waits: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.first_traffic_s.map(|t| t - spec.at.as_secs_f64()))
            .collect();
        let errors: Vec<f64> = runs.iter().map(|r| r.errors_new as f64).collect();
        let requests: Vec<f64> = runs.iter().map(|r| r.requests_new as f64).collect();
        let shares: Vec<f64> = runs
            .iter()
            .map(|r| r.errors_new as f64 / (r.journeys.max(1)) as f64)
            .collect();
        let durations: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.completed_at_s.map(|t| t - spec.at.as_secs_f64()))
            .collect();
        RolloutSummary {
            name: spec.name.clone(),
            service: spec.service.clone(),
            strategy: spec.strategy,
            outcome,
            outcomes: counts,
            decided_at_s: mean(&decided),
            decided_at_ci95: ci95(&decided),
            duration_s: mean(&durations),
            duration_ci95: ci95(&durations),
            planned_pause_s: spec.total_pause_s(),
            wait_for_pods_s: mean(&waits),
            requests_new: mean(&requests).unwrap_or(0.0),
            errors_new: mean(&errors).unwrap_or(0.0),
            errors_new_ci95: ci95(&errors),
            damage_share: mean(&shares).unwrap_or(0.0),
            worst_errors_new: runs.iter().map(|r| r.errors_new).max().unwrap_or(0),
            worst_damage_share: shares.iter().copied().fold(0.0, f64::max),
            runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(text: &str) -> Analysis {
        serde_yaml_ng::from_str(text).expect("analysis")
    }

    fn sample(n: u64, errors: u64, latency_ms: &[f64]) -> IntervalSample {
        IntervalSample {
            new_requests: n,
            new_errors: errors,
            new_latency_s: latency_ms.iter().map(|m| m / 1e3).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn bounds_fail_the_interval_that_crosses_them_and_no_data_is_not_a_pass() {
        let a = analysis("{interval: 30s, error_rate: 1%, p95: 1s}");
        let lat: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(
            a.judge(30.0, &mut sample(100, 1, &lat), 1).verdict,
            Verdict::Pass
        );
        let r = a.judge(30.0, &mut sample(100, 2, &lat), 1);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.reason.contains("error rate 2.00 %"), "{}", r.reason);
        // p95 by nearest rank of 1..=100 ms plus one slow tail: 95 ms; with 6 values of 2 s
        // among 100 it is 2 s.
        let mut slow = lat.clone();
        slow[94..].iter_mut().for_each(|v| *v = 2000.0);
        let r = a.judge(30.0, &mut sample(100, 0, &slow), 1);
        assert_eq!((r.verdict, r.p95_ms), (Verdict::Fail, Some(2000.0)));
        assert_eq!(
            a.judge(30.0, &mut sample(0, 0, &[]), 1).verdict,
            Verdict::Inconclusive
        );
        // A memory bound with no memory read (a drill, a service without `memory:`) fails.
        let bounded = analysis("{interval: 30s, error_rate: 1%, p95: 1s, memory: 90%}");
        let r = bounded.judge(30.0, &mut sample(100, 0, &lat), 1);
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.reason);
        assert!(
            r.reason.contains("memory: not observed (no data)"),
            "{}",
            r.reason
        );
        // A drill's failed reading says why; a reading above the bound fails, below passes.
        let mut unread = sample(100, 0, &lat);
        unread.memory_unread = Some("the `memory` command: exit status 1".into());
        let r = bounded.judge(30.0, &mut unread, 1);
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.reason.ends_with("(the `memory` command: exit status 1)"),
            "{}",
            r.reason
        );
        for (m, verdict) in [(0.95, Verdict::Fail), (0.6, Verdict::Pass)] {
            let mut read = sample(100, 0, &lat);
            read.new_memory = Some(m);
            let r = bounded.judge(30.0, &mut read, 1);
            assert_eq!((r.verdict, r.memory), (verdict, Some(m)), "{}", r.reason);
        }
    }

    #[test]
    fn the_seeds_rules_parse_and_check() {
        let text = "name: t\nhorizon: 1h\nservices:\n  api: {service_time: {constant: 1ms}}\n\
            workload: {arrivals: {poisson: {rate: 1/s}}, journeys: [{name: j, steps: [{service: api}]}]}\n\
            rollouts:\n  - {name: v2, service: api, at: 5m, strategy: canary,\n     \
            steps: [{weight: 10%, pause: 10m}, {weight: 50%, pause: 10m}, {weight: 100%}],\n     \
            new_version: {errors: 0.5%}, analysis: {interval: 1m, error_rate: 1%, p95: 1s}}\n";
        let (s, _) = crate::parse_scenario(text, "t.yaml", &[]).expect("valid");
        assert_eq!(s.rollouts[0].total_pause_s(), 1200.0);
        assert_eq!(s.rollouts[0].plan().len(), 3);
    }
}
