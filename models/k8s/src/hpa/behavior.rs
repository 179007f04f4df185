//! Normalization of the metric-desired replica count, as `horizontal.go` does it: the
//! recommendation history and its stabilization windows ([`Stabilizer`]), the scale events
//! that rate-limit policies count ([`ScaleEvents`]), the policy limits with `selectPolicy`, and
//! the two paths, legacy (`spec.behavior` absent: [`normalize_legacy`]) and behavior
//! ([`normalize_with_behavior`]). Both paths also perform the min/max clamp.
//!
//! Times are [`Duration`]s since an arbitrary epoch of the caller (the simulator's clock).
//! Window tests are written on ages (`now - t`), so the strict `After`/`Before` of the Go code
//! is kept exactly and nothing underflows near the epoch.

pub use models::hpa::behavior::{
    Behavior, ScalingPolicy, ScalingPolicyType, ScalingRules, SelectPolicy,
};
use models::units::Duration;

/// Why the final count differs from (or equals) the stabilized one: the `ScalingLimited`
/// condition reasons of the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitReason {
    DesiredWithinRange,
    ScaleUpLimit,
    TooManyReplicas,
    ScaleDownLimit,
    TooFewReplicas,
}

impl LimitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitReason::DesiredWithinRange => "DesiredWithinRange",
            LimitReason::ScaleUpLimit => "ScaleUpLimit",
            LimitReason::TooManyReplicas => "TooManyReplicas",
            LimitReason::ScaleDownLimit => "ScaleDownLimit",
            LimitReason::TooFewReplicas => "TooFewReplicas",
        }
    }
}

fn age(now: Duration, t: Duration) -> u64 {
    now.0.saturating_sub(t.0)
}

/// Go's `t.After(now - w)`: strictly inside a window of length `w`.
fn inside(now: Duration, t: Duration, w: Duration) -> bool {
    age(now, t) < w.0
}

/// Go's `t.Before(now - w)`: strictly older than `w`.
fn older(now: Duration, t: Duration, w: Duration) -> bool {
    age(now, t) > w.0
}

/// One unstabilized recommendation, as the controller stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    pub replicas: i32,
    pub at: Duration,
}

/// The recommendation history of one HPA key (`a.recommendations[key]`). Obsolete entries are
/// overwritten in place (the last obsolete index wins), so the list only grows while nothing
/// has aged out, exactly as upstream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stabilizer {
    pub recommendations: Vec<Recommendation>,
}

impl Stabilizer {
    fn store(&mut self, obsolete: Option<usize>, rec: Recommendation) {
        match obsolete.and_then(|i| self.recommendations.get_mut(i)) {
            Some(slot) => *slot = rec,
            None => self.recommendations.push(rec),
        }
    }

    /// Legacy `stabilizeRecommendation`: the max over recommendations not older than `window`
    /// (an entry exactly `window` old still counts), then records `desired`.
    pub fn stabilize_legacy(&mut self, now: Duration, window: Duration, desired: i32) -> i32 {
        let mut max = desired;
        let mut obsolete = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if older(now, rec.at, window) {
                obsolete = Some(i);
            } else if rec.replicas > max {
                max = rec.replicas;
            }
        }
        self.store(
            obsolete,
            Recommendation {
                replicas: desired,
                at: now,
            },
        );
        max
    }

    /// `stabilizeRecommendationWithBehaviors`: scale up only to the minimum seen inside the
    /// up window, down only to the maximum seen inside the down window (both strict), then
    /// records `desired`. The result lies between `current` and `desired`.
    pub fn stabilize(
        &mut self,
        now: Duration,
        current: i32,
        desired: i32,
        up_window: Duration,
        down_window: Duration,
    ) -> i32 {
        let mut up = desired;
        let mut down = desired;
        let mut obsolete = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if inside(now, rec.at, up_window) {
                up = up.min(rec.replicas);
            }
            if inside(now, rec.at, down_window) {
                down = down.max(rec.replicas);
            }
            if older(now, rec.at, up_window) && older(now, rec.at, down_window) {
                obsolete = Some(i);
            }
        }
        let mut recommendation = current;
        if recommendation < up {
            recommendation = up;
        }
        if recommendation > down {
            recommendation = down;
        }
        self.store(
            obsolete,
            Recommendation {
                replicas: desired,
                at: now,
            },
        );
        recommendation
    }
}

/// One stored scale event: the absolute replica change, when, and whether it has been marked
/// outdated (free for reuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleEvent {
    pub change: i32,
    pub at: Duration,
    pub outdated: bool,
}

/// The scale-up and scale-down event lists of one HPA key. Only the behavior path stores events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleEvents {
    pub up: Vec<ScaleEvent>,
    pub down: Vec<ScaleEvent>,
}

/// `getReplicasChangePerPeriod`: the sum of changes strictly inside the last `period`.
pub fn change_in_period(events: &[ScaleEvent], now: Duration, period: Duration) -> i64 {
    events
        .iter()
        .filter(|e| inside(now, e.at, period))
        .map(|e| e.change as i64)
        .sum()
}

impl ScaleEvents {
    /// `storeScaleEvent` after a successful rescale from `prev` to `new`: marks the events of
    /// that direction older than its longest policy period as outdated, then overwrites the
    /// last outdated one or appends.
    pub fn record(&mut self, behavior: &Behavior, now: Duration, prev: i32, new: i32) {
        let (list, rules, change) = if new > prev {
            (&mut self.up, &behavior.scale_up, new - prev)
        } else {
            (&mut self.down, &behavior.scale_down, prev - new)
        };
        record_event(list, rules.longest_period(), now, change);
    }
}

/// The body of `storeScaleEvent` for one list. An event once marked outdated stays so until
/// its slot is reused.
pub fn record_event(
    list: &mut Vec<ScaleEvent>,
    longest_period: Duration,
    now: Duration,
    change: i32,
) {
    let mut last_outdated = None;
    for (i, e) in list.iter_mut().enumerate() {
        if older(now, e.at, longest_period) {
            e.outdated = true;
        }
        if e.outdated {
            last_outdated = Some(i);
        }
    }
    let event = ScaleEvent {
        change,
        at: now,
        outdated: false,
    };
    match last_outdated {
        Some(i) => list[i] = event,
        None => list.push(event),
    }
}

fn to_i32(v: i64) -> i32 {
    v.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

fn period_start(current: i32, events: &ScaleEvents, period: Duration, now: Duration) -> i64 {
    current as i64 - change_in_period(&events.up, now, period)
        + change_in_period(&events.down, now, period)
}

/// `calculateScaleUpLimitWithScalingRules`: the highest count the up policies allow now. The
/// count at the start of each period is `current - added + removed` within that period.
pub fn scale_up_limit(
    current: i32,
    events: &ScaleEvents,
    rules: &ScalingRules,
    now: Duration,
) -> i32 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MAX as i64, i64::min),
        SelectPolicy::Max => (i32::MIN as i64, i64::max),
    };
    for p in &rules.policies {
        let start = period_start(current, events, p.period(), now);
        let proposed = match p.kind {
            ScalingPolicyType::Pods => start + p.value as i64,
            // Go: int32(math.Ceil(float64(start) * (1 + float64(value)/100))), same f64 order.
            ScalingPolicyType::Percent => {
                (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64
            }
        };
        result = pick(result, to_i32(proposed) as i64);
    }
    to_i32(result)
}

/// `calculateScaleDownLimitWithBehaviors`: the lowest count the down policies allow now.
pub fn scale_down_limit(
    current: i32,
    events: &ScaleEvents,
    rules: &ScalingRules,
    now: Duration,
) -> i32 {
    let (mut result, pick): (i64, fn(i64, i64) -> i64) = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => (i32::MIN as i64, i64::max),
        SelectPolicy::Max => (i32::MAX as i64, i64::min),
    };
    for p in &rules.policies {
        let start = period_start(current, events, p.period(), now);
        let proposed = match p.kind {
            ScalingPolicyType::Pods => start - p.value as i64,
            // Go: int32(float64(start) * (1 - float64(value)/100)): truncation toward zero.
            ScalingPolicyType::Percent => {
                (start as f64 * (1.0 - p.value as f64 / 100.0)).trunc() as i64
            }
        };
        result = pick(result, to_i32(proposed) as i64);
    }
    to_i32(result)
}

/// `convertDesiredReplicasWithBehaviorRate`: applies the policy limits and min/max. Max is
/// applied only on the way up and min only on the way down, as upstream.
pub fn limit_with_behavior(
    current: i32,
    stabilized: i32,
    min: i32,
    max: i32,
    behavior: &Behavior,
    events: &ScaleEvents,
    now: Duration,
) -> (i32, LimitReason) {
    if stabilized > current {
        let limit = scale_up_limit(current, events, &behavior.scale_up, now).max(current);
        let (allowed, reason) = if max > limit {
            (limit, LimitReason::ScaleUpLimit)
        } else {
            (max, LimitReason::TooManyReplicas)
        };
        if stabilized > allowed {
            return (allowed, reason);
        }
    } else if stabilized < current {
        let limit = scale_down_limit(current, events, &behavior.scale_down, now).min(current);
        let (allowed, reason) = if min < limit {
            (limit, LimitReason::ScaleDownLimit)
        } else {
            (min, LimitReason::TooFewReplicas)
        };
        if stabilized < allowed {
            return (allowed, reason);
        }
    }
    (stabilized, LimitReason::DesiredWithinRange)
}

/// The legacy path's scale-up cap: `scaleUpLimitFactor` (2.0) and `scaleUpLimitMinimum` (4.0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LegacyScaleUpLimit {
    pub factor: f64,
    pub minimum: f64,
}

impl Default for LegacyScaleUpLimit {
    fn default() -> Self {
        LegacyScaleUpLimit {
            factor: 2.0,
            minimum: 4.0,
        }
    }
}

/// `convertDesiredReplicasWithRules` (legacy path): `max(factor * current, 4)` caps every
/// scale-up with no memory of earlier syncs; min and max clamp.
pub fn limit_legacy(
    current: i32,
    stabilized: i32,
    min: i32,
    max: i32,
    cap: LegacyScaleUpLimit,
) -> (i32, LimitReason) {
    let scale_up_limit = (cap.factor * current as f64).max(cap.minimum) as i32;
    let (allowed, reason) = if max > scale_up_limit {
        (scale_up_limit, LimitReason::ScaleUpLimit)
    } else {
        (max, LimitReason::TooManyReplicas)
    };
    if stabilized < min {
        (min, LimitReason::TooFewReplicas)
    } else if stabilized > allowed {
        (allowed, reason)
    } else {
        (stabilized, LimitReason::DesiredWithinRange)
    }
}

/// The counts one normalization works on: the scale's current count, the metric-desired count
/// (max over metrics, not yet clamped) and the HPA's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScaleRequest {
    pub current: i32,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
}

/// The whole legacy normalization: stabilize over `window` (the downscale-stabilization flag),
/// then limit.
pub fn normalize_legacy(
    stabilizer: &mut Stabilizer,
    now: Duration,
    window: Duration,
    req: ScaleRequest,
    cap: LegacyScaleUpLimit,
) -> (i32, LimitReason) {
    let stabilized = stabilizer.stabilize_legacy(now, window, req.desired);
    limit_legacy(req.current, stabilized, req.min, req.max, cap)
}

/// The whole behavior normalization: both stabilization windows, then the policy limits.
pub fn normalize_with_behavior(
    stabilizer: &mut Stabilizer,
    events: &ScaleEvents,
    behavior: &Behavior,
    now: Duration,
    req: ScaleRequest,
) -> (i32, LimitReason) {
    let stabilized = stabilizer.stabilize(
        now,
        req.current,
        req.desired,
        behavior.scale_up.stabilization_window,
        behavior.scale_down.stabilization_window,
    );
    limit_with_behavior(
        req.current,
        stabilized,
        req.min,
        req.max,
        behavior,
        events,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn default_behavior() -> Behavior {
        Behavior {
            scale_up: ScalingRules {
                stabilization_window: Duration::ZERO,
                select_policy: SelectPolicy::Max,
                policies: vec![ScalingPolicy::pods(4, 15), ScalingPolicy::percent(100, 15)],
                tolerance: None,
            },
            scale_down: ScalingRules {
                stabilization_window: s(300),
                select_policy: SelectPolicy::Max,
                policies: vec![ScalingPolicy::percent(100, 15)],
                tolerance: None,
            },
        }
    }

    #[test]
    fn percent_policy_keeps_the_go_float_quirk() {
        // ceil(100 * 1.1) = ceil(110.00000000000001) = 111 (hpa-algorithm.md section 11).
        let mut b = default_behavior();
        b.scale_up.policies = vec![ScalingPolicy::percent(10, 60)];
        assert_eq!(
            scale_up_limit(100, &ScaleEvents::default(), &b.scale_up, s(1000)),
            111
        );
        // int(72 * 0.9) = 64; int(3 * 0.99) = 2.
        b.scale_down.policies = vec![ScalingPolicy::percent(10, 60)];
        assert_eq!(
            scale_down_limit(72, &ScaleEvents::default(), &b.scale_down, s(1000)),
            64
        );
        b.scale_down.policies = vec![ScalingPolicy::percent(1, 60)];
        assert_eq!(
            scale_down_limit(3, &ScaleEvents::default(), &b.scale_down, s(1000)),
            2
        );
    }

    #[test]
    fn an_event_exactly_one_period_old_no_longer_counts() {
        let mut ev = ScaleEvents::default();
        ev.down.push(ScaleEvent {
            change: 8,
            at: s(100),
            outdated: false,
        });
        let mut b = default_behavior();
        b.scale_down.policies = vec![ScalingPolicy::percent(10, 60)];
        // 59s later the 8 removed pods still count: start = 72 + 8 = 80 -> 72, no further step.
        assert_eq!(scale_down_limit(72, &ev, &b.scale_down, s(159)), 72);
        // Exactly 60s later the event is outside the period: start = 72 -> 64.
        assert_eq!(scale_down_limit(72, &ev, &b.scale_down, s(160)), 64);
    }

    #[test]
    fn disabled_select_policy_freezes_that_direction() {
        let mut b = default_behavior();
        b.scale_up.select_policy = SelectPolicy::Disabled;
        let (r, reason) = limit_with_behavior(5, 9, 1, 10, &b, &ScaleEvents::default(), s(0));
        assert_eq!((r, reason), (5, LimitReason::ScaleUpLimit));
    }

    #[test]
    fn legacy_stabilizer_keeps_a_recommendation_exactly_window_old() {
        let mut st = Stabilizer {
            recommendations: vec![Recommendation {
                replicas: 80,
                at: s(0),
            }],
        };
        assert_eq!(st.stabilize_legacy(s(300), s(300), 10), 80);
        assert_eq!(st.stabilize_legacy(s(315), s(300), 10), 10);
        // The behavior stabilizer drops it at exactly the window.
        let mut st = Stabilizer {
            recommendations: vec![Recommendation {
                replicas: 80,
                at: s(0),
            }],
        };
        assert_eq!(st.stabilize(s(300), 80, 10, Duration::ZERO, s(300)), 10);
    }
}
