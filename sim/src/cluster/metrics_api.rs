//! What the HPA is fed, as the metrics APIs would serve it (see [`crate::metrics_pipeline`]):
//! the kubelet's readings of each pod's CPU and memory (metrics-server's source, published
//! `kubelet_lag` later), Prometheus' scrapes of the pods whose HPA reads custom metrics (via
//! the adapter), the pods' request-duration histograms, and the value one metric of an HPA
//! spec shows at a sync.

use super::{dur, Cluster, Pod, PodState};
use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::metrics_pipeline::{
    histogram_quantile, increase, resource_sample, KubeletReading, LatencyCounters, PromReading,
    Ring,
};
use k8s::hpa::controller::MetricObservation;
use k8s::hpa::pods::{self, ConditionStatus, PodPhase, ReadyCondition, SampleTime};
use k8s::hpa::replica_calculator::{PodCount, PodSample};
use k8s::hpa::spec::{MetricKind, ResourceTarget, ValueTarget};
use models::metrics_pipeline::CustomMetric;

/// A pod's sample for one metric: when it was taken (for the CPU readiness filter) and its
/// value in milli-units.
type PodValue<'a> = dyn Fn(&Pod) -> (Option<SampleTime>, Option<i64>) + 'a;

/// Where one metric of a service's HPA comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum MetricSource {
    Cpu,
    Memory,
    /// A Pods metric, per pod.
    PodsCustom(CustomMetric),
    /// An Object or External metric: the service's value (summed / merged over its pods).
    ServiceCustom(CustomMetric, bool),
    Unserved,
}

/// The metrics pipeline's settings, in simulator time.
#[derive(Clone, Debug)]
pub(super) struct PipelineConfig {
    pub resolution: Nanos,
    pub kubelet_lag: Nanos,
    pub scrape_interval: Nanos,
    pub rate_window: Nanos,
    pub bounds: Vec<Nanos>,
    pub bounds_s: Vec<f64>,
}

impl MetricSource {
    pub(super) fn of(m: &MetricKind) -> MetricSource {
        match m {
            MetricKind::Resource { name, .. } if name == "cpu" => MetricSource::Cpu,
            MetricKind::Resource { name, .. } if name == "memory" => MetricSource::Memory,
            MetricKind::Resource { .. } => MetricSource::Unserved,
            MetricKind::Pods { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, MetricSource::PodsCustom),
            MetricKind::Object { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, |c| {
                    MetricSource::ServiceCustom(c, false)
                }),
            MetricKind::External { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, |c| {
                    MetricSource::ServiceCustom(c, true)
                }),
        }
    }
}

impl Cluster {
    /// Counts a request that spent `sojourn` at `replica` of `station` (queue + service): the
    /// pod's request-duration histogram. Does nothing for stations no HPA scrapes.
    #[inline]
    pub fn observe(&mut self, station: u32, replica: u32, sojourn: Nanos) {
        if let Some(c) = self
            .latency
            .get_mut(station as usize)
            .and_then(|v| v.get_mut(replica as usize))
        {
            c.observe(&self.pipeline.bounds, sojourn);
        }
    }

    /// Whether any HPA needs metrics-server readings / Prometheus scrapes.
    pub(super) fn needs_readings(&self) -> (bool, bool) {
        let hpa = self.services.iter().any(|s| s.hpa.is_some());
        let scraped = self.services.iter().any(|s| s.scraped && s.hpa.is_some());
        (hpa, scraped)
    }

    /// Kubelet readings kept per pod: the newest published one and the one before it, plus the
    /// readings taken during the lag (which is under 3 resolutions).
    pub(super) fn kubelet_ring(&self) -> usize {
        2 + (self.pipeline.kubelet_lag / self.pipeline.resolution) as usize + 1
    }

    /// Prometheus scrapes kept per pod: one window's worth and one more.
    pub(super) fn scrape_ring(&self, scraped: bool) -> usize {
        if scraped {
            (self.pipeline.rate_window / self.pipeline.scrape_interval) as usize + 2
        } else {
            1
        }
    }
}

impl Replication<'_> {
    /// The kubelet reads every running pod's counters (what metrics-server scrapes
    /// `kubelet_lag` later).
    pub(crate) fn kubelet_read(&mut self, now: Nanos) {
        for s in 0..self.cluster.services.len() {
            self.share_group_work(s, now);
        }
        for pod in 0..self.cluster.pods.len() {
            let p = &self.cluster.pods[pod];
            let (cpu_area, in_flight) = match p.state {
                PodState::Starting => (0.0, 0),
                PodState::Ready { replica } => {
                    let rep = &self.stations[p.service as usize].replicas[replica as usize];
                    // Queued requests wait in the listen backlog (or the proxy's buffer) and
                    // hold next to no memory of the app: only those in service count.
                    (
                        rep.usage_area_at(now) - p.base_area + p.group_area,
                        rep.busy + p.group_in_flight,
                    )
                }
                _ => continue,
            };
            self.cluster.pods[pod].kubelet.push(KubeletReading {
                t: now,
                cpu_area,
                in_flight,
            });
        }
        let next = now + self.cluster.pipeline.resolution;
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::KubeletRead);
        }
    }

    /// Prometheus scrapes the ready pods of the services whose HPA reads custom metrics.
    pub(crate) fn prometheus_scrape(&mut self, now: Nanos) {
        for s in 0..self.cluster.services.len() {
            let svc = &self.cluster.services[s];
            if !svc.scraped {
                continue;
            }
            let station = svc.station as usize;
            // A consumer service's backlog is its consumer groups' lag (events produced and
            // not yet committed: waiting or in process), beside what waits at its own HTTP
            // station; the lag is shared out over the ready pods as the group's threads are.
            let lag: usize = svc
                .groups
                .iter()
                .map(|(g, _)| {
                    let st = &self.stations[*g as usize];
                    st.queued() + st.busy() as usize
                })
                .sum();
            let ready = self.cluster.ready_pods(svc).max(1);
            let (lag_each, lag_rest) = (lag / ready, lag % ready);
            self.cluster.services[s].backlog_at_scrape =
                (self.stations[station].queued() + lag) as u32;
            let mut k = 0;
            for i in 0..self.cluster.services[s].pods.len() {
                let pod = self.cluster.services[s].pods[i] as usize;
                let PodState::Ready { replica } = self.cluster.pods[pod].state else {
                    continue;
                };
                let latency = self.cluster.latency[station]
                    .get(replica as usize)
                    .copied()
                    .unwrap_or_default();
                let share = lag_each + usize::from(k < lag_rest);
                k += 1;
                let queued = (self.stations[station].replicas[replica as usize]
                    .queue
                    .len()
                    + share) as u32;
                self.cluster.pods[pod].scrapes.push(PromReading {
                    t: now,
                    latency,
                    queued,
                });
            }
        }
        let next = now + self.cluster.pipeline.scrape_interval;
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::PrometheusScrape);
        }
    }

    /// What the metrics APIs return for metric `m` of service `s` at `now`, and the value the
    /// HPA compares with its target (see [`super::HpaSyncRecord::metrics`]).
    pub(super) fn observe_metric(
        &self,
        s: usize,
        m: usize,
        now: Nanos,
    ) -> (MetricObservation, (Option<f64>, usize)) {
        let svc = &self.cluster.services[s];
        let cfg = &self.cluster.pipeline;
        let readiness = k8s::hpa::pods::CpuReadiness::default();
        let source = svc.sources[m];
        let kind = svc.hpa.as_ref().map(|h| &h.hpa.metrics[m]);
        let (cpu_req, mem_req) = (svc.requests.cpu_milli, svc.requests.memory_bytes);
        // A busy slot reads as its share of the request; with a CPU model (`cpu:`) the
        // reading is real CPU, cores consumed (a core reads as 1000m).
        let conc = if self.stations[svc.station as usize].cpu_contended() {
            (cpu_req as f64 / 1000.0).max(1e-9)
        } else {
            f64::from(svc.concurrency.max(1))
        };
        let ready_count = self.cluster.ready_pods(svc);
        let pod_count = PodCount {
            listed: svc.pods.len(),
            running_and_ready: ready_count,
        };
        // The pod as `groupPods` sees it.
        let state_of = |p: &Pod| {
            let running = !matches!(p.state, PodState::Pending { .. });
            let ready = matches!(p.state, PodState::Ready { .. });
            pods::PodState {
                phase: if running {
                    PodPhase::Running
                } else {
                    PodPhase::Pending
                },
                deleting: false,
                start_time: running.then_some(dur(p.placed_at)),
                ready: running.then_some(ReadyCondition {
                    status: if ready {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    },
                    last_transition: dur(if ready { p.ready_at } else { p.placed_at }),
                }),
            }
        };
        // The per-pod value of a custom metric from the pod's scrapes.
        let custom = |c: CustomMetric, ring: &Ring<PromReading>| -> Option<f64> {
            let (inc, span, last) = increase(ring, now, cfg.rate_window)?;
            let v = match c {
                CustomMetric::LatencyQuantile {
                    quantile,
                    per_second,
                } => histogram_quantile(quantile, &cfg.bounds_s, &inc.counts) * per_second,
                CustomMetric::RequestRate => inc.total() as f64 / (span as f64 / 1e9),
                CustomMetric::Backlog => f64::from(last.queued),
            };
            v.is_finite().then_some(v)
        };
        let per_pod = |value: &PodValue, request: Option<i64>, is_cpu: bool| {
            svc.pods
                .iter()
                .map(|id| {
                    let p = &self.cluster.pods[*id as usize];
                    let (time, v) = value(p);
                    let class = pods::classify(&state_of(p), time, is_cpu, readiness, dur(now));
                    PodSample {
                        name: format!("pod-{id}"),
                        class,
                        request_milli: request,
                        value_milli: v,
                    }
                })
                .collect::<Vec<_>>()
        };
        let observed = match source {
            MetricSource::Cpu | MetricSource::Memory => {
                let is_cpu = source == MetricSource::Cpu;
                let (base, per) = svc.memory;
                let samples = per_pod(
                    &|p: &Pod| match resource_sample(&p.kubelet, now, cfg.kubelet_lag) {
                        None => (None, None),
                        Some(r) => {
                            let v = if is_cpu {
                                r.busy_servers / conc * cpu_req as f64
                            } else {
                                (base + per * u64::from(r.in_flight)) as f64 * 1000.0
                            };
                            (
                                Some(SampleTime {
                                    timestamp: dur(r.timestamp),
                                    window: dur(r.window),
                                }),
                                Some(v.round() as i64),
                            )
                        }
                    },
                    Some(if is_cpu {
                        cpu_req
                    } else {
                        mem_req.saturating_mul(1000)
                    }),
                    is_cpu,
                );
                MetricObservation::PerPod {
                    pods: samples,
                    stray: Vec::new(),
                }
            }
            MetricSource::PodsCustom(c) => {
                let samples = per_pod(
                    &|p: &Pod| match custom(c, &p.scrapes) {
                        None => (None, None),
                        Some(v) => (
                            // Custom metrics skip the CPU readiness filter: the time is unused.
                            Some(SampleTime {
                                timestamp: dur(now),
                                window: dur(cfg.rate_window),
                            }),
                            Some((v * 1000.0).round() as i64),
                        ),
                    },
                    None,
                    false,
                );
                MetricObservation::PerPod {
                    pods: samples,
                    stray: Vec::new(),
                }
            }
            MetricSource::ServiceCustom(c, external) => {
                let value = match c {
                    CustomMetric::Backlog => Some(f64::from(svc.backlog_at_scrape)),
                    CustomMetric::RequestRate => {
                        let rates: Vec<f64> = svc
                            .pods
                            .iter()
                            .filter_map(|p| custom(c, &self.cluster.pods[*p as usize].scrapes))
                            .collect();
                        (!rates.is_empty()).then(|| rates.iter().sum())
                    }
                    CustomMetric::LatencyQuantile {
                        quantile,
                        per_second,
                    } => {
                        // sum by (le) over the service's pods, then the quantile.
                        let mut sum = LatencyCounters::default();
                        for p in &svc.pods {
                            if let Some((inc, _, _)) = increase(
                                &self.cluster.pods[*p as usize].scrapes,
                                now,
                                cfg.rate_window,
                            ) {
                                sum.add(&inc);
                            }
                        }
                        let q =
                            histogram_quantile(quantile, &cfg.bounds_s, &sum.counts) * per_second;
                        q.is_finite().then_some(q)
                    }
                };
                match value {
                    None => MetricObservation::Unavailable("no samples in the rate window".into()),
                    Some(v) => {
                        let milli = (v * 1000.0).round() as i64;
                        if external {
                            MetricObservation::External {
                                series_milli: vec![milli],
                                pods: pod_count,
                            }
                        } else {
                            MetricObservation::Object {
                                value_milli: milli,
                                pods: pod_count,
                            }
                        }
                    }
                }
            }
            MetricSource::Unserved => MetricObservation::Unavailable(format!(
                "metric {:?} is not served by the simulated metrics pipeline",
                kind
            )),
        };
        let shown = kind.map_or((None, 0), |k| shown_value(k, &observed));
        (observed, shown)
    }
}

/// The value an HPA compares with the target of `kind`, from what it observed: the
/// utilization percent of the ready pods with samples (Utilization), their average
/// (AverageValue, Pods), or the value (Object, External), in the metric's units.
/// Also returns how many pods' samples counted (0 for Object and External).
fn shown_value(kind: &MetricKind, o: &MetricObservation) -> (Option<f64>, usize) {
    let v = match o {
        MetricObservation::PerPod { pods, .. } => {
            let ready: Vec<&PodSample> = pods
                .iter()
                .filter(|p| p.class == k8s::hpa::pods::PodClass::Ready && p.value_milli.is_some())
                .collect();
            if ready.is_empty() {
                return (None, 0);
            }
            let sum: i64 = ready.iter().filter_map(|p| p.value_milli).sum();
            let v = match kind {
                MetricKind::Resource {
                    target: ResourceTarget::Utilization(_),
                    ..
                } => {
                    let req: i64 = ready.iter().filter_map(|p| p.request_milli).sum();
                    (req > 0).then(|| 100.0 * sum as f64 / req as f64)
                }
                _ => Some(sum as f64 / ready.len() as f64 / 1000.0),
            };
            return (v, ready.len());
        }
        MetricObservation::Object { value_milli, .. } => Some(*value_milli as f64 / 1000.0),
        MetricObservation::External { series_milli, .. } => {
            Some(series_milli.iter().sum::<i64>() as f64 / 1000.0)
        }
        MetricObservation::Unavailable(_) => None,
    };
    (v, 0)
}

/// `value / target` (1 = on target) for the timeline's `hpa_ratio` series.
pub(super) fn target_ratio(kind: &MetricKind, value: f64, current: i32) -> Option<f64> {
    let r = match kind {
        MetricKind::Resource { target, .. } => match target {
            ResourceTarget::Utilization(t) => value / f64::from(*t),
            ResourceTarget::AverageValue(t) => value * 1000.0 / *t as f64,
        },
        MetricKind::Pods {
            target_average_milli,
            ..
        } => value * 1000.0 / *target_average_milli as f64,
        MetricKind::Object { target, .. } | MetricKind::External { target, .. } => match target {
            ValueTarget::Value(t) => value * 1000.0 / *t as f64,
            ValueTarget::AverageValue(t) => {
                value * 1000.0 / (*t as f64 * f64::from(current.max(1)))
            }
        },
    };
    r.is_finite().then_some(r)
}
