//! The `drills:` section of a scenario: chaos and failover drills run against a real
//! deployment by `twin drill`. A drill names the load to keep running (journeys and a rate, as
//! `twin load`), the commands to run on a timeline (`at: 3s, run: "pg_ctl stop -m immediate"`,
//! each a fault, a recovery action or a check, each with a timeout), the `rollback` commands run
//! when it is stopped early, the write audit (which journey writes the audited records and how
//! they are read back), the recovery criteria (window, success rate, p95), the targets
//! (`rto < 30s`, `rpo < 0s`), the hosts it may touch, and optionally the simulated fault that
//! predicts it. Pure types and their checks; the harness runs them.

use crate::faults::FaultSpec;
use crate::slo::{Slo, SloMetric};
use crate::units::{Duration, Fraction, Rate};
use serde::Deserialize;

/// One drill.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub load: DrillLoad,
    /// Commands on the drill's timeline, in the order of their `at`.
    #[serde(default)]
    pub steps: Vec<DrillStep>,
    /// Commands that put the deployment back when the drill stops early (a failed step,
    /// Ctrl-C); run in order, each with its timeout, whatever the previous one did.
    #[serde(default)]
    pub rollback: Vec<DrillStep>,
    /// The write audit; absent: no writes are audited (lost writes are not measured).
    #[serde(default)]
    pub audit: Option<AuditSpec>,
    /// When the service counts as recovered (RTO as the client sees it).
    #[serde(default)]
    pub recovery: RecoveryCriteria,
    /// `rto < 30s`, `rpo < 0s` (`rpo < 0s` means: no acknowledged write lost).
    #[serde(default)]
    pub targets: Vec<Slo>,
    /// Hosts this drill may target, besides the scenario's `allowed_targets`.
    #[serde(default)]
    pub allowed_targets: Vec<String>,
    /// The simulated fault of the same drill: the twin's prediction is simulated with it.
    #[serde(default)]
    pub predict: Option<FaultSpec>,
}

/// The load kept running through the drill.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillLoad {
    /// Journey starts per unit of time, evenly paced (open model: a start never waits for an
    /// earlier journey to finish).
    pub rate: Rate,
    /// How long journeys are started for; the steps' `at` count from its beginning.
    pub duration: Duration,
    /// Journeys to run, by name, started in turn; empty: every journey with `http:` steps.
    #[serde(default)]
    pub journeys: Vec<String>,
    /// Timeout of one request.
    #[serde(default = "default_request_timeout")]
    pub timeout: Duration,
    /// Client retries of a failed request (connection error, timeout, 5xx) with the same
    /// idempotency key; absent: no retry.
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(5)
}

/// How a client retries.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait between attempts.
    #[serde(default = "default_backoff")]
    pub backoff: Duration,
}

fn default_backoff() -> Duration {
    Duration::from_millis(100)
}

/// What a step is for (drawn on the report's timeline; faults start the RTO clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Breaks the deployment: the first one starts the RTO clock and is the RPO's reference.
    #[default]
    Fault,
    /// Degrades without an outage (replication paused, latency added): drawn on the
    /// timeline, does not start the RTO clock.
    Degrade,
    Recovery,
    Check,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Fault => "fault",
            StepKind::Degrade => "degrade",
            StepKind::Recovery => "recovery",
            StepKind::Check => "check",
        }
    }
}

/// One command on the timeline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillStep {
    /// When it starts, from the start of the load (0 for rollback steps).
    #[serde(default)]
    pub at: Duration,
    /// The command: split on whitespace (with `'…'` / `"…"` quoting) and run without a shell,
    /// unless `shell: true`. `${ENV}` is replaced from the environment when it runs and shown
    /// as written everywhere else.
    pub run: String,
    #[serde(default)]
    pub kind: StepKind,
    #[serde(default = "default_step_timeout")]
    pub timeout: Duration,
    /// Run through `sh -c` (pipes, `$(…)`, `&`).
    #[serde(default)]
    pub shell: bool,
    /// A label for the log and the timeline; default the command.
    #[serde(default)]
    pub name: Option<String>,
}

fn default_step_timeout() -> Duration {
    Duration::from_secs(60)
}

impl DrillStep {
    /// The label used in logs and on the timeline.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.run.clone())
    }
}

/// The write audit: `journey` writes records under keys the drill generates (`{key}`: unique
/// and ordered), remembers which were acknowledged and when, and after recovery reads them
/// back through `read` (a GET path template with `{key}`: 2xx present, 404 absent), or with
/// `sql` on `database_url` (the query returns the stored keys in its first column), or not at
/// all (only acknowledgements are counted).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    pub journey: String,
    #[serde(default)]
    pub read: Option<String>,
    #[serde(default)]
    pub sql: Option<String>,
    /// A connection string or `${ENV}` naming the variable that holds one.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Read-back attempts per key while the service still answers 5xx.
    #[serde(default = "default_read_attempts")]
    pub read_attempts: u32,
}

fn default_read_attempts() -> u32 {
    20
}

/// The criteria of "recovered": success rate and p95 within bounds over a whole window.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCriteria {
    /// Window width; default the scenario's `recovery_window`.
    #[serde(default)]
    pub window: Option<Duration>,
    /// Lowest acceptable success rate in a window; default `1 - error_rate` SLO of the
    /// measured journeys, else 99 %.
    #[serde(default)]
    pub success_rate: Option<Fraction>,
    /// Highest acceptable p95 in a window; default the journeys' `p95(...)` SLO, else none.
    #[serde(default)]
    pub p95: Option<Duration>,
}

/// Width of the windows a drill's prediction judges recovery in when the scenario sets no
/// `recovery_resolution`: a drilled outage is often under a second (the loopback PostgreSQL
/// failover: about 0.5 s), which one-second windows would round up to whole seconds.
pub const PREDICTION_RESOLUTION: Duration = Duration(100_000_000);

impl DrillSpec {
    /// The scenario the twin predicts this drill with: `scenario` with the drill's `predict`
    /// fault alone; recovery judged over the drill's recovery window (when it gives one), in
    /// windows of the scenario's `recovery_resolution` or [`PREDICTION_RESOLUTION`]; and, when
    /// the fault names no `detection`, the drill's own: `ran` (from the fault to the start of
    /// the recovery step as the drill ran them: a step waits for the one before it, so a slow
    /// crash command delays the promotion), else the planned gap from its first fault step to
    /// its first recovery step (the scripted promotion is when the drill "detects" the loss).
    pub fn prediction_scenario(
        &self,
        scenario: &crate::Scenario,
        fault: &FaultSpec,
        ran: Option<Duration>,
    ) -> crate::Scenario {
        let mut s = scenario.clone();
        let mut f = fault.clone();
        if f.recovery.detection.is_none() && ran.is_some() {
            f.recovery.detection = ran;
        }
        if f.recovery.detection.is_none() {
            let first = |k: StepKind| self.steps.iter().find(|x| x.kind == k).map(|x| x.at);
            if let (Some(crash), Some(recover)) =
                (first(StepKind::Fault), first(StepKind::Recovery))
            {
                if recover.0 >= crash.0 {
                    f.recovery.detection = Some(Duration(recover.0 - crash.0));
                }
            }
        }
        s.faults = vec![f];
        if let Some(w) = self.recovery.window {
            s.recovery_window = w;
        }
        s.recovery_resolution = s.recovery_resolution.or(Some(PREDICTION_RESOLUTION));
        s
    }

    /// Problems serde cannot see, each with the field it is about (relative to the drill).
    /// `default_window` is the scenario's `recovery_window`, the window when the drill
    /// names none.
    pub fn check(&self, journeys: &[&str], default_window: Duration) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let window = self.recovery.window.unwrap_or(default_window);
        // A window the drill chose must fit; the scenario's default only matters to a drill
        // that is judged on its RTO.
        let judged_on_rto = self.targets.iter().any(|t| t.metric == SloMetric::Rto);
        if self.load.duration.0 > 0
            && window > self.load.duration
            && (self.recovery.window.is_some() || judged_on_rto)
        {
            out.push((
                if self.recovery.window.is_some() {
                    "recovery.window".into()
                } else {
                    "load.duration".into()
                },
                format!(
                    "the recovery window ({window}) is longer than the load ({}): no window \
                     could ever show the service recovered",
                    self.load.duration
                ),
            ));
        }
        if !(self.load.rate.0.is_finite() && self.load.rate.0 > 0.0) {
            out.push((
                "load.rate".into(),
                "the rate must be greater than zero".into(),
            ));
        }
        if self.load.duration.0 == 0 {
            out.push((
                "load.duration".into(),
                "the duration must be greater than zero".into(),
            ));
        }
        for (i, j) in self.load.journeys.iter().enumerate() {
            if !journeys.contains(&j.as_str()) {
                out.push((
                    format!("load.journeys[{i}]"),
                    format!("no journey `{j}` in the workload"),
                ));
            }
        }
        for (list, steps) in [("steps", &self.steps), ("rollback", &self.rollback)] {
            for (i, s) in steps.iter().enumerate() {
                if s.run.trim().is_empty() {
                    out.push((format!("{list}[{i}].run"), "the command is empty".into()));
                }
                if s.timeout.0 == 0 {
                    out.push((
                        format!("{list}[{i}].timeout"),
                        "every step needs a timeout greater than zero".into(),
                    ));
                }
                if list == "steps" && s.at > self.load.duration {
                    out.push((
                        format!("{list}[{i}].at"),
                        format!(
                            "the step starts at {} after the load ends ({})",
                            s.at, self.load.duration
                        ),
                    ));
                }
            }
        }
        if let Some(a) = &self.audit {
            if !journeys.contains(&a.journey.as_str()) {
                out.push((
                    "audit.journey".into(),
                    format!("no journey `{}` in the workload", a.journey),
                ));
            }
            if a.sql.is_some() != a.database_url.is_some() {
                out.push((
                    "audit".into(),
                    "`sql` and `database_url` go together".into(),
                ));
            }
            if a.sql.is_some() && a.read.is_some() {
                out.push((
                    "audit".into(),
                    "read back through `read` or `sql`, not both".into(),
                ));
            }
        }
        for (i, t) in self.targets.iter().enumerate() {
            if !matches!(t.metric, SloMetric::Rto | SloMetric::Rpo) {
                out.push((
                    format!("targets[{i}]"),
                    format!(
                        "`{}`: a drill's targets are `rto < …` and `rpo < …`",
                        t.text
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill(yaml: &str) -> DrillSpec {
        serde_yaml_ng::from_str(yaml).expect("drill")
    }

    #[test]
    fn parses_a_failover_drill() {
        let d = drill(
            r#"
name: db-failover
load: {rate: 50/s, duration: 8s, journeys: [write], retry: {attempts: 3}}
steps:
  - {at: 3s, run: "pg_ctl stop -m immediate", timeout: 10s}
  - {at: 3500ms, run: "pg_ctl promote", kind: recovery}
rollback:
  - {run: "pg_ctl start"}
audit: {journey: write, read: "/__twin/writes/{key}"}
recovery: {window: 1s, success_rate: 99%, p95: 300ms}
targets: [rto < 30s, rpo < 0s]
"#,
        );
        assert_eq!(d.steps.len(), 2);
        assert_eq!(d.steps[1].kind, StepKind::Recovery);
        assert_eq!(d.steps[0].timeout, Duration::from_secs(10));
        assert_eq!(d.rollback[0].timeout, Duration::from_secs(60));
        assert!(!d.steps[0].shell);
        assert_eq!(d.load.retry.as_ref().map(|r| r.attempts), Some(3));
        let w = Duration::from_secs(30);
        assert!(d.check(&["write"], w).is_empty());
        assert_eq!(d.check(&["read"], w).len(), 2);
    }
}
