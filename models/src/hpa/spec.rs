//! The autoscaling/v2 `HorizontalPodAutoscaler` spec as Kubernetes writes it (camelCase, the
//! shape `kubectl get hpa -o yaml` prints), the Kubernetes quantity syntax its targets use, and
//! the step that turns a written spec into the resolved form the controller runs
//! ([`HpaSpec::resolve`]): API defaults filled in, validation done, every problem named by its
//! field path.
//!
//! The same [`HpaSpec`] is the body of a manifest's `spec:` and of a scenario service's `hpa:`
//! block, so a scenario can paste a real manifest's spec unchanged.

use super::behavior::{Behavior, ScalingPolicy, ScalingPolicyType, ScalingRules, SelectPolicy};
use crate::path::PathSegment;
use crate::units::Duration;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub use super::manifest::{parse_manifest, parse_yaml, HpaManifest};

/// A Kubernetes resource quantity (`500m`, `2`, `1.5Gi`, `10k`, `1e3`), kept as an exact
/// fraction so that `MilliValue()` (rounded up, as Kubernetes does) is exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    num: i128,
    den: i128,
}

impl Quantity {
    /// A quantity of `milli` thousandths.
    pub fn from_milli(milli: i64) -> Quantity {
        Quantity {
            num: milli as i128,
            den: 1000,
        }
    }

    /// Parses the Kubernetes quantity syntax: a signed decimal number, then an optional binary
    /// suffix (`Ki` .. `Ei`), decimal suffix (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`) or
    /// exponent (`e3`, `E-2`).
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let t = text.trim();
        let bad = || format!("`{text}` is not a Kubernetes quantity (e.g. 500m, 2, 1.5Gi, 10k)");
        let (sign, body) = match t.as_bytes().first() {
            Some(b'-') => (-1i128, &t[1..]),
            Some(b'+') => (1, &t[1..]),
            _ => (1, t),
        };
        let end = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if int_part.len() + frac_part.len() > 30 {
            return Err(format!("`{text}`: too many digits"));
        }
        let mut num: i128 = format!("{int_part}{frac_part}")
            .parse()
            .map_err(|_| bad())?;
        let mut den: i128 = 10i128.pow(frac_part.len() as u32);
        // (multiplier, divisor) of the suffix.
        let (mul, div): (i128, i128) = match suffix {
            "" => (1, 1),
            "n" => (1, 1_000_000_000),
            "u" => (1, 1_000_000),
            "m" => (1, 1000),
            "k" => (1000, 1),
            "M" => (1_000_000, 1),
            "G" => (1_000_000_000, 1),
            "T" => (1_000_000_000_000, 1),
            "P" => (1_000_000_000_000_000, 1),
            "E" => (1_000_000_000_000_000_000, 1),
            "Ki" => (1 << 10, 1),
            "Mi" => (1 << 20, 1),
            "Gi" => (1 << 30, 1),
            "Ti" => (1 << 40, 1),
            "Pi" => (1 << 50, 1),
            "Ei" => (1 << 60, 1),
            s if s.starts_with(['e', 'E']) => {
                let exp: i32 = s[1..].parse().map_err(|_| bad())?;
                if exp.abs() > 18 {
                    return Err(format!("`{text}`: exponent out of range"));
                }
                if exp >= 0 {
                    (10i128.pow(exp as u32), 1)
                } else {
                    (1, 10i128.pow((-exp) as u32))
                }
            }
            _ => return Err(bad()),
        };
        num = num
            .checked_mul(mul)
            .ok_or_else(|| format!("`{text}`: too large"))?
            * sign;
        den = den
            .checked_mul(div)
            .ok_or_else(|| format!("`{text}`: too many decimals"))?;
        Ok(Quantity { num, den })
    }

    /// The value in thousandths, rounded up as Kubernetes' `MilliValue()` does; saturates at
    /// the i64 range.
    pub fn milli_value(&self) -> i64 {
        let scaled = self.num.saturating_mul(1000);
        let q = scaled.div_euclid(self.den);
        let up = if scaled.rem_euclid(self.den) != 0 {
            q + 1
        } else {
            q
        };
        up.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// The value as a float (Kubernetes' `AsApproximateFloat64`).
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }

    fn is_positive(&self) -> bool {
        self.num > 0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let milli = self.milli_value();
        if milli % 1000 == 0 {
            write!(f, "{}", milli / 1000)
        } else {
            write!(f, "{milli}m")
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Quantity, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Kubernetes quantity such as 500m, 2, 1.5Gi or 10k")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity {
                    num: v as i128,
                    den: 1,
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity {
                    num: v as i128,
                    den: 1,
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                // Through the shortest decimal text, so 0.05 stays exactly 5/100.
                if !v.is_finite() {
                    return Err(E::custom("a quantity must be finite"));
                }
                Quantity::parse(&format!("{v}")).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `spec` of an autoscaling/v2 HorizontalPodAutoscaler. `maxReplicas` is optional here only
/// because a scenario may give the bounds as `replicas: {min, max}`; [`HpaSpec::resolve`]
/// requires one or the other.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target_ref: Option<CrossVersionObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<BehaviorSpec>,
    /// Not an autoscaling/v2 field: in a scenario, `hpa: {file: k8s/hpa.yaml}` names a whole
    /// manifest whose spec the block stands for (the caller reads it, see
    /// [`HpaSpec::fill_from_manifest`]). A manifest's `spec.file` is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrossVersionObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum MetricSourceType {
    Resource,
    ContainerResource,
    Pods,
    Object,
    External,
}

/// One entry of `spec.metrics`: `type` names which of the sub-objects is set.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub kind: MetricSourceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricSource>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMetricSource {
    pub name: String,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResourceMetricSource {
    pub name: String,
    pub container: String,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsMetricSource {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMetricSource {
    pub described_object: CrossVersionObjectReference,
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMetricSource {
    pub metric: MetricIdentifier,
    pub target: MetricTarget,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricIdentifier {
    pub name: String,
    /// A label selector, kept as written: the twin does not select series by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum MetricTargetType {
    Utilization,
    Value,
    AverageValue,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub kind: MetricTargetType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

/// `spec.behavior`. Its presence, even empty, selects the behavior path of the controller.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BehaviorSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRulesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRulesSpec>,
}

/// `HPAScalingRules`: every field optional, defaults filled by [`BehaviorSpec::resolve`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingRulesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicySpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(rename = "type")]
    pub kind: ScalingPolicyType,
    pub value: i32,
    pub period_seconds: i32,
}

/// A problem in a written spec, named by its field path (`spec.metrics[0].resource.target`).
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    pub path: Vec<PathSegment>,
    pub message: String,
    /// 1-based position in the source text; 0 when the spec did not come from text.
    pub line: usize,
    pub col: usize,
}

impl SpecError {
    pub(super) fn at(path: Vec<PathSegment>, message: impl Into<String>) -> SpecError {
        SpecError {
            path,
            message: message.into(),
            line: 0,
            col: 0,
        }
    }

    /// The path written as `spec.metrics[0].resource`.
    pub fn field(&self) -> String {
        let mut s = String::new();
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                PathSegment::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.col)?;
        }
        let field = self.field();
        if field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{field}: {}", self.message)
        }
    }
}

pub(super) fn key(k: &str) -> PathSegment {
    PathSegment::Key(k.to_string())
}

fn join(base: &[PathSegment], rest: &[PathSegment]) -> Vec<PathSegment> {
    base.iter().chain(rest).cloned().collect()
}

/// What one metric asks for, in the controller's terms (milli-units, percent).
#[derive(Clone, Debug, PartialEq)]
pub enum MetricKind {
    /// `Resource`, or `ContainerResource` when `container` is set.
    Resource {
        name: String,
        container: Option<String>,
        target: ResourceTarget,
    },
    Pods {
        metric: String,
        target_average_milli: i64,
    },
    Object {
        metric: String,
        target: ValueTarget,
    },
    External {
        metric: String,
        target: ValueTarget,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceTarget {
    /// Percent of the pods' requests.
    Utilization(i32),
    /// Milli-units per pod.
    AverageValue(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueTarget {
    /// The metric's total, milli-units.
    Value(i64),
    /// Milli-units per replica (`statusReplicas`).
    AverageValue(i64),
}

impl MetricKind {
    /// True for the `cpu` resource, the only metric whose pods pass the readiness filter.
    pub fn is_cpu(&self) -> bool {
        matches!(self, MetricKind::Resource { name, .. } if name == "cpu")
    }
}

/// An HPA spec with API defaults applied and validated: what the controller runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedHpa {
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub metrics: Vec<MetricKind>,
    /// `None` = `spec.behavior` absent: the legacy path.
    pub behavior: Option<Behavior>,
}

type FieldError = (Vec<PathSegment>, String);

/// Why a scenario's `hpa: {file}` could not be filled.
#[derive(Clone, Debug, PartialEq)]
pub enum FileProblem {
    /// The block has other keys besides `file` (message for the scenario's block).
    NotAlone(String),
    /// The manifest itself is wrong: positions are in the manifest file.
    Manifest(Vec<SpecError>),
}

impl HpaSpec {
    /// Replaces this `{file: ...}` block with the spec of the manifest `text` (the file
    /// named), keeping `file` as the record of where it came from. The manifest is checked as
    /// `twin hpa replay --hpa` checks one, so its errors carry its own line:column.
    pub fn fill_from_manifest(&mut self, text: &str) -> Result<(), FileProblem> {
        let file = self.file.clone();
        let alone = HpaSpec {
            file: file.clone(),
            ..HpaSpec::default()
        };
        if *self != alone {
            return Err(FileProblem::NotAlone(
                "with `file:`, the hpa block takes no other field (the manifest holds the spec)"
                    .into(),
            ));
        }
        let (manifest, _) =
            parse_manifest(text, Duration::from_secs(300)).map_err(FileProblem::Manifest)?;
        *self = manifest.spec;
        self.file = file;
        Ok(())
    }

    /// Validates and applies defaults. `bounds` are `(min, max)` given outside the spec (a
    /// scenario's `replicas: {min, max}`), used when the spec leaves them out. `path` prefixes
    /// every error (`spec` for a manifest). A nil scale-down stabilization window is filled
    /// from `downscale_stabilization` (the controller flag, 300s by default).
    pub fn resolve(
        &self,
        bounds: Option<(i32, i32)>,
        downscale_stabilization: Duration,
        path: &[PathSegment],
    ) -> Result<ResolvedHpa, Vec<SpecError>> {
        let mut errors: Vec<FieldError> = Vec::new();
        let max = match (self.max_replicas, bounds) {
            (Some(m), _) => m,
            (None, Some((_, m))) => m,
            (None, None) => {
                errors.push((
                    vec![key("maxReplicas")],
                    "required (the upper bound of the replica count)".into(),
                ));
                1
            }
        };
        // minReplicas defaults to 1 (API default).
        let min = self.min_replicas.or(bounds.map(|b| b.0)).unwrap_or(1);
        if max < 1 {
            errors.push((
                vec![key("maxReplicas")],
                format!("must be at least 1, got {max}"),
            ));
        }
        if min < 0 {
            errors.push((
                vec![key("minReplicas")],
                format!("must not be negative, got {min}"),
            ));
        }
        if min > max {
            errors.push((
                vec![key("minReplicas")],
                format!("must be less than or equal to maxReplicas ({max}), got {min}"),
            ));
        }
        let mut metrics = Vec::new();
        for (i, m) in self.metrics.iter().enumerate() {
            match resolve_metric(m) {
                Ok(k) => metrics.push(k),
                Err((sub, msg)) => {
                    errors.push((join(&[key("metrics"), PathSegment::Index(i)], &sub), msg))
                }
            }
        }
        let scale_to_zero_metric = metrics
            .iter()
            .any(|m| matches!(m, MetricKind::Object { .. } | MetricKind::External { .. }));
        if min == 0 && !scale_to_zero_metric {
            errors.push((
                vec![key("minReplicas")],
                "0 needs at least one Object or External metric (HPAScaleToZero)".into(),
            ));
        }
        let behavior = match &self.behavior {
            None => None,
            Some(b) => match b.resolve(downscale_stabilization) {
                Ok(b) => Some(b),
                Err(list) => {
                    errors.extend(
                        list.into_iter()
                            .map(|(sub, msg)| (join(&[key("behavior")], &sub), msg)),
                    );
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(ResolvedHpa {
                min_replicas: min,
                max_replicas: max,
                metrics,
                behavior,
            })
        } else {
            Err(errors
                .into_iter()
                .map(|(p, m)| SpecError::at(join(path, &p), m))
                .collect())
        }
    }
}

fn resolve_metric(m: &MetricSpec) -> Result<MetricKind, FieldError> {
    let missing = |field: &str, t: &str| (vec![key(field)], format!("required when type is {t}"));
    let under = |outer: &str, (p, e): FieldError| (join(&[key(outer), key("target")], &p), e);
    match m.kind {
        MetricSourceType::Resource => {
            let r = m
                .resource
                .as_ref()
                .ok_or_else(|| missing("resource", "Resource"))?;
            let target = resource_target(&r.target).map_err(|e| under("resource", e))?;
            Ok(MetricKind::Resource {
                name: r.name.clone(),
                container: None,
                target,
            })
        }
        MetricSourceType::ContainerResource => {
            let r = m
                .container_resource
                .as_ref()
                .ok_or_else(|| missing("containerResource", "ContainerResource"))?;
            let target = resource_target(&r.target).map_err(|e| under("containerResource", e))?;
            Ok(MetricKind::Resource {
                name: r.name.clone(),
                container: Some(r.container.clone()),
                target,
            })
        }
        MetricSourceType::Pods => {
            let p = m.pods.as_ref().ok_or_else(|| missing("pods", "Pods"))?;
            if p.target.kind != MetricTargetType::AverageValue {
                return Err(under(
                    "pods",
                    (
                        vec![key("type")],
                        "must be AverageValue for a Pods metric".into(),
                    ),
                ));
            }
            let v =
                positive(p.target.average_value, "averageValue").map_err(|e| under("pods", e))?;
            Ok(MetricKind::Pods {
                metric: p.metric.name.clone(),
                target_average_milli: v,
            })
        }
        MetricSourceType::Object => {
            let o = m
                .object
                .as_ref()
                .ok_or_else(|| missing("object", "Object"))?;
            let target = value_target(&o.target).map_err(|e| under("object", e))?;
            Ok(MetricKind::Object {
                metric: o.metric.name.clone(),
                target,
            })
        }
        MetricSourceType::External => {
            let x = m
                .external
                .as_ref()
                .ok_or_else(|| missing("external", "External"))?;
            let target = value_target(&x.target).map_err(|e| under("external", e))?;
            Ok(MetricKind::External {
                metric: x.metric.name.clone(),
                target,
            })
        }
    }
}

fn positive(q: Option<Quantity>, field: &str) -> Result<i64, FieldError> {
    match q {
        None => Err((vec![key(field)], "required for this target type".into())),
        Some(q) if !q.is_positive() => {
            Err((vec![key(field)], format!("must be positive, got {q}")))
        }
        Some(q) => Ok(q.milli_value()),
    }
}

fn resource_target(t: &MetricTarget) -> Result<ResourceTarget, FieldError> {
    match t.kind {
        MetricTargetType::Utilization => match t.average_utilization {
            None => Err((
                vec![key("averageUtilization")],
                "required when type is Utilization".into(),
            )),
            Some(u) if u < 1 => Err((
                vec![key("averageUtilization")],
                format!("must be at least 1, got {u}"),
            )),
            Some(u) => Ok(ResourceTarget::Utilization(u)),
        },
        MetricTargetType::AverageValue => {
            positive(t.average_value, "averageValue").map(ResourceTarget::AverageValue)
        }
        MetricTargetType::Value => Err((
            vec![key("type")],
            "must be Utilization or AverageValue for a resource metric".into(),
        )),
    }
}

fn value_target(t: &MetricTarget) -> Result<ValueTarget, FieldError> {
    match t.kind {
        MetricTargetType::Value => positive(t.value, "value").map(ValueTarget::Value),
        MetricTargetType::AverageValue => {
            positive(t.average_value, "averageValue").map(ValueTarget::AverageValue)
        }
        MetricTargetType::Utilization => Err((
            vec![key("type")],
            "must be Value or AverageValue for an Object or External metric".into(),
        )),
    }
}

impl BehaviorSpec {
    /// Fills the API defaults (`GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`); a
    /// written `policies` list replaces the default list wholesale.
    pub fn resolve(&self, downscale_stabilization: Duration) -> Result<Behavior, Vec<FieldError>> {
        let mut errors = Vec::new();
        let up = resolve_rules(
            self.scale_up.as_ref(),
            Duration::ZERO,
            &[ScalingPolicy::pods(4, 15), ScalingPolicy::percent(100, 15)],
            "scaleUp",
            &mut errors,
        );
        let down = resolve_rules(
            self.scale_down.as_ref(),
            downscale_stabilization,
            &[ScalingPolicy::percent(100, 15)],
            "scaleDown",
            &mut errors,
        );
        if errors.is_empty() {
            Ok(Behavior {
                scale_up: up,
                scale_down: down,
            })
        } else {
            Err(errors)
        }
    }
}

fn resolve_rules(
    spec: Option<&ScalingRulesSpec>,
    default_window: Duration,
    default_policies: &[ScalingPolicy],
    name: &str,
    errors: &mut Vec<FieldError>,
) -> ScalingRules {
    let spec = spec.cloned().unwrap_or_default();
    let at = |f: &str| vec![key(name), key(f)];
    let window = match spec.stabilization_window_seconds {
        None => default_window,
        Some(w) if !(0..=3600).contains(&w) => {
            errors.push((
                at("stabilizationWindowSeconds"),
                format!("must be within 0..3600, got {w}"),
            ));
            default_window
        }
        Some(w) => Duration::from_secs(w as u64),
    };
    let policies = match &spec.policies {
        None => default_policies.to_vec(),
        Some(list) => {
            if list.is_empty() {
                errors.push((at("policies"), "must list at least one policy".into()));
            }
            for (i, p) in list.iter().enumerate() {
                let pp = |f: &str| vec![key(name), key("policies"), PathSegment::Index(i), key(f)];
                if p.value <= 0 {
                    errors.push((pp("value"), format!("must be positive, got {}", p.value)));
                }
                if !(1..=1800).contains(&p.period_seconds) {
                    errors.push((
                        pp("periodSeconds"),
                        format!("must be within 1..1800, got {}", p.period_seconds),
                    ));
                }
            }
            list.iter()
                .map(|p| ScalingPolicy {
                    kind: p.kind,
                    value: p.value,
                    period_seconds: p.period_seconds,
                })
                .collect()
        }
    };
    let tolerance = match spec.tolerance {
        Some(t) if t.as_f64() < 0.0 => {
            errors.push((at("tolerance"), format!("must not be negative, got {t}")));
            None
        }
        t => t.map(|q| q.as_f64()),
    };
    ScalingRules {
        stabilization_window: window,
        select_policy: spec.select_policy.unwrap_or(SelectPolicy::Max),
        policies,
        tolerance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_round_up_to_milli_like_kubernetes() {
        let milli = |s: &str| Quantity::parse(s).map(|q| q.milli_value());
        assert_eq!(milli("500m"), Ok(500));
        assert_eq!(milli("2"), Ok(2000));
        assert_eq!(milli("1.5"), Ok(1500));
        assert_eq!(milli("1Ki"), Ok(1_024_000));
        assert_eq!(milli("10k"), Ok(10_000_000));
        assert_eq!(milli("1e3"), Ok(1_000_000));
        // One nano-unit is a millionth of a milli-unit: MilliValue rounds it up to 1.
        assert_eq!(milli("1n"), Ok(1));
        assert_eq!(Quantity::parse("0.05").map(|q| q.as_f64()), Ok(0.05));
        assert!(Quantity::parse("abc").is_err());
        assert!(Quantity::parse("1.2.3").is_err());
        assert!(Quantity::parse("5Qi").is_err());
    }

    const MANIFEST: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: gateway
  namespace: prod
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: gateway
  minReplicas: 2
  maxReplicas: 100
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
  - type: Pods
    pods:
      metric:
        name: p95_latency_ms
      target:
        type: AverageValue
        averageValue: 500
  behavior:
    scaleDown:
      policies:
      - type: Percent
        value: 10
        periodSeconds: 60
status:
  currentReplicas: 2
  desiredReplicas: 2
";

    #[test]
    fn a_kubectl_manifest_resolves_with_api_defaults() {
        let (m, r) = parse_manifest(MANIFEST, Duration::from_secs(300)).expect("valid manifest");
        assert_eq!(m.name(), Some("gateway"));
        assert_eq!((r.min_replicas, r.max_replicas), (2, 100));
        assert_eq!(
            r.metrics,
            vec![
                MetricKind::Resource {
                    name: "cpu".into(),
                    container: None,
                    target: ResourceTarget::Utilization(70)
                },
                MetricKind::Pods {
                    metric: "p95_latency_ms".into(),
                    target_average_milli: 500_000
                },
            ]
        );
        let b = r.behavior.expect("behavior present");
        assert_eq!(b.scale_down.stabilization_window, Duration::from_secs(300));
        assert_eq!(b.scale_down.policies, vec![ScalingPolicy::percent(10, 60)]);
        assert_eq!(
            b.scale_up.policies,
            vec![ScalingPolicy::pods(4, 15), ScalingPolicy::percent(100, 15)]
        );
        assert_eq!(b.scale_up.stabilization_window, Duration::ZERO);
    }

    #[test]
    fn errors_name_the_field_and_its_line() {
        let text = MANIFEST.replace("averageUtilization: 70", "averageUtilisation: 70");
        let errs = parse_manifest(&text, Duration::from_secs(300)).expect_err("typo");
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].field(),
            "spec.metrics[0].resource.target.averageUtilisation"
        );
        assert_eq!((errs[0].line, errs[0].col), (19, 9));

        let text = MANIFEST.replace("maxReplicas: 100", "maxReplicas: 1");
        let errs = parse_manifest(&text, Duration::from_secs(300)).expect_err("min > max");
        assert_eq!(errs[0].field(), "spec.minReplicas");
        assert_eq!(errs[0].line, 11);

        let text = MANIFEST.replace("periodSeconds: 60", "periodSeconds: 7200");
        let errs = parse_manifest(&text, Duration::from_secs(300)).expect_err("period");
        assert_eq!(
            errs[0].field(),
            "spec.behavior.scaleDown.policies[0].periodSeconds"
        );
        assert_eq!(errs[0].line, 32);
    }
}
