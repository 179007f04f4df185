//! The HPA test-vector format (`hpa-vectors.json`, conventions in its `meta`): reads a
//! vector's inputs, runs them through this crate's implementation and answers with the fields
//! the vector's kind asks for. It never reads `expected`: a file without answers evaluates the
//! same way.
//!
//! Ages (`age_s`) are turned into times before a fixed `now`; windows and periods are strict
//! as the conventions say, which the behavior module implements on ages.

use super::behavior::{
    self, change_in_period, record_event, Recommendation, ScaleEvent, ScaleEvents, ScalingRules,
    Stabilizer,
};
use super::controller::{
    replicas_for_metric, Autoscaler, ControllerConfig, MetricObservation, MetricProposals, Scale,
};
use super::pods::{
    classify, ConditionStatus, CpuReadiness, PodClass, PodPhase, PodState, ReadyCondition,
    SampleTime,
};
use super::replica_calculator::{
    external_average_total, external_value_total, PodCount, PodSample, ReplicaCalculator,
    Tolerances,
};
use super::spec::{
    BehaviorSpec, MetricKind, ResolvedHpa, ResourceTarget, ScalingRulesSpec, ValueTarget,
};
use models::units::Duration;
use serde_json::{json, Map, Value};

/// The evaluation of one vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub section: String,
    pub name: String,
    pub result: Value,
}

/// A fixed evaluation time, far enough from the epoch for every age in the vectors.
const NOW_S: u64 = 1_000_000;

fn now() -> Duration {
    Duration::from_secs(NOW_S)
}

fn ago(age_s: f64) -> Duration {
    Duration(now().0.saturating_sub(Duration::from_secs_f64(age_s).0))
}

type R<T> = Result<T, String>;

fn field<'a>(v: &'a Value, k: &str) -> R<&'a Value> {
    v.get(k)
        .filter(|x| !x.is_null())
        .ok_or_else(|| format!("missing `{k}`"))
}

fn int(v: &Value, k: &str) -> R<i64> {
    field(v, k)?
        .as_i64()
        .ok_or_else(|| format!("`{k}` must be an integer"))
}

fn int32(v: &Value, k: &str) -> R<i32> {
    let x = int(v, k)?;
    i32::try_from(x).map_err(|_| format!("`{k}` = {x} is out of the int32 range"))
}

fn opt_int(v: &Value, k: &str) -> R<Option<i64>> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("`{k}` must be an integer or null")),
    }
}

fn num(v: &Value, k: &str) -> R<f64> {
    field(v, k)?
        .as_f64()
        .ok_or_else(|| format!("`{k}` must be a number"))
}

fn text<'a>(v: &'a Value, k: &str) -> R<&'a str> {
    field(v, k)?
        .as_str()
        .ok_or_else(|| format!("`{k}` must be a string"))
}

fn list<'a>(v: &'a Value, k: &str) -> R<&'a Vec<Value>> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(empty()),
        Some(x) => x.as_array().ok_or_else(|| format!("`{k}` must be a list")),
    }
}

fn empty() -> &'static Vec<Value> {
    static EMPTY: Vec<Value> = Vec::new();
    &EMPTY
}

fn secs(v: &Value, k: &str) -> R<Duration> {
    let s = num(v, k)?;
    if s < 0.0 || !s.is_finite() {
        return Err(format!("`{k}` must be a non-negative number of seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn tolerances(v: &Value) -> R<Tolerances> {
    match v.get("tolerances") {
        None | Some(Value::Null) => Ok(Tolerances::default()),
        Some(t) => Ok(Tolerances {
            scale_down: num(t, "scale_down")?,
            scale_up: num(t, "scale_up")?,
        }),
    }
}

fn pods(v: &Value) -> R<Vec<PodSample>> {
    list(v, "pods")?
        .iter()
        .map(|p| {
            let class = text(p, "class")?;
            Ok(PodSample {
                name: text(p, "name")?.to_string(),
                class: PodClass::parse(class)
                    .ok_or_else(|| format!("unknown pod class `{class}`"))?,
                request_milli: opt_int(p, "request_milli")?,
                value_milli: opt_int(p, "metric_milli")?,
            })
        })
        .collect()
}

fn stray(v: &Value) -> R<Vec<(String, i64)>> {
    match v.get("metrics_for_unknown_pods_milli") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, x)| {
                x.as_i64()
                    .map(|x| (k.clone(), x))
                    .ok_or_else(|| format!("metric of `{k}` must be an integer"))
            })
            .collect(),
        Some(_) => Err("`metrics_for_unknown_pods_milli` must be an object".into()),
    }
}

fn series(v: &Value) -> R<Option<Vec<i64>>> {
    match v.get("metric_series_milli") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_i64()
                    .ok_or_else(|| "`metric_series_milli` must hold integers".to_string())
            })
            .collect::<R<Vec<_>>>()
            .map(Some),
        Some(_) => Err("`metric_series_milli` must be a list".into()),
    }
}

fn is_external(v: &Value) -> bool {
    v.get("function")
        .and_then(Value::as_str)
        .is_some_and(|f| f.contains("External"))
        || v.get("type").and_then(Value::as_str) == Some("External")
}

fn pod_count(v: &Value) -> R<PodCount> {
    let ready = int(v, "ready_running_pod_count")?.max(0) as usize;
    // The vectors give the Running+Ready count; a listed count, when given, may be larger.
    let listed = opt_int(v, "listed_pod_count")?.map_or(ready, |n| n.max(0) as usize);
    Ok(PodCount {
        listed,
        running_and_ready: ready,
    })
}

fn events(v: &Value, k: &str) -> R<Vec<ScaleEvent>> {
    list(v, k)?
        .iter()
        .map(|e| {
            Ok(ScaleEvent {
                change: int32(e, "replica_change")?,
                at: ago(num(e, "age_s")?),
                outdated: e.get("outdated").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

fn recommendations(v: &Value, k: &str) -> R<Vec<Recommendation>> {
    list(v, k)?
        .iter()
        .map(|r| {
            Ok(Recommendation {
                replicas: int32(r, "recommendation")?,
                at: ago(num(r, "age_s")?),
            })
        })
        .collect()
}

fn behavior_spec(v: &Value) -> R<Option<BehaviorSpec>> {
    match v {
        Value::Null => Ok(None),
        b => serde_json::from_value(b.clone())
            .map(Some)
            .map_err(|e| format!("`behavior`: {e}")),
    }
}

/// Rules in manifest shape, with defaults filled exactly as behavior resolution does.
fn rules(v: &Value, k: &str, scale_up: bool) -> R<ScalingRules> {
    let spec: ScalingRulesSpec =
        serde_json::from_value(field(v, k)?.clone()).map_err(|e| format!("`{k}`: {e}"))?;
    let b = if scale_up {
        BehaviorSpec {
            scale_up: Some(spec),
            scale_down: None,
        }
    } else {
        BehaviorSpec {
            scale_up: None,
            scale_down: Some(spec),
        }
    };
    let resolved = b
        .resolve(ControllerConfig::default().downscale_stabilization)
        .map_err(|errs| {
            format!(
                "`{k}`: {}",
                errs.into_iter()
                    .map(|(_, m)| m)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    Ok(if scale_up {
        resolved.scale_up
    } else {
        resolved.scale_down
    })
}

/// Evaluates every vector of every section (every top-level list except `meta`).
pub fn evaluate_document(doc: &Value) -> R<Vec<Evaluation>> {
    let sections = doc
        .as_object()
        .ok_or("a vectors file is a JSON object of sections")?;
    let mut out = Vec::new();
    for (section, vectors) in sections {
        let Some(vectors) = vectors.as_array() else {
            continue;
        };
        for (i, v) in vectors.iter().enumerate() {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{i}"), str::to_string);
            let result = evaluate(section, v).unwrap_or_else(|e| json!({ "error": e }));
            out.push(Evaluation {
                section: section.clone(),
                name,
                result,
            });
        }
    }
    Ok(out)
}

/// Evaluates one vector. The result carries every field the vector's kind answers.
pub fn evaluate(section: &str, v: &Value) -> R<Value> {
    let kind = match v.get("kind").and_then(Value::as_str) {
        Some(k) => k,
        None if section == "group_pods" || v.get("pod").is_some() => "group_pods",
        None => return Err("the vector has no `kind`".into()),
    };
    match kind {
        "resource_utilization" => {
            let calc = ReplicaCalculator::new(tolerances(v)?);
            let r = calc
                .resource_utilization(
                    int32(v, "current_replicas")?,
                    int32(v, "target_average_utilization_percent")?,
                    &pods(v)?,
                    &stray(v)?,
                )
                .map_err(|e| e.to_string())?;
            Ok(
                json!({"replicas": r.replicas, "utilization_percent": r.utilization_percent, "raw_average_milli": r.raw_average_milli}),
            )
        }
        "pods_average_value" | "resource_average_value" => {
            let calc = ReplicaCalculator::new(tolerances(v)?);
            let r = calc
                .plain_average(
                    int32(v, "current_replicas")?,
                    int(v, "target_average_value_milli")?,
                    &pods(v)?,
                    &stray(v)?,
                )
                .map_err(|e| e.to_string())?;
            Ok(json!({"replicas": r.replicas, "average_usage_milli": r.average_milli}))
        }
        "object_or_external_value" => {
            let calc = ReplicaCalculator::new(tolerances(v)?);
            let usage = match series(v)? {
                Some(s) => external_value_total(&s),
                None => int(v, "metric_value_milli")?,
            };
            let r = calc
                .object_value(
                    int32(v, "current_replicas")?,
                    int(v, "target_value_milli")?,
                    usage,
                    pod_count(v)?,
                )
                .map_err(|e| e.to_string())?;
            Ok(json!({ "replicas": r }))
        }
        "object_or_external_average_value" => {
            let calc = ReplicaCalculator::new(tolerances(v)?);
            let usage = match series(v)? {
                Some(s) if is_external(v) => external_average_total(&s),
                Some(s) => s.iter().sum(),
                None => int(v, "metric_total_milli")?,
            };
            let r = calc.per_pod_average(
                int32(v, "status_replicas")?,
                int(v, "target_average_value_milli")?,
                usage,
            );
            Ok(json!({"replicas": r.replicas, "average_usage_milli": r.average_milli}))
        }
        "group_pods" => group_pods(v),
        "rate_limit" => {
            let b = behavior::Behavior {
                scale_up: rules(v, "scale_up_rules", true)?,
                scale_down: rules(v, "scale_down_rules", false)?,
            };
            let ev = ScaleEvents {
                up: events(v, "scale_up_events")?,
                down: events(v, "scale_down_events")?,
            };
            let (r, reason) = behavior::limit_with_behavior(
                int32(v, "current_replicas")?,
                int32(v, "desired_replicas_after_stabilization")?,
                int32(v, "min_replicas")?,
                int32(v, "max_replicas")?,
                &b,
                &ev,
                now(),
            );
            Ok(json!({"replicas": r, "scaling_limited_reason": reason.as_str()}))
        }
        "limit_function" => {
            let func = text(v, "function")?;
            let up = !func.contains("ScaleDown");
            let r = rules(v, "rules", up)?;
            let ev = ScaleEvents {
                up: events(v, "scale_up_events")?,
                down: events(v, "scale_down_events")?,
            };
            let cur = int32(v, "current_replicas")?;
            let limit = if up {
                behavior::scale_up_limit(cur, &ev, &r, now())
            } else {
                behavior::scale_down_limit(cur, &ev, &r, now())
            };
            Ok(json!({ "limit_replicas": limit }))
        }
        "stabilization" => {
            let mut st = Stabilizer {
                recommendations: recommendations(v, "recommendations_before")?,
            };
            let r = st.stabilize(
                now(),
                int32(v, "current_replicas")?,
                int32(v, "desired_replicas")?,
                secs(v, "scale_up_stabilization_window_s")?,
                secs(v, "scale_down_stabilization_window_s")?,
            );
            let values: Vec<i32> = st.recommendations.iter().map(|r| r.replicas).collect();
            Ok(json!({"replicas": r, "recommendation_values_after": values}))
        }
        "stabilization_legacy" => {
            let mut st = Stabilizer {
                recommendations: recommendations(v, "recommendations_before")?,
            };
            let r = st.stabilize_legacy(
                now(),
                secs(v, "downscale_stabilization_window_s")?,
                int32(v, "desired_replicas")?,
            );
            Ok(json!({"replicas": r, "recommendation_count_after": st.recommendations.len()}))
        }
        "scale_event_store" => {
            let r = rules(v, "rules", true)?;
            let mut list = events(v, "events_before")?;
            let before = change_in_period(&list, now(), Duration::from_secs(60));
            let longest = r
                .policies
                .iter()
                .map(|p| p.period_seconds.max(0) as u64)
                .max()
                .unwrap_or(0);
            record_event(
                &mut list,
                Duration::from_secs(longest),
                now(),
                int32(v, "new_scale_change")?,
            );
            let after: Vec<Value> = list
                .iter()
                .map(|e| json!({"replica_change": e.change, "outdated": e.outdated}))
                .collect();
            Ok(json!({"replicas_change_in_last_60s_before_store": before, "events_after": after}))
        }
        "reconcile_single" => reconcile_single(v),
        "derived_timeline" => timeline(v),
        other => Err(format!("unknown vector kind `{other}`")),
    }
}

fn group_pods(v: &Value) -> R<Value> {
    let readiness = CpuReadiness {
        initialization_period: match v.get("cpu_initialization_period_s") {
            Some(x) if !x.is_null() => secs(v, "cpu_initialization_period_s")?,
            _ => CpuReadiness::default().initialization_period,
        },
        initial_readiness_delay: match v.get("delay_of_initial_readiness_status_s") {
            Some(x) if !x.is_null() => secs(v, "delay_of_initial_readiness_status_s")?,
            _ => CpuReadiness::default().initial_readiness_delay,
        },
    };
    let p = field(v, "pod")?;
    let phase = match text(p, "phase")? {
        "Pending" => PodPhase::Pending,
        "Running" => PodPhase::Running,
        "Succeeded" => PodPhase::Succeeded,
        "Failed" => PodPhase::Failed,
        "Unknown" => PodPhase::Unknown,
        other => return Err(format!("unknown pod phase `{other}`")),
    };
    let start_time = match p.get("start_age_s") {
        Some(x) if !x.is_null() => Some(ago(num(p, "start_age_s")?)),
        _ => None,
    };
    let ready = match p.get("ready").and_then(Value::as_str) {
        None => None,
        Some(s) => Some(ReadyCondition {
            status: match s {
                "True" => ConditionStatus::True,
                "False" => ConditionStatus::False,
                _ => ConditionStatus::Unknown,
            },
            last_transition: match p.get("ready_transition_age_s") {
                Some(x) if !x.is_null() => ago(num(p, "ready_transition_age_s")?),
                _ => start_time.unwrap_or(now()),
            },
        }),
    };
    let pod = PodState {
        phase,
        deleting: p.get("deleting").and_then(Value::as_bool).unwrap_or(false),
        start_time,
        ready,
    };
    let m = v.get("metric").cloned().unwrap_or(Value::Null);
    let sample = if m.get("present").and_then(Value::as_bool).unwrap_or(false) {
        let ts = match m.get("timestamp_age_s") {
            Some(x) if !x.is_null() => ago(num(&m, "timestamp_age_s")?),
            _ => now(),
        };
        let window = match m.get("window_s") {
            Some(x) if !x.is_null() => secs(&m, "window_s")?,
            _ => Duration::ZERO,
        };
        Some(SampleTime {
            timestamp: ts,
            window,
        })
    } else {
        None
    };
    let is_cpu = v.get("resource").and_then(Value::as_str) == Some("cpu");
    Ok(json!({ "class": classify(&pod, sample, is_cpu, readiness, now()).as_str() }))
}

/// One metric entry of a reconcile vector (`type`, `target`, inputs in milli-units) as the
/// controller's metric and what the metrics API returned for it. `None`: the entry is not a
/// usable metric (an unknown type or an API error), which makes it invalid.
fn reconcile_metric(m: &Value) -> R<Option<(MetricKind, MetricObservation)>> {
    if m.get("error")
        .is_some_and(|e| !e.is_null() && e != &Value::Bool(false))
    {
        return Ok(None);
    }
    let t = field(m, "target")?;
    let target_type = text(t, "type")?;
    let value_target = || -> R<ValueTarget> {
        match target_type {
            "Value" => Ok(ValueTarget::Value(int(t, "value_milli")?)),
            "AverageValue" => Ok(ValueTarget::AverageValue(int(t, "averageValue_milli")?)),
            other => Err(format!(
                "target type `{other}` is not valid for this metric"
            )),
        }
    };
    let per_pod = || -> R<MetricObservation> {
        Ok(MetricObservation::PerPod {
            pods: pods(m)?,
            stray: stray(m)?,
        })
    };
    let count = || -> R<PodCount> {
        match m.get("ready_running_pod_count") {
            Some(x) if !x.is_null() => pod_count(m),
            _ => Ok(PodCount {
                listed: 0,
                running_and_ready: 0,
            }),
        }
    };
    let metric = match text(m, "type")? {
        "Resource" | "ContainerResource" => {
            let target = match target_type {
                "Utilization" => ResourceTarget::Utilization(int32(t, "averageUtilization")?),
                "AverageValue" => ResourceTarget::AverageValue(int(t, "averageValue_milli")?),
                other => {
                    return Err(format!(
                        "target type `{other}` is not valid for a resource metric"
                    ))
                }
            };
            let name = m
                .get("resource")
                .and_then(Value::as_str)
                .unwrap_or("cpu")
                .to_string();
            let container = m
                .get("container")
                .and_then(Value::as_str)
                .map(str::to_string);
            (
                MetricKind::Resource {
                    name,
                    container,
                    target,
                },
                per_pod()?,
            )
        }
        "Pods" => {
            let target = int(t, "averageValue_milli")?;
            let name = m
                .get("metric")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (
                MetricKind::Pods {
                    metric: name,
                    target_average_milli: target,
                },
                per_pod()?,
            )
        }
        "Object" => (
            MetricKind::Object {
                metric: String::new(),
                target: value_target()?,
            },
            MetricObservation::Object {
                value_milli: int(m, "metric_value_milli")?,
                pods: count()?,
            },
        ),
        "External" => {
            let s = match series(m)? {
                Some(s) => s,
                None => vec![int(m, "metric_value_milli")?],
            };
            (
                MetricKind::External {
                    metric: String::new(),
                    target: value_target()?,
                },
                MetricObservation::External {
                    series_milli: s,
                    pods: count()?,
                },
            )
        }
        // Upstream: "unknown metric source type" is an invalid metric, not a bad vector.
        _ => return Ok(None),
    };
    Ok(Some(metric))
}

fn config_for(v: &Value) -> R<ControllerConfig> {
    let mut config = ControllerConfig::default();
    if let Some(t) = v.get("tolerance_default").and_then(Value::as_f64) {
        config.tolerance = t;
    }
    if let Some(g) = v
        .get("feature_gates")
        .and_then(|g| g.get("HPAConfigurableTolerance"))
    {
        config.configurable_tolerance = g
            .as_bool()
            .ok_or("`HPAConfigurableTolerance` must be true or false")?;
    }
    Ok(config)
}

fn autoscaler_for(v: &Value, metrics: Vec<MetricKind>) -> R<Autoscaler> {
    let config = config_for(v)?;
    let behavior = match behavior_spec(v.get("behavior").unwrap_or(&Value::Null))? {
        None => None,
        Some(b) => Some(b.resolve(config.downscale_stabilization).map_err(|errs| {
            format!(
                "`behavior`: {}",
                errs.into_iter()
                    .map(|(_, m)| m)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?),
    };
    let hpa = ResolvedHpa {
        min_replicas: opt_int(v, "min_replicas")?.map_or(Ok(1), |x| {
            i32::try_from(x).map_err(|_| "`min_replicas` out of range")
        })?,
        max_replicas: int32(v, "max_replicas")?,
        metrics,
        behavior,
    };
    Ok(Autoscaler::new(hpa, config))
}

fn reconcile_single(v: &Value) -> R<Value> {
    let entries = list(v, "metrics")?
        .iter()
        .map(reconcile_metric)
        .collect::<R<Vec<_>>>()?;
    let metrics: Vec<MetricKind> = entries.iter().flatten().map(|(k, _)| k.clone()).collect();
    let mut a = autoscaler_for(v, metrics)?;
    match v.get("controller_recommendation_history") {
        Some(Value::Array(_)) => {
            a.state.stabilizer = Some(Stabilizer {
                recommendations: recommendations(v, "controller_recommendation_history")?,
            })
        }
        // A string ("fresh ...") or nothing: no entry yet; the reconcile records {spec, now}.
        _ => a.state.stabilizer = None,
    }
    let spec_replicas = int32(v, "spec_replicas")?;
    let status_replicas = list(v, "metrics")?
        .iter()
        .find_map(|m| m.get("status_replicas").and_then(Value::as_i64))
        .map_or(Ok(spec_replicas), |s| {
            i32::try_from(s).map_err(|_| "`status_replicas` out of range".to_string())
        })?;
    let scale = Scale {
        spec_replicas,
        status_replicas,
    };
    let calc = ReplicaCalculator::new(a.tolerances());
    let out = a.reconcile_with(now(), scale, || {
        let mut p = MetricProposals::empty(entries.len());
        for e in &entries {
            p.add(match e {
                Some((k, o)) => replicas_for_metric(&calc, k, o, scale).map_err(|e| e.to_string()),
                None => Err("invalid metric".to_string()),
            });
        }
        p
    });
    Ok(json!({
        "metric_desired_replicas_max_over_metrics": out.metric_desired.unwrap_or(0),
        "final_replicas": out.replicas,
    }))
}

fn timeline(v: &Value) -> R<Value> {
    let mut a = autoscaler_for(v, Vec::new())?;
    let mut current: Option<i32> = None;
    let mut after = Vec::new();
    for step in list(v, "steps")? {
        let before = match opt_int(step, "replicas_before")? {
            Some(b) => {
                i32::try_from(b).map_err(|_| "`replicas_before` out of range".to_string())?
            }
            None => current.ok_or("the first step needs `replicas_before`")?,
        };
        let desired = int32(step, "metric_desired")?;
        // Step times are offsets from the controller's first reconcile at t = 0.
        let t = Duration(now().0 + secs(step, "t_s")?.0);
        let out = a.reconcile_with(
            t,
            Scale {
                spec_replicas: before,
                status_replicas: before,
            },
            || MetricProposals::fixed(desired),
        );
        after.push(out.replicas);
        current = Some(out.replicas);
    }
    Ok(json!({ "replicas_after": after }))
}

/// Keeps only the fields an `expected` object names (used to print answers in the same shape
/// as a file's answers; the values are never read).
pub fn project(result: &Value, keys: &Map<String, Value>) -> Value {
    match result.as_object() {
        Some(r) if !r.contains_key("error") => Value::Object(
            keys.keys()
                .filter_map(|k| r.get(k).map(|x| (k.clone(), x.clone())))
                .collect(),
        ),
        _ => result.clone(),
    }
}
