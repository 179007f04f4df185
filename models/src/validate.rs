//! Validation of a parsed [`Scenario`]: what the types cannot check (references between
//! sections, ranges, stability), each problem a [`Finding`] with the path of the offending value
//! in the YAML tree, which [`crate::load`] turns into `file:line:col`.

use crate::scenario::{Arrivals, Replicas, Scenario, Service, Step};
use crate::units::Duration;
use indexmap::IndexMap;

pub use crate::path::{Finding, PathSegment, Severity};

impl Scenario {
    /// Checks what the types cannot: references between sections, ranges, stability. Errors make
    /// the scenario unusable; warnings (an unstable queue) are allowed.
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut err = |path: Vec<PathSegment>, message: String| {
            out.push(Finding {
                path,
                message,
                severity: Severity::Error,
            })
        };
        if self.horizon.0 == 0 {
            err(path!["horizon"], "horizon must be greater than zero".into());
        }
        if self.warmup >= self.horizon && self.horizon.0 > 0 {
            err(
                path!["warmup"],
                format!(
                    "warmup ({}) must be shorter than the horizon ({})",
                    self.warmup, self.horizon
                ),
            );
        }
        if self.replications == 0 {
            err(
                path!["replications"],
                "replications must be at least 1".into(),
            );
        }
        for (name, s) in &self.services {
            if s.concurrency == 0 {
                err(
                    path!["services", name, "concurrency"],
                    "concurrency must be at least 1".into(),
                );
            }
            match s.replicas {
                Replicas::Fixed(0) => err(
                    path!["services", name, "replicas"],
                    "replicas must be at least 1".into(),
                ),
                Replicas::Range { min, max } if min == 0 || min > max => err(
                    path!["services", name, "replicas"],
                    format!("replicas range needs 1 <= min <= max, found min {min}, max {max}"),
                ),
                _ => {}
            }
            match (&s.service_time, &s.cpu) {
                (None, None) => err(
                    path!["services", name],
                    "a service needs `service_time:` (or `cpu:`, its CPU demand)".into(),
                ),
                (Some(d), _) => {
                    if let Err(e) = d.check() {
                        err(path!["services", name, "service_time"], e);
                    }
                }
                _ => {}
            }
            if let Some(c) = &s.cpu {
                if let Err(e) = c.check() {
                    err(path!["services", name, "cpu"], e);
                }
            }
            if let Some(c) = s.cores {
                if !(c > 0.0 && c.is_finite()) {
                    err(
                        path!["services", name, "cores"],
                        format!("cores must be greater than zero, found {c}"),
                    );
                }
            }
            for (key, given) in [
                ("cores", s.cores.is_some()),
                ("cpu_slice", s.cpu_slice.is_some()),
            ] {
                if given && s.cpu.is_none() {
                    err(
                        path!["services", name, key],
                        format!(
                            "`{key}` applies to a service with `cpu:` (its CPU demand per visit)"
                        ),
                    );
                }
            }
            if let Some(l) = s.pod.as_ref().and_then(|p| p.cpu_limit.as_ref()) {
                if let Err(e) = crate::platform::parse_cpu_milli(l) {
                    err(path!["services", name, "pod", "cpu_limit"], e);
                }
            }
        }
        let arrivals = path!["workload", "arrivals"];
        match &self.workload.arrivals {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => {
                if rate.per_sec() <= 0.0 {
                    err(
                        arrivals,
                        "the arrival rate must be greater than zero".into(),
                    );
                }
            }
            Arrivals::Profile { points, repeat, .. } => {
                if points.is_empty() {
                    err(arrivals, "a profile needs at least one point".into());
                } else if points.windows(2).any(|w| w[0].at >= w[1].at) {
                    err(
                        arrivals,
                        "profile points must be in increasing `at` order".into(),
                    );
                } else if points.iter().all(|p| p.rate.per_sec() <= 0.0) {
                    err(
                        arrivals,
                        "a profile needs a point with a positive rate".into(),
                    );
                } else if let Some(last) = points.last().filter(|p| p.rate.per_sec() <= 0.0) {
                    if repeat.is_none() && last.at < self.horizon {
                        err(
                            path![
                                "workload",
                                "arrivals",
                                "profile",
                                "points",
                                points.len() - 1,
                                "rate"
                            ],
                            format!(
                                "the profile ends at rate 0 at {}, before the horizon ({}): \
                                 nothing arrives after it; end on a positive rate, add \
                                 `repeat:`, or shorten the horizon",
                                last.at, self.horizon
                            ),
                        );
                    }
                }
                if let Some(r) = repeat {
                    if r.0 == 0 {
                        err(
                            path!["workload", "arrivals", "profile", "repeat"],
                            "repeat must be > 0".into(),
                        );
                    }
                }
            }
            Arrivals::Trace { times, file } => {
                if times.is_empty() {
                    err(arrivals, format!("the trace `{file}` has no arrival times"));
                } else if times.windows(2).any(|w| w[0] > w[1]) {
                    err(
                        arrivals,
                        format!("the trace `{file}` is not sorted by time"),
                    );
                }
            }
        }
        if self.workload.journeys.is_empty() {
            err(
                path!["workload", "journeys"],
                "at least one journey is needed".into(),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (j, journey) in self.workload.journeys.iter().enumerate() {
            if !seen.insert(journey.name.as_str()) {
                err(
                    path!["workload", "journeys", j, "name"],
                    format!("journey `{}` is defined twice", journey.name),
                );
            }
            if let Some(a) = &journey.arrivals {
                let here = path!["workload", "journeys", j, "arrivals"];
                match a {
                    Arrivals::Poisson { rate } | Arrivals::Constant { rate }
                        if rate.per_sec() <= 0.0 =>
                    {
                        err(here, "the arrival rate must be greater than zero".into())
                    }
                    Arrivals::Trace { .. } => err(
                        here,
                        "a journey's own arrivals cannot be a trace (yet): use workload.arrivals"
                            .into(),
                    ),
                    _ => {}
                }
            }
            if !(journey.weight.is_finite() && journey.weight > 0.0) {
                err(
                    path!["workload", "journeys", j, "weight"],
                    format!("weight must be greater than zero, found {}", journey.weight),
                );
            }
            if journey.steps.is_empty() {
                err(
                    path!["workload", "journeys", j, "steps"],
                    "a journey needs at least one step".into(),
                );
            }
            // A feed's columns are values the journey's templates may use from its first step.
            let mut captured: Vec<String> = journey
                .feed
                .as_ref()
                .map(|f| f.columns.clone())
                .unwrap_or_default();
            for (key, value) in &journey.tags {
                if let Err(m) = crate::summary::check_tag(key, value) {
                    err(path!["workload", "journeys", j, "tags", key], m);
                }
            }
            let base = path!["workload", "journeys", j, "steps"];
            self.check_steps(
                &journey.name,
                &journey.steps,
                &base,
                &mut captured,
                &mut err,
            );
        }
        self.check_components(&mut err);
        for (p, m) in crate::network::check(self) {
            err(p, m);
        }
        for (sub, message) in crate::observe::check(&self.observers) {
            let mut p = path!["observers"];
            p.extend(sub.iter().map(|k| match k.parse::<usize>() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::Key(k.clone()),
            }));
            err(p, message);
        }
        let journeys: Vec<&str> = self
            .workload
            .journeys
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        for (i, d) in self.drills.iter().enumerate() {
            for (sub, message) in d.check(&journeys, self.recovery_window) {
                let mut p = path!["drills", i];
                for part in sub.split('.') {
                    match part.split_once('[') {
                        Some((k, idx)) => {
                            p.push(PathSegment::Key(k.to_string()));
                            if let Ok(n) = idx.trim_end_matches(']').parse::<usize>() {
                                p.push(PathSegment::Index(n));
                            }
                        }
                        None => p.push(PathSegment::Key(part.to_string())),
                    }
                }
                err(p, message);
            }
        }
        if let Some(r) = self.recovery_resolution {
            if r.0 < 1_000_000 {
                err(
                    path!["recovery_resolution"],
                    "recovery_resolution must be at least 1ms".to_string(),
                );
            }
        }
        let mut streams = std::collections::HashSet::new();
        for (i, f) in self.faults.iter().enumerate() {
            let base = path!["faults", i];
            for (p, m) in f.check(self, &base) {
                err(p, m);
            }
            if f.mtbf.is_some() && !streams.insert(f.stream_name()) {
                err(
                    path!["faults", i],
                    format!(
                        "two random faults are both `{}`; give one a `name:` (it names its random stream)",
                        f.stream_name().trim_start_matches("fault/")
                    ),
                );
            }
        }
        let (mut rolled, mut names) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for (i, r) in self.rollouts.iter().enumerate() {
            let base = path!["rollouts", i];
            for (p, m) in r.check(self, &base) {
                err(p, m);
            }
            if !rolled.insert(r.service.as_str()) {
                err(
                    path!["rollouts", i, "service"],
                    format!("a second rollout of `{}`: one rollout a service", r.service),
                );
            }
            if !names.insert(r.name.as_str()) {
                err(
                    path!["rollouts", i, "name"],
                    format!("a second rollout named `{}`", r.name),
                );
            }
        }
        for (i, slo) in self.slos.iter().enumerate() {
            if let Some(j) = slo.journey() {
                if !self.workload.journeys.iter().any(|x| x.name == j) {
                    err(
                        path!["slos", i],
                        format!(
                            "SLO `{}` names the journey `{j}`, which is not defined",
                            slo.text
                        ),
                    );
                }
            }
        }
        if out.is_empty() {
            out.extend(self.stability_warnings());
            out.extend(self.hpa_metric_warnings());
            out.extend(self.spot_warnings());
        }
        out
    }

    /// Preemption settings on an on-demand pool are ignored (kept valid so that a sweep can
    /// vary `node_pools.X.spot` and keep the rate), but said.
    fn spot_warnings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (name, np) in self.node_pools.iter().filter(|(_, np)| !np.spot) {
            for (key, set) in [
                ("preemption_rate", np.preemption_rate.is_some()),
                ("preemption_notice", np.preemption_notice.is_some()),
            ] {
                if set {
                    out.push(Finding {
                        path: path!["node_pools", name, key],
                        message: format!(
                            "`{key}` is ignored without `spot: true` (on-demand nodes are not preempted)"
                        ),
                        severity: Severity::Warning,
                    });
                }
            }
        }
        out
    }

    /// HPA metrics the simulator cannot serve: valid autoscaling/v2, but every sync reports
    /// them unavailable (which blocks scale-downs, as a failing metrics API does).
    fn hpa_metric_warnings(&self) -> Vec<Finding> {
        use crate::hpa::spec::MetricSourceType as T;
        let mut out = Vec::new();
        for (name, s) in &self.services {
            let Some(h) = &s.hpa else { continue };
            for (i, m) in h.metrics.iter().enumerate() {
                let (field, metric) = match m.kind {
                    T::Pods => ("pods", m.pods.as_ref().map(|p| &p.metric.name)),
                    T::Object => ("object", m.object.as_ref().map(|o| &o.metric.name)),
                    T::External => ("external", m.external.as_ref().map(|x| &x.metric.name)),
                    T::Resource | T::ContainerResource => {
                        let r = m
                            .resource
                            .as_ref()
                            .map(|r| &r.name)
                            .or(m.container_resource.as_ref().map(|r| &r.name));
                        if let Some(r) = r.filter(|r| *r != "cpu" && *r != "memory") {
                            out.push(Finding {
                                path: path!["services", name, "hpa", "metrics", i],
                                message: format!(
                                    "resource `{r}` is not reported by metrics-server (cpu, memory): every sync will find it unavailable"
                                ),
                                severity: Severity::Warning,
                            });
                        }
                        continue;
                    }
                };
                if let Some(metric) = metric {
                    if crate::metrics_pipeline::CustomMetric::from_name(metric).is_none() {
                        out.push(Finding {
                            path: path!["services", name, "hpa", "metrics", i, field, "metric", "name"],
                            message: format!(
                                "the simulated metrics adapter has no `{metric}`: it serves pNN_latency_ms / pNN_latency_seconds, requests_per_second and queue_length / kafka_consumer_lag; every sync will find it unavailable"
                            ),
                            severity: Severity::Warning,
                        });
                    }
                }
            }
        }
        out
    }

    /// Checks a list of steps (recursively: parallel branches, cache misses).
    fn check_steps(
        &self,
        journey: &str,
        steps: &[Step],
        base: &[PathSegment],
        captured: &mut Vec<String>,
        err: &mut impl FnMut(Vec<PathSegment>, String),
    ) {
        let known = |m: &dyn Fn(&str) -> bool,
                     kind: &str,
                     name: &str,
                     keys: Vec<&str>,
                     p: Vec<PathSegment>,
                     err: &mut dyn FnMut(Vec<PathSegment>, String)| {
            if !m(name) {
                err(
                    p,
                    format!(
                        "journey `{journey}` names the {kind} `{name}`, which is not defined; expected one of: {}",
                        if keys.is_empty() { "(none defined)".to_string() } else { keys.join(", ") }
                    ),
                );
            }
        };
        for (k, step) in steps.iter().enumerate() {
            let mut here = base.to_vec();
            here.push(PathSegment::Index(k));
            let at = |key: &str| {
                let mut p = here.clone();
                p.push(PathSegment::Key(key.to_string()));
                p
            };
            if let Some(call) = &step.http {
                // Templates may use what earlier steps captured (crate::http).
                for (sub, message) in call.compile(captured).err().unwrap_or_default() {
                    let mut p = at("http");
                    p.extend(sub.iter().map(|k| match k.parse::<usize>() {
                        Ok(i) => PathSegment::Index(i),
                        Err(_) => PathSegment::Key(k.clone()),
                    }));
                    err(p, message);
                }
                captured.extend(call.capture.keys().cloned());
            }
            for (key, value) in &step.tags {
                let mut p = at("tags");
                p.push(PathSegment::Key(key.clone()));
                if let Err(m) = crate::summary::check_tag(key, value) {
                    err(p, m);
                }
            }
            let actions = step.actions();
            if actions.len() != 1 {
                err(
                    here.clone(),
                    format!(
                        "a step needs exactly one of service, delay, parallel, llm, topic or batch; found {}",
                        if actions.is_empty() { "none".to_string() } else { actions.join(", ") }
                    ),
                );
            }
            if let Some(name) = &step.service {
                known(
                    &|n| self.services.contains_key(n),
                    "service",
                    name,
                    self.services.keys().map(String::as_str).collect(),
                    at("service"),
                    err,
                );
            }
            if let Some(name) = &step.llm {
                known(
                    &|n| self.llm_endpoints.contains_key(n),
                    "LLM endpoint",
                    name,
                    self.llm_endpoints.keys().map(String::as_str).collect(),
                    at("llm"),
                    err,
                );
                if step.tokens.is_none() {
                    err(
                        at("llm"),
                        "an llm step needs `tokens: {tokens_in: ..., tokens_out: ...}`".into(),
                    );
                }
            }
            if let Some(name) = &step.topic {
                let topics: Vec<&str> = self
                    .kafka
                    .iter()
                    .flat_map(|k| k.topics.keys().map(String::as_str))
                    .collect();
                known(
                    &|n| topics.contains(&n),
                    "Kafka topic",
                    name,
                    topics.clone(),
                    at("topic"),
                    err,
                );
            }
            if let Some(name) = &step.batch {
                known(
                    &|n| self.batchers.contains_key(n),
                    "batcher",
                    name,
                    self.batchers.keys().map(String::as_str).collect(),
                    at("batch"),
                    err,
                );
            }
            if let Some(name) = &step.pool {
                known(
                    &|n| self.pools.contains_key(n),
                    "connection pool",
                    name,
                    self.pools.keys().map(String::as_str).collect(),
                    at("pool"),
                    err,
                );
            }
            if let Some(r) = &step.retry {
                if r.attempts == 0 {
                    let mut p = at("retry");
                    p.push(PathSegment::Key("attempts".into()));
                    err(
                        p,
                        "retry attempts must be at least 1 (the first try counts)".into(),
                    );
                }
                if let Err(e) = r.backoff.check() {
                    err(at("retry"), e);
                }
                if step.service.is_none() {
                    err(at("retry"), "retry applies to a `service` step".into());
                }
            }
            if let Some(b) = &step.circuit_breaker {
                let key = |k: &str| {
                    let mut p = at("circuit_breaker");
                    p.push(PathSegment::Key(k.into()));
                    p
                };
                if step.service.is_none() {
                    err(
                        at("circuit_breaker"),
                        "circuit_breaker applies to a `service` step".into(),
                    );
                }
                if !(b.failure_rate.0 > 0.0 && b.failure_rate.0 <= 1.0) {
                    err(
                        key("failure_rate"),
                        format!(
                            "failure_rate must be above 0% and at most 100%, found {}",
                            b.failure_rate.0
                        ),
                    );
                }
                for (k, d) in [("window", b.window), ("open_for", b.open_for)] {
                    if d.0 == 0 {
                        err(key(k), format!("{k} must be greater than zero"));
                    }
                }
                for (k, n) in [
                    ("min_requests", b.min_requests),
                    ("half_open_calls", b.half_open_calls),
                ] {
                    if n == 0 {
                        err(key(k), format!("{k} must be at least 1"));
                    }
                }
            }
            for (key, d) in [("service_time", &step.service_time), ("cpu", &step.cpu)] {
                let Some(d) = d else { continue };
                if step.service.is_none() {
                    err(
                        at(key),
                        format!("`{key}` overrides a `service` step's service's"),
                    );
                } else if matches!(d, crate::distribution::Distribution::Empirical { .. }) {
                    err(
                        at(key),
                        "an endpoint's demand cannot be `empirical` yet: give it on the service"
                            .into(),
                    );
                } else if let Err(e) = d.check() {
                    err(at(key), e);
                }
            }
            if let Some(t) = step.timeout {
                if step.service.is_none() {
                    err(at("timeout"), "timeout applies to a `service` step".into());
                } else if t.0 == 0 {
                    err(at("timeout"), "timeout must be greater than zero".into());
                } else if base
                    .iter()
                    .any(|s| matches!(s, PathSegment::Key(k) if k == "parallel" || k == "miss"))
                {
                    err(
                        at("timeout"),
                        "a step timeout applies to a journey's own steps and their calls (not yet inside parallel or a cache miss)".into(),
                    );
                }
            }
            if let Some(calls) = &step.calls {
                if step.service.is_none() {
                    err(
                        at("calls"),
                        "calls are made by a `service` step's service".into(),
                    );
                }
                let depth = base
                    .iter()
                    .filter(|s| matches!(s, PathSegment::Key(k) if k == "calls"))
                    .count();
                if depth >= MAX_CALL_DEPTH {
                    err(
                        at("calls"),
                        format!("calls nest at most {MAX_CALL_DEPTH} deep (a service calling a service calling ...)"),
                    );
                }
                if calls.is_empty() {
                    err(at("calls"), "calls needs at least one step".into());
                }
                let p = at("calls");
                self.check_steps(journey, calls, &p, captured, err);
            }
            if step.errors.is_some() && step.service.is_none() {
                err(at("errors"), "errors applies to a `service` step".into());
            }
            if let Some(p) = step.probability {
                if !(0.0..=1.0).contains(&p) {
                    err(
                        at("probability"),
                        format!("probability must lie in 0..1, found {p}"),
                    );
                }
            }
            if let Some(d) = &step.delay {
                if let Err(e) = d.check() {
                    err(at("delay"), e);
                }
            }
            if let Some(c) = &step.cache {
                if step.service.is_none() {
                    err(
                        at("cache"),
                        "`cache` goes with `service:` (the cache service)".into(),
                    );
                }
                if !(0.0..=1.0).contains(&c.hit_ratio) {
                    err(
                        at("cache"),
                        format!("hit_ratio must lie in 0..1, found {}", c.hit_ratio),
                    );
                }
                let mut p = at("cache");
                p.push(PathSegment::Key("miss".into()));
                self.check_steps(journey, &c.miss, &p, captured, err);
            }
            if let Some(branches) = &step.parallel {
                if branches.is_empty() {
                    err(at("parallel"), "parallel needs at least one branch".into());
                }
                // Branches run at once (`twin load` calls them concurrently): a branch sees
                // what was captured before the fork, not its siblings' captures.
                let mut joined = Vec::new();
                for (b, branch) in branches.iter().enumerate() {
                    let mut p = at("parallel");
                    p.push(PathSegment::Index(b));
                    if branch.is_empty() {
                        err(
                            p.clone(),
                            "a parallel branch needs at least one step".into(),
                        );
                    }
                    let mut seen = captured.clone();
                    let before = seen.len();
                    self.check_steps(journey, branch, &p, &mut seen, err);
                    joined.extend(seen.drain(before..));
                }
                captured.extend(joined);
            }
        }
    }

    /// Checks the platform components and their references.
    fn check_components(&self, err: &mut impl FnMut(Vec<PathSegment>, String)) {
        for (name, p) in &self.pools {
            if p.size == 0 {
                err(
                    path!["pools", name, "size"],
                    "a pool needs at least one connection".into(),
                );
            }
        }
        for (name, e) in &self.llm_endpoints {
            if let Err(m) = e.time_to_first_token.check() {
                err(path!["llm_endpoints", name, "time_to_first_token"], m);
            }
            if e.retry.max_attempts == 0 {
                err(
                    path!["llm_endpoints", name, "retry", "max_attempts"],
                    "max_attempts must be at least 1".into(),
                );
            }
        }
        if let Some(k) = &self.kafka {
            if let Err(m) = k.produce_latency.check() {
                err(path!["kafka", "produce_latency"], m);
            }
            for (name, t) in &k.topics {
                if t.partitions == 0 {
                    err(
                        path!["kafka", "topics", name, "partitions"],
                        "a topic needs at least one partition".into(),
                    );
                }
                if !self.services.contains_key(&t.consumer) {
                    err(
                        path!["kafka", "topics", name, "consumer"],
                        format!(
                            "topic `{name}` names the consumer service `{}`, which is not defined",
                            t.consumer
                        ),
                    );
                }
                for (group, g) in &t.groups {
                    if !self.services.contains_key(&g.consumer) {
                        err(
                            path!["kafka", "topics", name, "groups", group, "consumer"],
                            format!(
                                "consumer group `{group}` of topic `{name}` names the service \
                                 `{}`, which is not defined",
                                g.consumer
                            ),
                        );
                    }
                }
            }
        }
        for (name, b) in &self.batchers {
            if b.gpus == 0 || b.max_batch == 0 {
                err(
                    path!["batchers", name],
                    "a batcher needs gpus >= 1 and max_batch >= 1".into(),
                );
            }
            if b.batch_time.is_empty() {
                err(
                    path!["batchers", name, "batch_time"],
                    "batch_time needs at least one size".into(),
                );
            }
        }
        for (name, np) in &self.node_pools {
            if np.min > np.max {
                err(
                    path!["node_pools", name],
                    format!("node pool needs min <= max, found {} > {}", np.min, np.max),
                );
            }
            if let Err(m) = crate::machines::MachineType::lookup(&np.machine) {
                err(path!["node_pools", name, "machine"], m.to_string());
            }
            if let Some(d) = &np.daemonset {
                if let Err(m) = crate::platform::parse_cpu_milli(&d.cpu) {
                    err(path!["node_pools", name, "daemonset", "cpu"], m);
                }
                if let Err(m) = crate::platform::parse_memory_bytes(&d.memory) {
                    err(path!["node_pools", name, "daemonset", "memory"], m);
                }
            }
            if let Some(d) = &np.provisioning {
                if let Err(m) = d.check() {
                    err(path!["node_pools", name, "provisioning"], m);
                }
                if matches!(d, crate::distribution::Distribution::Empirical { .. }) {
                    err(
                        path!["node_pools", name, "provisioning"],
                        "provisioning takes constant, exponential, lognormal, gamma, weibull or uniform, not an empirical file".into(),
                    );
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, z) in np.zones.iter().enumerate() {
                if !seen.insert(z) {
                    err(
                        path!["node_pools", name, "zones", i],
                        format!("zone `{z}` is listed twice"),
                    );
                }
            }
            let bought = self.cost.as_ref().and_then(|c| c.node_pools.get(name));
            if let Some(p) = bought.filter(|p| np.spot && **p != crate::cost::PricingModel::Spot) {
                err(
                    path!["cost", "node_pools", name],
                    format!("node pool `{name}` is `spot: true`, so it is bought as spot, not {p}"),
                );
            }
        }
        if self.cluster.scan_interval.0 == 0 {
            err(
                path!["cluster", "scan_interval"],
                "scan_interval must be above 0s (the cluster autoscaler's loop period)".into(),
            );
        }
        for (field, message) in self.metrics_pipeline.check() {
            let mut p = path!["metrics_pipeline"];
            p.extend(field);
            err(p, message);
        }
        for (name, s) in &self.services {
            self.check_compute(name, s, err);
            if let Some(h) = &s.hpa {
                let bounds = match s.replicas {
                    Replicas::Range { min, max } => (min as i32, max as i32),
                    Replicas::Fixed(n) => (n as i32, n as i32),
                };
                let at: Vec<PathSegment> = path!["services", name, "hpa"];
                if let Err(list) = h.resolve(Some(bounds), Duration::from_secs(300), &at) {
                    for e in list {
                        err(e.path.clone(), e.message.clone());
                    }
                }
            }
            if let Some(pod) = &s.pod {
                if let Some(m) = &pod.memory_usage {
                    if let Err(e) = m.bytes() {
                        err(path!["services", name, "pod", "memory_usage"], e);
                    }
                }
                if !self.node_pools.contains_key(&pod.node_pool) {
                    err(
                        path!["services", name, "pod", "node_pool"],
                        format!(
                            "service `{name}` runs on node pool `{}`, which is not defined",
                            pod.node_pool
                        ),
                    );
                }
                if let Err(m) = crate::platform::parse_cpu_milli(&pod.cpu) {
                    err(path!["services", name, "pod", "cpu"], m);
                }
                if let Some(np) = self.node_pools.get(&pod.node_pool) {
                    if pod.gpus > np.gpus_per_node {
                        err(
                            path!["services", name, "pod", "gpus"],
                            format!(
                                "the pod requests {} GPU(s) but a node of pool `{}` has {} (gpus_per_node): it would stay Pending",
                                pod.gpus, pod.node_pool, np.gpus_per_node
                            ),
                        );
                    }
                }
                if let Err(m) = crate::platform::parse_memory_bytes(&pod.memory) {
                    err(path!["services", name, "pod", "memory"], m);
                }
            }
        }
    }

    /// Checks a service's `cloud_run`, `vm` and `ray` blocks (at most one compute kind).
    fn check_compute(
        &self,
        name: &str,
        s: &Service,
        err: &mut impl FnMut(Vec<PathSegment>, String),
    ) {
        let kinds: Vec<&str> = [
            ("pod", s.pod.is_some()),
            ("cloud_run", s.cloud_run.is_some()),
            ("vm", s.vm.is_some()),
            ("ray", s.ray.is_some()),
        ]
        .iter()
        .filter(|k| k.1)
        .map(|k| k.0)
        .collect();
        if kinds.len() > 1 {
            err(
                path!["services", name],
                format!(
                    "service `{name}` runs on one of pod, cloud_run, vm or ray; found {}",
                    kinds.join(", ")
                ),
            );
        }
        if s.hpa.is_some() && s.pod.is_none() && !kinds.is_empty() {
            err(
                path!["services", name, "hpa"],
                format!(
                    "an `hpa` scales pods, and this service runs on `{}` (Cloud Run and Ray have their own autoscalers)",
                    kinds.join(", ")
                ),
            );
        }
        let machine =
            |m: &str, key: Vec<PathSegment>, err: &mut dyn FnMut(Vec<PathSegment>, String)| {
                if let Err(e) = crate::machines::MachineType::lookup(m) {
                    err(key, e.to_string());
                }
            };
        if let Some(c) = &s.cloud_run {
            let at = |k: &str| path!["services", name, "cloud_run", k];
            if !(1..=1000).contains(&c.concurrency) {
                err(
                    at("concurrency"),
                    format!(
                        "Cloud Run concurrency lies in 1..=1000, found {}",
                        c.concurrency
                    ),
                );
            }
            if c.max_instances == 0 || c.min_instances > c.max_instances {
                err(
                    at("max_instances"),
                    format!(
                        "needs 1 <= max_instances and min_instances <= max_instances, found min {}, max {}",
                        c.min_instances, c.max_instances
                    ),
                );
            }
            if !(0.1..=0.95).contains(&c.target_concurrency_utilization) {
                err(
                    at("target_concurrency_utilization"),
                    format!(
                        "Cloud Run allows a concurrency target of 0.1 to 0.95, found {}",
                        c.target_concurrency_utilization
                    ),
                );
            }
            if let Err(m) = c.cold_start.check() {
                err(at("cold_start"), m);
            }
            if let Err(m) = crate::platform::parse_cpu_milli(&c.cpu) {
                err(at("cpu"), m);
            }
            if let Err(m) = crate::platform::parse_memory_bytes(&c.memory) {
                err(at("memory"), m);
            }
        }
        if let Some(v) = &s.vm {
            machine(&v.machine, path!["services", name, "vm", "machine"], err);
            if v.count == 0 || v.concurrency == Some(0) {
                err(
                    path!["services", name, "vm"],
                    "a vm block needs count >= 1 and concurrency >= 1".into(),
                );
            }
        }
        if let Some(r) = &s.ray {
            let at = |k: &str| path!["services", name, "ray", k];
            machine(&r.head_machine, at("head_machine"), err);
            machine(&r.worker_machine, at("worker_machine"), err);
            if r.max_workers == 0 || r.min_workers > r.max_workers {
                err(
                    at("max_workers"),
                    format!(
                        "needs 1 <= max_workers and min_workers <= max_workers, found min {}, max {}",
                        r.min_workers, r.max_workers
                    ),
                );
            }
            if r.cpus_per_worker == Some(0) {
                err(
                    at("cpus_per_worker"),
                    "cpus_per_worker must be at least 1".into(),
                );
            }
            if !(r.idle_timeout_minutes.is_finite() && r.idle_timeout_minutes >= 0.0) {
                err(
                    at("idle_timeout_minutes"),
                    "idle_timeout_minutes must be a number >= 0".into(),
                );
            }
            if !(r.upscaling_speed.is_finite() && r.upscaling_speed > 0.0) {
                err(at("upscaling_speed"), "upscaling_speed must be > 0".into());
            }
            if let Err(m) = r.worker_start.check() {
                err(at("worker_start"), m);
            }
        }
    }

    /// Services whose offered load reaches their capacity (utilisation >= 1 at peak): allowed,
    /// since overload is a thing worth simulating, but worth a warning.
    fn stability_warnings(&self) -> Vec<Finding> {
        let total_weight = self.workload.mix_weight();
        let rate = self.workload.arrivals.peak_rate();
        let mut visits: IndexMap<&str, f64> = IndexMap::new();
        for j in &self.workload.journeys {
            // Per arrival of the mix; a journey with its own arrivals scales by its own rate.
            let share = match &j.arrivals {
                Some(a) if rate > 0.0 => a.peak_rate() / rate,
                Some(_) => 0.0,
                None => j.weight / total_weight,
            };
            visit_rates(&j.steps, share, &mut visits);
        }
        let mut out = Vec::new();
        for (name, v) in visits {
            let Some(s) = self.services.get(name) else {
                continue;
            };
            if s.queue_limit.is_some() {
                // A bounded queue sheds the excess: overload is a thing it handles.
                continue;
            }
            let servers = f64::from(s.max_replicas() * s.slots());
            let rho = rate * v * s.mean_visit_s() / servers;
            // With `cpu:` the replicas' cores are a bound too.
            let cores = s.cpu_cores().map(|c| c * f64::from(s.max_replicas()));
            let cpu = s.cpu.as_ref().map_or(0.0, |c| c.sampler().mean());
            let rho = match cores {
                Some(c) if cpu > 0.0 => rho.max(rate * v * cpu / c),
                _ => rho,
            };
            if rho >= 1.0 {
                out.push(Finding {
                    path: path!["services", name],
                    message: format!(
                        "service `{name}` is offered {:.0}% of its capacity at peak: its queue grows without bound",
                        rho * 100.0
                    ),
                    severity: Severity::Warning,
                });
            }
        }
        out
    }
}

/// How deep `calls:` may nest (the slots a request holds at once: the simulator's fixed
/// per-request stack).
pub const MAX_CALL_DEPTH: usize = 3;

/// Adds each service's visit rate (per arrival) over `steps`, through probabilities and cache
/// misses (parallel branches each visit once).
fn visit_rates<'a>(steps: &'a [Step], rate: f64, out: &mut IndexMap<&'a str, f64>) {
    for s in steps {
        let r = rate * s.probability.unwrap_or(1.0);
        if let Some(name) = &s.service {
            *out.entry(name.as_str()).or_default() += r;
        }
        if let Some(c) = &s.cache {
            visit_rates(&c.miss, r * (1.0 - c.hit_ratio), out);
        }
        for b in s.parallel.iter().flatten() {
            visit_rates(b, r, out);
        }
        if let Some(c) = &s.calls {
            visit_rates(c, r, out);
        }
    }
}
