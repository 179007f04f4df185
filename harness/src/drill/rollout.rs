//! A rollout drilled in reality (`twin drill --rollout NAME`): the controller Argo Rollouts or
//! Flagger would be, driving the user's hooks while the drill's load runs. At the rollout's
//! `at` it runs the deploy hook, then for each step the `set_weight` hook; from the first
//! traffic on, every analysis interval it judges the calls the load saw answered in that
//! interval, split by the response header that names the version, with the simulator's own
//! judgement (`models::rollout::Analysis::judge`). A failed analysis runs the rollback hook and
//! stops the drill; once every step's pause is over and an analysis has passed, the promote
//! hook runs. The timeline (when weights apply, when analyses run, what a promotion needs) is
//! the simulator's (`sim::rollout`), so the decision times can be set side by side.
//!
//! A hook that fails stops the controller with the hook as the failed step: the drill then
//! runs its rollback (the rollback hook) as after any failed step. The `memory` hook is a
//! reading, not an action: it runs at each analysis (after the interval's calls are taken)
//! and what it prints is the new version's memory for the analysis' bound; when it fails or
//! prints no reading, the analysis has no data, and the bound fails with the reason.

use super::run::{interrupted, Log, VersionTap, VersionedCall};
use super::steps::{Redactor, StepRecord};
use models::rollout::{
    Hook, IntervalSample, Outcome, RolloutDrill, RolloutRun, RolloutSpec, Verdict,
};
use models::Duration as Span;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The controller's thread: the hooks it ran, the hook that failed, the rollout's record.
pub(super) type Controller = std::thread::JoinHandle<(Vec<StepRecord>, Option<String>, RolloutRun)>;

/// Runs the rollout drill of `spec` (its hooks `hooks`; `drill` is
/// [`RolloutDrill::drill_spec`], whose load and rollback apply). Blocks.
pub fn run(
    scenario: &models::Scenario,
    spec: &RolloutSpec,
    hooks: &RolloutDrill,
    drill: &models::drill::DrillSpec,
    cfg: &super::run::DrillConfig,
    redactor: &Redactor,
) -> Result<super::run::DrillRun, String> {
    super::run::run_with(scenario, drill, cfg, redactor, Some((spec, hooks)))
}

/// One interval's calls as the judgement takes them: requests and errors per version, and
/// the latencies of the successful ones.
pub fn interval_sample(calls: &[VersionedCall]) -> IntervalSample {
    let mut s = IntervalSample::default();
    for c in calls {
        let (requests, errors, latency) = if c.new {
            (&mut s.new_requests, &mut s.new_errors, &mut s.new_latency_s)
        } else {
            (&mut s.old_requests, &mut s.old_errors, &mut s.old_latency_s)
        };
        *requests += 1;
        if c.ok {
            latency.push(c.latency_s);
        } else {
            *errors += 1;
        }
    }
    s
}

/// The new version's memory over its request from what the `memory` hook printed: each
/// non-empty line is one pod's reading, a share of the request (`72%`) or a Kubernetes
/// quantity of bytes (`734003200`, `700Mi`) over `request`; the largest counts (the pod
/// nearest its limit is the one a bound is about). Nothing printed is no reading.
pub fn memory_reading(stdout: &str, request: Option<u64>) -> Result<f64, String> {
    let mut largest: Option<f64> = None;
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let share = if let Some(p) = line.strip_suffix('%') {
            p.trim().parse::<f64>().ok().map(|p| p / 100.0)
        } else {
            match (models::platform::parse_memory_bytes(line), request) {
                (Ok(bytes), Some(req)) if req > 0 => Some(bytes as f64 / req as f64),
                (Ok(_), _) => {
                    return Err(format!(
                        "the `memory` command printed bytes (`{line}`) but the pod has no memory request to divide them by"
                    ))
                }
                (Err(_), _) => None,
            }
        };
        match share.filter(|s| s.is_finite() && *s >= 0.0) {
            Some(s) => largest = Some(largest.map_or(s, |l: f64| l.max(s))),
            None => {
                return Err(format!(
                    "the `memory` command printed `{line}`, not a memory reading (a share such as `72%`, or bytes such as `734003200` or `700Mi`)"
                ))
            }
        }
    }
    largest.ok_or_else(|| "the `memory` command printed nothing".to_string())
}

/// What the controller starts from: the rollout, its hooks, the load's tap, and the drill's
/// clock, stop flag, redaction and log.
pub(super) struct Start {
    pub spec: RolloutSpec,
    pub hooks: RolloutDrill,
    pub tap: Arc<VersionTap>,
    pub origin: Instant,
    pub stop: Arc<AtomicBool>,
    pub redactor: Redactor,
    pub log: Log,
    /// The service's pod memory request in bytes (what a `memory` reading in bytes is over).
    pub memory_request: Option<u64>,
}

/// The controller's state between its events.
struct Control {
    s: Start,
    done: Vec<StepRecord>,
    run: RolloutRun,
    weight: f64,
}

/// How the controller's loop ended.
enum End {
    /// Decided (and its hook ran), or stopped from outside.
    Finished,
    /// This hook failed: the drill's rollback runs.
    HookFailed(String),
}

impl Control {
    fn now_s(&self) -> f64 {
        self.s.origin.elapsed().as_secs_f64()
    }

    /// Sleeps until `t_s` (seconds from the origin); false if the drill stopped meanwhile.
    fn wait_until(&self, t_s: f64) -> bool {
        let due = self.s.origin + Duration::from_secs_f64(t_s.max(0.0));
        loop {
            if self.s.stop.load(Ordering::SeqCst) || interrupted() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(20)));
        }
    }

    fn hook(&mut self, hook: Hook) -> Result<(), End> {
        let step = self.s.hooks.step(hook, Span::from_secs_f64(self.now_s()));
        let r = self.s.log.run(&step, self.s.origin, &self.s.redactor);
        let ok = r.outcome.ok();
        let label = r.label.clone();
        self.done.push(r);
        if ok {
            Ok(())
        } else {
            Err(End::HookFailed(label))
        }
    }

    fn set_weight(&mut self, weight: f64) -> Result<(), End> {
        self.hook(Hook::SetWeight(weight))?;
        let t = self.now_s();
        self.run.weights.push([t, self.weight]);
        self.weight = weight;
        self.run.weights.push([t, weight]);
        Ok(())
    }

    /// Runs the `memory` hook (if there is one) into `sample`: the reading, or why there is
    /// none.
    fn read_memory(&mut self, sample: &mut IntervalSample) {
        if self.s.hooks.memory.is_none() {
            return;
        }
        let step = self
            .s
            .hooks
            .step(Hook::Memory, Span::from_secs_f64(self.now_s()));
        let r = self.s.log.run(&step, self.s.origin, &self.s.redactor);
        let reading = if r.outcome.ok() {
            memory_reading(&r.stdout, self.s.memory_request)
        } else {
            Err(format!("the `memory` command: {}", r.outcome.describe()))
        };
        match reading {
            Ok(m) => sample.new_memory = Some(m),
            Err(why) => sample.memory_unread = Some(why),
        }
    }

    /// The decision at `t` (the analysis that made it), then its hook.
    fn decide(&mut self, outcome: Outcome, t: f64) -> End {
        self.run.outcome = outcome;
        self.run.decided_at_s = Some(t);
        let (hook, weight) = match outcome {
            Outcome::Promoted => (Hook::Promote, 1.0),
            _ => (Hook::Rollback, 0.0),
        };
        self.s.log.line(&format!(
            "rollout `{}` {} at {t:.3}s",
            self.s.spec.name,
            if outcome == Outcome::Promoted {
                "promoted"
            } else {
                "rolled back"
            }
        ));
        let r = self.hook(hook);
        let at = self.now_s();
        self.run.weights.push([at, self.weight]);
        self.weight = weight;
        self.run.weights.push([at, weight]);
        match r {
            Ok(()) => End::Finished,
            Err(e) => e,
        }
    }

    /// The rollout from its start to its decision (or the drill's stop).
    fn drive(&mut self) -> Result<End, End> {
        if !self.wait_until(self.s.spec.at.as_secs_f64()) {
            return Ok(End::Finished);
        }
        self.hook(Hook::Deploy)?;
        let plan = self.s.spec.plan();
        let interval = self.s.spec.analysis.interval.as_secs_f64();
        let comparisons = self.s.spec.planned_analyses();
        let mut step = 0;
        self.set_weight(plan[0].weight.0)?;
        let first = self.now_s();
        self.run.first_traffic_s = Some(first);
        // Analyses run from the first traffic on, each over its own interval's calls.
        self.s.tap.take();
        let mut next_analysis = first + interval;
        let mut step_end = first + plan[0].pause.map_or(0.0, |p| p.as_secs_f64());
        let mut plan_done = false;
        loop {
            let passed = self.run.analyses.iter().any(|a| a.verdict == Verdict::Pass);
            if !plan_done && step + 1 >= plan.len() && self.now_s() >= step_end {
                // Every pause is over: promoted now if an analysis passed (a promotion needs
                // evidence), else by the next one that passes.
                plan_done = true;
                if passed {
                    return Ok(self.decide(Outcome::Promoted, self.now_s()));
                }
            }
            let analysis_first = plan_done || next_analysis <= step_end;
            let due = if analysis_first {
                next_analysis
            } else {
                step_end
            };
            if !self.wait_until(due) {
                return Ok(End::Finished);
            }
            if analysis_first {
                let mut sample = interval_sample(&self.s.tap.take());
                self.read_memory(&mut sample);
                let record = self
                    .s
                    .spec
                    .analysis
                    .judge(next_analysis, &mut sample, comparisons);
                self.s.log.line(&format!(
                    "analysis at {next_analysis:.3}s: {:?} ({} requests to the new version, {} errors{}{}{})",
                    record.verdict,
                    record.requests,
                    record.errors,
                    record
                        .p95_ms
                        .map_or(String::new(), |p| format!(", p95 {p:.1} ms")),
                    record
                        .memory
                        .map_or(String::new(), |m| format!(", memory {:.1} %", m * 100.0)),
                    if record.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", record.reason)
                    }
                ));
                let verdict = record.verdict;
                self.run.analyses.push(record);
                match verdict {
                    Verdict::Fail => return Ok(self.decide(Outcome::RolledBack, next_analysis)),
                    Verdict::Pass if plan_done => {
                        return Ok(self.decide(Outcome::Promoted, next_analysis))
                    }
                    _ => {}
                }
                next_analysis += interval;
            } else if step + 1 < plan.len() {
                step += 1;
                self.set_weight(plan[step].weight.0)?;
                step_end = self.now_s() + plan[step].pause.map_or(0.0, |p| p.as_secs_f64());
            }
        }
    }
}

/// Starts the controller on a thread of its own; it sets `stop` (which ends the load) once
/// the rollout is decided and its hook ran, or a hook failed.
pub(super) fn spawn(start: Start) -> Controller {
    std::thread::spawn(move || {
        let mut c = Control {
            s: start,
            done: Vec::new(),
            run: RolloutRun::not_started(),
            weight: 0.0,
        };
        let end = c.drive().unwrap_or_else(|e| e);
        c.s.stop.store(true, Ordering::SeqCst);
        let failed = match end {
            End::Finished => None,
            End::HookFailed(label) => Some(label),
        };
        (c.done, failed, c.run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_splits_by_version_and_keeps_successful_latencies() {
        let call = |new, ok, latency_s| VersionedCall { new, ok, latency_s };
        let calls = [
            call(true, true, 0.010),
            call(true, false, 0.500),
            call(false, true, 0.020),
            call(true, true, 0.030),
            call(false, false, 0.040),
            call(false, true, 0.050),
        ];
        let s = interval_sample(&calls);
        assert_eq!((s.new_requests, s.new_errors), (3, 1));
        assert_eq!((s.old_requests, s.old_errors), (3, 1));
        assert_eq!(s.new_latency_s, vec![0.010, 0.030]);
        assert_eq!(s.old_latency_s, vec![0.020, 0.050]);
    }

    #[test]
    fn a_memory_reading_is_a_share_or_bytes_over_the_request_and_the_largest_pod_counts() {
        let gi = 1u64 << 30;
        let cases: [(&str, Option<u64>, Result<f64, &str>); 9] = [
            ("72%\n", Some(gi), Ok(0.72)),
            ("512Mi", Some(gi), Ok(0.5)),
            ("536870912\n", Some(gi), Ok(0.5)),
            // One line per pod: the fullest counts.
            ("40 %\n\n900Mi\n10%\n", Some(gi), Ok(900.0 / 1024.0)),
            ("", Some(gi), Err("printed nothing")),
            (" \n", Some(gi), Err("printed nothing")),
            // A bare fraction would be bytes: refused, not read as 0.72 bytes.
            ("0.72", Some(gi), Err("not a memory reading")),
            ("-5%", Some(gi), Err("not a memory reading")),
            ("700Mi", None, Err("no memory request")),
        ];
        for (text, request, want) in cases {
            let got = memory_reading(text, request);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert!((w - g).abs() < 1e-12, "{text:?}: {g}"),
                (Err(w), Err(e)) => assert!(e.contains(w), "{text:?}: {e}"),
                _ => panic!("{text:?}: {got:?}"),
            }
        }
    }
}
