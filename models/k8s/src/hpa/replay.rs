//! Replaying a recorded per-pod metric series through the controller: what replicas would
//! this HorizontalPodAutoscaler have chosen at every sync?
//!
//! The series is CSV text with a header `time,pod,ready,cpu,memory[,METRIC...]`:
//! - `time`: seconds since the recording started (`90`, `90.5`) or a duration (`1m30s` is not
//!   accepted; `90s`, `1.5m` are);
//! - `pod`: the pod's name, or empty for a row that carries Object/External metric values;
//! - `ready`: `true`/`false` (Running, Ready condition), `pending`, `deleting`, `failed`,
//!   `succeeded`;
//! - `cpu`, `memory`: usage as Kubernetes quantities (`250m`, `0.25`; `512Mi`); empty = no
//!   sample for that pod;
//! - every further column: a custom metric by name (a Pods metric on pod rows, an Object or
//!   External metric on pod-less rows), as a quantity.
//!
//! Rows with the same `time` form one scrape. Syncs happen every `sync_period` from the first
//! scrape; each sync sees the latest scrape at or before it. A pod starts when it first
//! appears, and its Ready condition last changed when its `ready` value last changed. The
//! recorded pods are what really ran: the replay shows the controller's decisions, it cannot
//! change the metrics those decisions would have caused.

use super::controller::{Autoscaler, ControllerConfig, MetricObservation, Scale};
use super::pods::{
    classify, ConditionStatus, PodClass, PodPhase, PodState, ReadyCondition, SampleTime,
};
use super::replica_calculator::{PodCount, PodSample};
use super::spec::{MetricKind, Quantity, ResolvedHpa, ResourceTarget};
use super::target::PodSpec;
use models::units::Duration;
use std::collections::BTreeMap;

/// A pod's lifecycle state in one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    Pending,
    Ready,
    NotReady,
    Deleting,
    Failed,
    Succeeded,
}

impl RowState {
    fn parse(s: &str) -> Option<RowState> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "ready" => Some(RowState::Ready),
            "false" | "0" | "notready" | "unready" => Some(RowState::NotReady),
            "pending" => Some(RowState::Pending),
            "deleting" | "terminating" => Some(RowState::Deleting),
            "failed" => Some(RowState::Failed),
            "succeeded" => Some(RowState::Succeeded),
            _ => None,
        }
    }
}

/// One CSV row.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    pub time: Duration,
    pub pod: Option<String>,
    pub state: RowState,
    pub cpu_milli: Option<i64>,
    pub memory_milli: Option<i64>,
    pub custom: BTreeMap<String, i64>,
}

/// A parsed metric series, rows in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSeries {
    pub columns: Vec<String>,
    pub rows: Vec<SeriesRow>,
}

fn parse_time(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    match t.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(Duration::from_secs_f64(x)),
        Ok(_) => Err(format!(
            "time `{t}` must be a non-negative number of seconds"
        )),
        Err(_) => Duration::parse(t),
    }
}

fn parse_quantity(s: &str) -> Result<Option<i64>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    Quantity::parse(t).map(|q| Some(q.milli_value()))
}

/// Parses the series CSV. Errors name the line (1-based) and the column.
pub fn parse_series(text: &str) -> Result<MetricSeries, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (_, header) = lines
        .next()
        .ok_or("the metrics CSV is empty (expected a header time,pod,ready,cpu,memory)")?;
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    let expected = ["time", "pod", "ready", "cpu", "memory"];
    if columns.len() < expected.len() || columns[..5] != expected {
        return Err(format!(
            "line 1: the header must start with time,pod,ready,cpu,memory; got `{}`",
            header.trim()
        ));
    }
    let custom: Vec<String> = columns[5..].to_vec();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let at = |col: &str, e: String| format!("line {}, column `{col}`: {e}", i + 1);
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != columns.len() {
            return Err(format!(
                "line {}: {} cells, the header has {}",
                i + 1,
                cells.len(),
                columns.len()
            ));
        }
        let pod = Some(cells[1].trim())
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let state = if pod.is_none() && cells[2].trim().is_empty() {
            RowState::Ready
        } else {
            RowState::parse(cells[2]).ok_or_else(|| {
                at(
                    "ready",
                    format!(
                        "`{}` is not one of true, false, pending, deleting, failed, succeeded",
                        cells[2].trim()
                    ),
                )
            })?
        };
        let mut row = SeriesRow {
            time: parse_time(cells[0]).map_err(|e| at("time", e))?,
            pod,
            state,
            cpu_milli: parse_quantity(cells[3]).map_err(|e| at("cpu", e))?,
            memory_milli: parse_quantity(cells[4]).map_err(|e| at("memory", e))?,
            custom: BTreeMap::new(),
        };
        for (name, cell) in custom.iter().zip(&cells[5..]) {
            if let Some(v) = parse_quantity(cell).map_err(|e| at(name, e))? {
                row.custom.insert(name.clone(), v);
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("the metrics CSV has a header but no rows".into());
    }
    // A stable sort keeps the order of rows within one scrape.
    rows.sort_by_key(|r| r.time);
    Ok(MetricSeries {
        columns: custom,
        rows,
    })
}

impl MetricSeries {
    /// The mean over the pod rows of the last scrape at or before `t` of `column` (`cpu`,
    /// `memory` or a custom column), in milli-units; rows without a value are skipped. An
    /// object row (no pod) is used when the scrape has no pod row with a value.
    pub fn mean_at(&self, t: Duration, column: &str) -> Option<f64> {
        let end = self.rows.partition_point(|r| r.time <= t);
        let last = self.rows[..end].last()?.time;
        let value = |r: &SeriesRow| resource_value(r, column);
        let scrape = self.rows[..end].iter().rev().take_while(|r| r.time == last);
        let (mut sum, mut n, mut object) = (0i128, 0i128, None);
        for r in scrape {
            match (&r.pod, value(r)) {
                (Some(_), Some(v)) => {
                    sum += i128::from(v);
                    n += 1;
                }
                (None, Some(v)) => object = Some(v as f64),
                _ => {}
            }
        }
        if n > 0 {
            Some(sum as f64 / n as f64)
        } else {
            object
        }
    }
}

/// Settings of a replay beyond the controller flags.
#[derive(Clone, Debug)]
pub struct ReplaySettings {
    pub controller: ControllerConfig,
    /// The window a resource sample averages over (metrics-server's resolution).
    pub metric_window: Duration,
    /// The pod template, for requests (Utilization targets need it).
    pub template: Option<PodSpec>,
    /// `spec.replicas` at the start; `None` = the pods of the first scrape.
    pub initial_replicas: Option<i32>,
}

pub use models::hpa::ReplayStep;

fn resource_value(row: &SeriesRow, name: &str) -> Option<i64> {
    match name {
        "cpu" => row.cpu_milli,
        "memory" => row.memory_milli,
        other => row.custom.get(other).copied(),
    }
}

/// Checks, before any sync, that the series and the template can feed every metric.
pub fn check(
    hpa: &ResolvedHpa,
    series: &MetricSeries,
    template: Option<&PodSpec>,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let has = |c: &str| series.columns.iter().any(|x| x == c);
    for (i, m) in hpa.metrics.iter().enumerate() {
        let at = format!("spec.metrics[{i}]");
        match m {
            MetricKind::Resource {
                name,
                container,
                target,
            } => {
                if name != "cpu" && name != "memory" && !has(name) {
                    problems.push(format!(
                        "{at}: the metrics CSV has no column `{name}` for this resource"
                    ));
                }
                if let ResourceTarget::Utilization(_) = target {
                    match template {
                        None => problems.push(format!(
                            "{at}: a Utilization target needs the pods' requests: pass --deployment with the target's manifest"
                        )),
                        Some(t) => {
                            if let Err(e) = t.request_milli(name, container.as_deref()) {
                                problems.push(format!("{at}: {e} (the controller would fail this metric on every sync)"));
                            }
                        }
                    }
                }
            }
            MetricKind::Pods { metric, .. }
            | MetricKind::Object { metric, .. }
            | MetricKind::External { metric, .. } => {
                if !has(metric) {
                    problems.push(format!("{at}: the metrics CSV has no column `{metric}`"));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What the replay knows of one pod up to a sync.
struct PodHistory {
    started: Duration,
    ready: bool,
    ready_since: Duration,
}

/// Runs the controller at every sync over the series.
pub fn replay(
    hpa: &ResolvedHpa,
    series: &MetricSeries,
    settings: &ReplaySettings,
) -> Vec<ReplayStep> {
    let mut steps = Vec::new();
    let (Some(first), Some(last)) = (series.rows.first(), series.rows.last()) else {
        return steps;
    };
    let (start, end) = (first.time, last.time);
    let period = settings.controller.sync_period.0.max(1);
    let mut a = Autoscaler::new(hpa.clone(), settings.controller);
    let mut history: BTreeMap<String, PodHistory> = BTreeMap::new();
    let mut next_row = 0;
    let mut current: Option<i32> = settings.initial_replicas;
    let mut t = start;
    while t <= end {
        // Fold every row up to t into the pods' histories.
        while let Some(r) = series.rows.get(next_row).filter(|r| r.time <= t) {
            if let Some(p) = &r.pod {
                let ready = r.state == RowState::Ready;
                let h = history.entry(p.clone()).or_insert(PodHistory {
                    started: r.time,
                    ready,
                    ready_since: r.time,
                });
                if h.ready != ready {
                    h.ready = ready;
                    h.ready_since = r.time;
                }
            }
            next_row += 1;
        }
        let scrape_time = series.rows[..next_row].last().map_or(start, |r| r.time);
        let scrape: Vec<&SeriesRow> = series.rows[..next_row]
            .iter()
            .rev()
            .take_while(|r| r.time == scrape_time)
            .collect();
        let pod_rows: Vec<&SeriesRow> = scrape
            .iter()
            .rev()
            .copied()
            .filter(|r| r.pod.is_some())
            .collect();
        let object_row = scrape.iter().copied().find(|r| r.pod.is_none());
        let state_of = |r: &SeriesRow| -> PodState {
            let h = r.pod.as_ref().and_then(|p| history.get(p));
            PodState {
                phase: match r.state {
                    RowState::Pending => PodPhase::Pending,
                    RowState::Failed => PodPhase::Failed,
                    RowState::Succeeded => PodPhase::Succeeded,
                    _ => PodPhase::Running,
                },
                deleting: r.state == RowState::Deleting,
                start_time: h.map(|h| h.started),
                ready: h.map(|h| ReadyCondition {
                    status: if h.ready {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    },
                    last_transition: h.ready_since,
                }),
            }
        };
        let live = pod_rows
            .iter()
            .filter(|r| {
                !matches!(
                    r.state,
                    RowState::Deleting | RowState::Failed | RowState::Succeeded
                )
            })
            .count();
        let ready_pods = pod_rows
            .iter()
            .filter(|r| r.state == RowState::Ready)
            .count();
        let count = PodCount {
            listed: pod_rows.len(),
            running_and_ready: ready_pods,
        };
        let cur = *current.get_or_insert(live as i32);
        let observations: Vec<MetricObservation> = hpa
            .metrics
            .iter()
            .map(|m| match m {
                MetricKind::Resource {
                    name, container, ..
                } => {
                    let request = settings
                        .template
                        .as_ref()
                        .and_then(|tp| tp.request_milli(name, container.as_deref()).ok());
                    per_pod(
                        &pod_rows,
                        &state_of,
                        settings,
                        t,
                        m.is_cpu(),
                        request,
                        |r| resource_value(r, name),
                    )
                }
                MetricKind::Pods { metric, .. } => {
                    per_pod(&pod_rows, &state_of, settings, t, false, None, |r| {
                        r.custom.get(metric).copied()
                    })
                }
                MetricKind::Object { metric, .. } => {
                    match object_row.and_then(|r| r.custom.get(metric)) {
                        Some(v) => MetricObservation::Object {
                            value_milli: *v,
                            pods: count,
                        },
                        None => MetricObservation::Unavailable(format!(
                            "no value of `{metric}` at {}s",
                            scrape_time.as_secs_f64()
                        )),
                    }
                }
                MetricKind::External { metric, .. } => {
                    match object_row.and_then(|r| r.custom.get(metric)) {
                        Some(v) => MetricObservation::External {
                            series_milli: vec![*v],
                            pods: count,
                        },
                        None => MetricObservation::Unavailable(format!(
                            "no value of `{metric}` at {}s",
                            scrape_time.as_secs_f64()
                        )),
                    }
                }
            })
            .collect();
        let out = a.reconcile(
            t,
            Scale {
                spec_replicas: cur,
                status_replicas: live as i32,
            },
            &observations,
        );
        steps.push(ReplayStep {
            time: Duration(t.0 - start.0),
            current: cur,
            metric_desired: out.metric_desired,
            replicas: out.replicas,
            decision: out.decision.label(),
            pods: pod_rows.len(),
            ready_pods,
        });
        current = Some(out.replicas);
        t = Duration(t.0.saturating_add(period));
    }
    steps
}

fn per_pod(
    rows: &[&SeriesRow],
    state_of: &dyn Fn(&SeriesRow) -> PodState,
    settings: &ReplaySettings,
    now: Duration,
    is_cpu: bool,
    request: Option<i64>,
    value: impl Fn(&SeriesRow) -> Option<i64>,
) -> MetricObservation {
    let pods = rows
        .iter()
        .map(|r| {
            let v = value(r);
            let sample = v.map(|_| SampleTime {
                timestamp: r.time,
                window: settings.metric_window,
            });
            let class: PodClass = classify(
                &state_of(r),
                sample,
                is_cpu,
                settings.controller.cpu_readiness,
                now,
            );
            PodSample {
                name: r.pod.clone().unwrap_or_default(),
                class,
                request_milli: request,
                value_milli: v,
            }
        })
        .collect();
    MetricObservation::PerPod {
        pods,
        stray: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_line_and_column() {
        let bad = "time,pod,ready,cpu,memory\n0,a,true,abc,\n";
        assert_eq!(
            parse_series(bad).err().as_deref(),
            Some("line 2, column `cpu`: `abc` is not a Kubernetes quantity (e.g. 500m, 2, 1.5Gi, 10k)")
        );
        assert!(parse_series("t,pod\n").is_err());
        let s = parse_series("time,pod,ready,cpu,memory,qps\n15s,a,true,250m,1Gi,12\n0,,,,,3\n")
            .expect("valid");
        assert_eq!(s.rows[0].time, Duration::ZERO, "rows are sorted by time");
        assert_eq!(s.rows[1].cpu_milli, Some(250));
        assert_eq!(s.rows[1].custom.get("qps"), Some(&12_000));
    }
}
