//! The per-metric replica formulas of `replica_calculator.go`: Resource and ContainerResource
//! with a Utilization target ([`ReplicaCalculator::resource_utilization`]), Resource
//! AverageValue and Pods metrics ([`ReplicaCalculator::plain_average`]), Object and External
//! with a Value target ([`ReplicaCalculator::object_value`]) or an AverageValue target
//! ([`ReplicaCalculator::per_pod_average`]), and the tolerance test.
//!
//! Values are Kubernetes milli-units (`i64`), exactly as the metrics clients deliver them.
//! Integer divisions truncate and ratios are `f64` in the Go operation order: the truncated
//! utilization percent, the truncated average, `ceil(ratio * count)`.

use super::pods::PodClass;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `{scale_down, scale_up}`: a ratio within `[1 - down, 1 + up]` means "no change".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    pub scale_down: f64,
    pub scale_up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            scale_down: 0.1,
            scale_up: 0.1,
        }
    }
}

impl Tolerances {
    /// Current `isWithin`; NaN is never within. (Before ~1.33 the test was
    /// `|1 - ratio| <= tolerance`, which differs at exactly 1.1.)
    pub fn is_within(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// One pod as a per-pod metric sees it: its class for this metric, its request (pod total, or
/// the named container's) and its sample.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSample {
    pub name: String,
    pub class: PodClass,
    pub request_milli: Option<i64>,
    pub value_milli: Option<i64>,
}

/// Why a metric gave no proposal. Any of these makes the metric "invalid" for
/// max-over-metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricError {
    NoPods,
    NoMetrics,
    MissingRequest(String),
    NoMatchingRequests,
    Unavailable(String),
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricError::NoPods => {
                f.write_str("no pods returned by selector while calculating replica count")
            }
            MetricError::NoMetrics => {
                f.write_str("did not receive metrics for targeted pods (pods might be unready)")
            }
            MetricError::MissingRequest(pod) => write!(f, "missing request in pod {pod}"),
            MetricError::NoMatchingRequests => {
                f.write_str("no metrics returned matched known pods")
            }
            MetricError::Unavailable(why) => write!(f, "metric unavailable: {why}"),
        }
    }
}

impl std::error::Error for MetricError {}

/// Result of a Utilization target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceUtilization {
    pub replicas: i32,
    /// The first-pass utilization percent (what the HPA status reports), truncated.
    pub utilization_percent: i32,
    /// The first-pass raw average, milli-units, truncated.
    pub raw_average_milli: i64,
}

/// Result of an AverageValue target over pods, or of a per-pod Object/External target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AverageUsage {
    pub replicas: i32,
    pub average_milli: i64,
}

/// The pods an Object/External Value target counts: listed pods, and those Running and Ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodCount {
    pub listed: usize,
    pub running_and_ready: usize,
}

/// The replica calculator with the tolerances that apply to one HPA.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReplicaCalculator {
    pub tolerances: Tolerances,
}

/// Go's `int32(math.Ceil(x))`, saturating (Go's conversion of an out-of-range float is
/// undefined; saturating keeps the twin sane and matches the MaxInt32 caps upstream added).
fn ceil_i32(x: f64) -> i32 {
    x.ceil() as i32
}

fn to_i32(v: i128) -> i32 {
    v.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

fn to_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Pods grouped as `groupPods` returns them, with the metric map left after removing ignored
/// and unready pods. A pod said to be ready but without a sample is what `groupPods` would
/// call missing, so it is treated as missing.
struct Grouped<'a> {
    ready_count: usize,
    unready: Vec<&'a str>,
    missing: Vec<&'a str>,
    metrics: BTreeMap<String, i64>,
}

fn group<'a>(pods: &'a [PodSample], stray: &[(String, i64)]) -> Grouped<'a> {
    let mut g = Grouped {
        ready_count: 0,
        unready: Vec::new(),
        missing: Vec::new(),
        metrics: BTreeMap::new(),
    };
    // Samples for pods outside the pod list stay in the map (they count in len(metrics)).
    let listed: BTreeSet<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    for (name, v) in stray {
        if !listed.contains(name.as_str()) {
            g.metrics.insert(name.clone(), *v);
        }
    }
    for p in pods {
        match (p.class, p.value_milli) {
            (PodClass::Ignored, _) => {}
            (PodClass::Unready, _) => g.unready.push(&p.name),
            (PodClass::Missing, _) | (PodClass::Ready, None) => g.missing.push(&p.name),
            (PodClass::Ready, Some(v)) => {
                g.ready_count += 1;
                g.metrics.insert(p.name.clone(), v);
            }
        }
    }
    g
}

/// `GetResourceUtilizationRatio`: sums only pods with a known request.
fn utilization_ratio(
    metrics: &BTreeMap<String, i64>,
    requests: &BTreeMap<&str, i64>,
    target: i32,
) -> Result<(f64, i32, i64), MetricError> {
    let (mut total, mut req_total, mut n) = (0i128, 0i128, 0i128);
    for (pod, v) in metrics {
        if let Some(r) = requests.get(pod.as_str()) {
            total += *v as i128;
            req_total += *r as i128;
            n += 1;
        }
    }
    if req_total == 0 {
        return Err(MetricError::NoMatchingRequests);
    }
    let utilization = to_i32(total * 100 / req_total);
    Ok((
        utilization as f64 / target as f64,
        utilization,
        to_i64(total / n),
    ))
}

/// `GetMetricUsageRatio`: the truncated average over every entry of the map.
fn usage_ratio(metrics: &BTreeMap<String, i64>, target: i64) -> (f64, i64) {
    let total: i128 = metrics.values().map(|v| *v as i128).sum();
    let usage = to_i64(total / metrics.len().max(1) as i128);
    (usage as f64 / target as f64, usage)
}

impl ReplicaCalculator {
    pub fn new(tolerances: Tolerances) -> ReplicaCalculator {
        ReplicaCalculator { tolerances }
    }

    /// `GetResourceReplicas`: a Utilization target over the pods' requests. `stray` are
    /// samples for pods not in the pod list.
    pub fn resource_utilization(
        &self,
        current: i32,
        target_percent: i32,
        pods: &[PodSample],
        stray: &[(String, i64)],
    ) -> Result<ResourceUtilization, MetricError> {
        if pods.is_empty() {
            return Err(MetricError::NoPods);
        }
        let mut g = group(pods, stray);
        if g.metrics.is_empty() {
            return Err(MetricError::NoMetrics);
        }
        // Requests of every listed pod, including unready, missing and ignored ones.
        let mut requests = BTreeMap::new();
        for p in pods {
            let r = p
                .request_milli
                .ok_or_else(|| MetricError::MissingRequest(p.name.clone()))?;
            requests.insert(p.name.as_str(), r);
        }
        let (ratio, utilization, raw) = utilization_ratio(&g.metrics, &requests, target_percent)?;
        let done = |replicas| {
            Ok(ResourceUtilization {
                replicas,
                utilization_percent: utilization,
                raw_average_milli: raw,
            })
        };
        let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && g.missing.is_empty() {
            if self.tolerances.is_within(ratio) {
                return done(current);
            }
            return done(ceil_i32(ratio * g.ready_count as f64));
        }
        if !g.missing.is_empty() {
            if ratio < 1.0 {
                // Scale-down: a missing pod counts at max(100%, target) of its request.
                let fallback = target_percent.max(100) as i64;
                for m in &g.missing {
                    let r = requests.get(m).copied().unwrap_or(0);
                    g.metrics.insert(m.to_string(), r * fallback / 100);
                }
            } else if ratio > 1.0 {
                for m in &g.missing {
                    g.metrics.insert(m.to_string(), 0);
                }
            }
        }
        if scale_up_with_unready {
            for u in &g.unready {
                g.metrics.insert(u.to_string(), 0);
            }
        }
        let (new_ratio, _, _) = utilization_ratio(&g.metrics, &requests, target_percent)?;
        done(self.rebalanced(current, ratio, new_ratio, g.metrics.len()))
    }

    /// `calcPlainMetricReplicas`: an AverageValue target over pods (Pods metrics and Resource
    /// AverageValue). Missing pods count at the target on a scale-down, at 0 on a scale-up.
    pub fn plain_average(
        &self,
        current: i32,
        target_milli: i64,
        pods: &[PodSample],
        stray: &[(String, i64)],
    ) -> Result<AverageUsage, MetricError> {
        if pods.is_empty() {
            return Err(MetricError::NoPods);
        }
        let mut g = group(pods, stray);
        if g.metrics.is_empty() {
            return Err(MetricError::NoMetrics);
        }
        let (ratio, usage) = usage_ratio(&g.metrics, target_milli);
        let done = |replicas| {
            Ok(AverageUsage {
                replicas,
                average_milli: usage,
            })
        };
        let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && g.missing.is_empty() {
            if self.tolerances.is_within(ratio) {
                return done(current);
            }
            return done(ceil_i32(ratio * g.ready_count as f64));
        }
        if !g.missing.is_empty() {
            if ratio < 1.0 {
                for m in &g.missing {
                    g.metrics.insert(m.to_string(), target_milli);
                }
            } else if ratio > 1.0 {
                for m in &g.missing {
                    g.metrics.insert(m.to_string(), 0);
                }
            }
        }
        if scale_up_with_unready {
            for u in &g.unready {
                g.metrics.insert(u.to_string(), 0);
            }
        }
        let (new_ratio, _) = usage_ratio(&g.metrics, target_milli);
        done(self.rebalanced(current, ratio, new_ratio, g.metrics.len()))
    }

    /// The second pass shared by both per-pod formulas: keep the current count when the change
    /// is within tolerance or the rebalanced ratio (or count) points the other way.
    fn rebalanced(&self, current: i32, ratio: f64, new_ratio: f64, entries: usize) -> i32 {
        if self.tolerances.is_within(new_ratio)
            || (ratio < 1.0 && new_ratio > 1.0)
            || (ratio > 1.0 && new_ratio < 1.0)
        {
            return current;
        }
        let new_replicas = ceil_i32(new_ratio * entries as f64);
        if (new_ratio < 1.0 && new_replicas > current)
            || (new_ratio > 1.0 && new_replicas < current)
        {
            return current;
        }
        new_replicas
    }

    /// `GetObjectMetricReplicas` / `GetExternalMetricReplicas` (via
    /// `getUsageRatioReplicaCount`): a Value target. `current` is `scale.spec.replicas`; the
    /// count that multiplies the ratio is the Running and Ready pods.
    pub fn object_value(
        &self,
        current: i32,
        target_milli: i64,
        usage_milli: i64,
        pods: PodCount,
    ) -> Result<i32, MetricError> {
        let ratio = usage_milli as f64 / target_milli as f64;
        if current == 0 {
            // Only reachable with HPAScaleToZero: no tolerance, no pod count.
            return Ok(ceil_i32(ratio));
        }
        if self.tolerances.is_within(ratio) {
            return Ok(current);
        }
        if pods.listed == 0 {
            return Err(MetricError::NoPods);
        }
        let r = ratio * pods.running_and_ready as f64;
        Ok(if r > i32::MAX as f64 {
            i32::MAX
        } else {
            ceil_i32(r)
        })
    }

    /// `GetObjectPerPodMetricReplicas` / `GetExternalPerPodMetricReplicas`: an AverageValue
    /// target on a total. The current count (`scale.status.replicas`) only enters the
    /// tolerance test; the answer is `ceil(total / target)`.
    pub fn per_pod_average(
        &self,
        status_replicas: i32,
        target_milli: i64,
        usage_milli: i64,
    ) -> AverageUsage {
        let mut replicas = status_replicas;
        let ratio = usage_milli as f64 / (target_milli as f64 * status_replicas as f64);
        if !self.tolerances.is_within(ratio) {
            let r = (usage_milli as f64 / target_milli as f64).ceil();
            replicas = if r > i32::MAX as f64 {
                i32::MAX
            } else {
                r as i32
            };
        }
        AverageUsage {
            replicas,
            average_milli: per_pod_usage(usage_milli, status_replicas),
        }
    }
}

/// `getPerPodUsage`: the reported average, `ceil(total / replicas)`, 0 with no replicas.
pub fn per_pod_usage(usage: i64, status_replicas: i32) -> i64 {
    if usage as f64 >= i64::MAX as f64 {
        return i64::MAX;
    }
    if status_replicas == 0 {
        return 0;
    }
    (usage as f64 / status_replicas as f64).ceil() as i64
}

/// The total of an External metric's series for a Value target: positive overflow caps at
/// MaxInt64 and stops the sum, as upstream.
pub fn external_value_total(series: &[i64]) -> i64 {
    let mut usage: i64 = 0;
    for &v in series {
        if v > 0 && usage > i64::MAX - v {
            return i64::MAX;
        }
        usage = usage.wrapping_add(v);
    }
    usage
}

/// The total of an External metric's series for an AverageValue target: upstream detects
/// overflow as a negative running sum.
pub fn external_average_total(series: &[i64]) -> i64 {
    let mut usage: i64 = 0;
    for &v in series {
        usage = usage.wrapping_add(v);
        if usage < 0 {
            return i64::MAX;
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, class: PodClass, request: i64, value: Option<i64>) -> PodSample {
        PodSample {
            name: name.into(),
            class,
            request_milli: Some(request),
            value_milli: value,
        }
    }

    #[test]
    fn utilization_truncates_the_percent_before_dividing() {
        // 2800m used of 10000m requested: 28% -> ratio 28/50 = 0.56 -> ceil(0.56 * 5) = 3.
        let c = ReplicaCalculator::default();
        let pods: Vec<_> = [200, 600, 1000, 500, 500]
            .iter()
            .enumerate()
            .map(|(i, v)| pod(&format!("p{i}"), PodClass::Ready, 2000, Some(*v)))
            .collect();
        let r = c.resource_utilization(5, 50, &pods, &[]).expect("valid");
        assert_eq!(
            r,
            ResourceUtilization {
                replicas: 3,
                utilization_percent: 28,
                raw_average_milli: 560
            }
        );
    }

    #[test]
    fn tolerance_boundary_at_exactly_110_percent_does_not_scale() {
        // New isWithin: 1.1 <= 1.1 is within; the old |1 - 1.1| <= 0.1 test was not.
        let c = ReplicaCalculator::default();
        let pods = vec![pod("a", PodClass::Ready, 1000, Some(1100))];
        assert_eq!(
            c.resource_utilization(1, 100, &pods, &[])
                .map(|r| r.replicas),
            Ok(1)
        );
    }

    #[test]
    fn a_missing_request_fails_the_metric() {
        let c = ReplicaCalculator::default();
        let pods = vec![PodSample {
            name: "a".into(),
            class: PodClass::Ready,
            request_milli: None,
            value_milli: Some(5),
        }];
        assert_eq!(
            c.resource_utilization(1, 50, &pods, &[]),
            Err(MetricError::MissingRequest("a".into()))
        );
    }

    #[test]
    fn missing_pod_fill_for_targets_above_100_percent() {
        // Two ready pods at 100% of 1000m and one missing pod, target 150%: ratio 100/150 < 1,
        // so the missing pod is filled at max(100, 150)% = 1500m. (2000 + 1500) * 100 / 3000 =
        // 116% -> 116/150 = 0.773 -> ceil(0.773 * 3) = 3 = current: no change. The older 100%
        // fill gives 3000/3000 = 100% -> 0.667 -> ceil(2.0) = 2, a scale-down.
        let c = ReplicaCalculator::default();
        let pods = vec![
            pod("a", PodClass::Ready, 1000, Some(1000)),
            pod("b", PodClass::Ready, 1000, Some(1000)),
            pod("c", PodClass::Missing, 1000, None),
        ];
        assert_eq!(
            c.resource_utilization(3, 150, &pods, &[])
                .map(|r| r.replicas),
            Ok(3)
        );
    }

    #[test]
    fn external_sums_saturate() {
        assert_eq!(external_value_total(&[i64::MAX, 1]), i64::MAX);
        assert_eq!(external_average_total(&[i64::MAX, 1]), i64::MAX);
        assert_eq!(external_value_total(&[3, 4]), 7);
    }
}
