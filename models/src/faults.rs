//! Faults a scenario injects into the simulated platform, and how recovery is modelled: from
//! its parts (detection = health-check interval x failure threshold, promotion, endpoint/DNS
//! update, client reconnection), each with a seed default that a scenario can override.
//!
//! A fault strikes once at a time (`at:`) or at random (`mtbf:`): then the target alternates
//! between up periods drawn from an exponential distribution of mean `mtbf` and outages of
//! `mttr` (a distribution; default: the fixed outage the fault would have), an alternating
//! renewal process whose long-run availability is MTBF / (MTBF + MTTR).

use crate::distribution::Distribution;
use crate::path::PathSegment;
use crate::scenario::Scenario;
use crate::units::{Duration, Fraction};
use serde::Deserialize;

/// One fault: when, what kind, on what, for how long.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When the fault strikes (run time); exactly one of `at` and `mtbf`.
    #[serde(default)]
    pub at: Option<Duration>,
    /// Mean time between failures (mean up time) of a fault that strikes at random.
    #[serde(default)]
    pub mtbf: Option<Duration>,
    /// Time to repair of a random fault, drawn per occurrence; absent: the fault's own outage
    /// (its `duration`, or its recovery parts).
    #[serde(default)]
    pub mttr: Option<Distribution>,
    /// Names the fault's random stream (default: `kind target`), so that adding a fault does
    /// not change the draws of another; two random faults need different names.
    #[serde(default)]
    pub name: Option<String>,
    pub kind: FaultKind,
    /// What it hits: a service (db/redis/broker crash, pod kill, latency), a node pool (node
    /// loss), an LLM endpoint (outage, throttling).
    pub target: String,
    /// How long an outage, throttling or added latency lasts (crashes recover by failover).
    #[serde(default)]
    pub duration: Option<Duration>,
    /// Added one-way latency for `network_latency`.
    #[serde(default)]
    pub latency: Option<Duration>,
    /// Share of calls refused (`llm_throttle`) or requests lost (`packet_loss`).
    #[serde(default)]
    pub rate: Option<Fraction>,
    /// Recovery parts; absent parts take the seed defaults of [`Recovery::default`].
    #[serde(default)]
    pub recovery: Recovery,
    /// For a database crash: how the lost primary replicated.
    #[serde(default)]
    pub replication: Replication,
    /// `packet_loss`: only hops from this service (the journey step before the target's);
    /// absent: every hop into the target.
    #[serde(default)]
    pub from: Option<String>,
    /// `packet_loss`: TCP segments of one exchange on the hop (request and response); each is
    /// lost with probability `rate`. Default 10 (invented: a small request and a response of a
    /// few kilobytes, with their ACKs).
    #[serde(default)]
    pub packets: Option<u32>,
    /// `packet_loss`: what a lost segment costs, the retransmission timeout. Default 200 ms,
    /// Linux's minimum RTO (`TCP_RTO_MIN = HZ/5` in include/net/tcp.h), which is what an
    /// in-region RTT of well under 1 ms leaves the RTO at; each further loss of the same
    /// segment doubles it (RFC 6298 section 5.5).
    #[serde(default)]
    pub retransmission_timeout: Option<Duration>,
    /// `broker_loss`: the lost broker, from 0 (default 0). Partition p's leader is broker
    /// p mod brokers (Kafka's round-robin leader placement).
    #[serde(default)]
    pub broker: Option<u32>,
}

/// Default segments per exchange for `packet_loss` (see [`FaultSpec::packets`]).
pub const DEFAULT_PACKETS: u32 = 10;

/// Default retransmission timeout for `packet_loss`: Linux's TCP_RTO_MIN.
pub const DEFAULT_RTO: Duration = Duration(200_000_000);

impl FaultSpec {
    /// `kind target`, as reports label the fault.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.name(), self.target)
    }

    /// The name of the fault's random stream.
    pub fn stream_name(&self) -> String {
        format!(
            "fault/{}",
            self.name.clone().unwrap_or_else(|| self.label())
        )
    }

    /// The fixed outage of one occurrence: crashes recover by failover (their recovery
    /// parts); outages, throttling and added latency last their `duration`.
    pub fn outage(&self) -> Duration {
        match self.kind {
            FaultKind::PrimaryCrash | FaultKind::RedisPrimaryLoss | FaultKind::BrokerLoss => {
                self.recovery.outage()
            }
            _ => self.duration.unwrap_or(self.recovery.outage()),
        }
    }

    /// Whether the fault takes its target down for a while (and so has an availability):
    /// pod kills and node losses are repaired by Kubernetes, not by the fault's end.
    pub fn has_outage(&self) -> bool {
        !matches!(self.kind, FaultKind::PodKill | FaultKind::NodeLoss)
    }

    /// Mean time to repair: the `mttr` distribution's mean, else the fixed outage.
    pub fn mean_repair_s(&self) -> f64 {
        match &self.mttr {
            Some(d) => d.sampler().mean(),
            None => self.outage().as_secs_f64(),
        }
    }

    /// The long-run availability of the target under a random fault, MTBF / (MTBF + MTTR)
    /// (alternating renewal process); `None` for a fault at a fixed time or without outage.
    pub fn expected_availability(&self) -> Option<f64> {
        let mtbf = self.mtbf?.as_secs_f64();
        self.has_outage()
            .then(|| mtbf / (mtbf + self.mean_repair_s()))
    }

    /// Mean added latency of one hop under `packet_loss`, in seconds: with q = 1 - (1 - p)^n
    /// the chance that some segment of the exchange is lost, the first loss costs one RTO and
    /// each further loss of the retransmission (probability p) a doubled one, so
    /// E = q x RTO x sum_k (2p)^k = q x RTO / (1 - 2p) (finite for p < 1/2).
    pub fn packet_loss_mean_delay_s(&self) -> f64 {
        let p = self.rate.map_or(0.0, |r| r.0);
        let n = self.packets.unwrap_or(DEFAULT_PACKETS);
        let rto = self
            .retransmission_timeout
            .unwrap_or(DEFAULT_RTO)
            .as_secs_f64();
        let q = 1.0 - (1.0 - p).powi(n as i32);
        q * rto / (1.0 - 2.0 * p)
    }

    /// Checks what serde cannot: when, the target's kind, ranges. `base` is the fault's path.
    pub fn check(&self, s: &Scenario, base: &[PathSegment]) -> Vec<(Vec<PathSegment>, String)> {
        let mut out = Vec::new();
        let at = |key: &str| {
            let mut p = base.to_vec();
            p.push(PathSegment::Key(key.to_string()));
            p
        };
        match (self.at, self.mtbf) {
            (Some(_), Some(_)) | (None, None) => out.push((
                base.to_vec(),
                "a fault needs exactly one of `at` (a fixed time) and `mtbf` (at random)".into(),
            )),
            (None, Some(m)) if m.0 == 0 => {
                out.push((at("mtbf"), "mtbf must be greater than zero".into()))
            }
            _ => {}
        }
        if self.mttr.is_some() && self.mtbf.is_none() {
            out.push((
                at("mttr"),
                "`mttr` goes with `mtbf` (a random fault)".into(),
            ));
        }
        if let Some(d) = &self.mttr {
            if let Err(e) = d.check() {
                out.push((at("mttr"), e));
            }
        }
        let service = |n: &str| s.services.contains_key(n);
        let (known, what) = match self.kind {
            FaultKind::NodeLoss => (s.node_pools.contains_key(&self.target), "node pool"),
            FaultKind::LlmOutage | FaultKind::LlmThrottle => {
                (s.llm_endpoints.contains_key(&self.target), "LLM endpoint")
            }
            FaultKind::BrokerLoss => (
                s.kafka.is_some() && self.target == "kafka",
                "Kafka cluster (`kafka`)",
            ),
            _ => (service(&self.target), "service"),
        };
        if !known {
            out.push((
                at("target"),
                format!(
                    "{} names the {what} `{}`, which is not defined",
                    self.kind.name(),
                    self.target
                ),
            ));
        }
        if self.kind == FaultKind::PacketLoss {
            match self.rate {
                Some(r) if r.0 < 0.5 => {}
                Some(r) => out.push((
                    at("rate"),
                    format!("packet loss must be below 50% (retransmissions would never end on average), found {}", r.0),
                )),
                None => out.push((at("rate"), "packet_loss needs `rate` (the loss fraction)".into())),
            }
            if self.packets == Some(0) {
                out.push((at("packets"), "packets must be at least 1".into()));
            }
            if let Some(f) = &self.from {
                if !service(f) {
                    out.push((
                        at("from"),
                        format!(
                            "packet_loss names the service `{f}` in `from`, which is not defined"
                        ),
                    ));
                }
            }
        }
        if self.kind == FaultKind::BrokerLoss {
            let brokers = s.kafka.as_ref().map_or(0, |k| k.brokers);
            if self.broker.unwrap_or(0) >= brokers.max(1) {
                out.push((
                    at("broker"),
                    format!("broker must be below the cluster's {brokers} brokers"),
                ));
            }
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// One replica of `target` dies; the ReplicaSet replaces it.
    PodKill,
    /// One node of node pool `target` is lost with its pods.
    NodeLoss,
    /// Every replica of `target` is unavailable until failover completes (the database, Redis
    /// or Kafka broker primary crashes; a zone or region serving it is lost).
    PrimaryCrash,
    ZoneLoss,
    RegionLoss,
    /// LLM endpoint `target` fails every call for `duration`.
    LlmOutage,
    /// LLM endpoint `target` answers `rate` of calls with 429 for `duration`.
    LlmThrottle,
    /// Calls to service `target` take `latency` longer for `duration`.
    NetworkLatency,
    /// TCP segments to and from service `target` (from service `from`, if given) are lost
    /// with probability `rate` for `duration`: a hop that loses one waits a retransmission
    /// timeout.
    PacketLoss,
    /// Kafka broker `broker` of the cluster (`target: kafka`) is lost: the partitions it led
    /// have no leader until election completes (its recovery parts); their consumers pause,
    /// their lag builds and then drains.
    BrokerLoss,
    /// The Redis primary `target` (a cache service) is lost until failover completes: cache
    /// lookups miss and take the miss path (the database); other visits fail.
    RedisPrimaryLoss,
}

impl FaultKind {
    /// The fault's name as scenario files write it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::PodKill => "pod_kill",
            FaultKind::NodeLoss => "node_loss",
            FaultKind::PrimaryCrash => "primary_crash",
            FaultKind::ZoneLoss => "zone_loss",
            FaultKind::RegionLoss => "region_loss",
            FaultKind::LlmOutage => "llm_outage",
            FaultKind::LlmThrottle => "llm_throttle",
            FaultKind::NetworkLatency => "network_latency",
            FaultKind::PacketLoss => "packet_loss",
            FaultKind::BrokerLoss => "broker_loss",
            FaultKind::RedisPrimaryLoss => "redis_primary_loss",
        }
    }
}

/// Recovery modelled from its parts (system-design.md: automatic failover to a replica,
/// failover < 30 s). Defaults are invented but typical for Cloud SQL HA: health checks every
/// 5 s, 3 failures to declare the primary dead, 10 s promotion, 5 s endpoint update, clients
/// reconnect within 2 s.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recovery {
    pub check_interval: Duration,
    pub failure_threshold: u32,
    pub promotion: Duration,
    pub endpoint_update: Duration,
    pub reconnect: Duration,
    /// For a full loss with no replica to promote: time to restore from backup.
    pub restore: Option<Duration>,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            check_interval: Duration::from_secs(5),
            failure_threshold: 3,
            promotion: Duration::from_secs(10),
            endpoint_update: Duration::from_secs(5),
            reconnect: Duration::from_secs(2),
            restore: None,
        }
    }
}

impl Recovery {
    /// Detection + promotion + endpoint update + reconnection: how long the target is down.
    pub fn outage(&self) -> Duration {
        if let Some(r) = self.restore {
            return r;
        }
        Duration(
            self.check_interval.0 * u64::from(self.failure_threshold)
                + self.promotion.0
                + self.endpoint_update.0
                + self.reconnect.0,
        )
    }
}

/// How the crashed primary replicated (for RPO).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Replication {
    /// Synchronous: every acknowledged write is on the standby; nothing is lost.
    #[default]
    Synchronous,
    /// Asynchronous: the writes within the replication lag at the crash are lost.
    Asynchronous { lag: Distribution },
    /// No replica: restore from backup; loses what came after the last restorable point
    /// (`interval` between backups or WAL archives).
    Backup { interval: Duration },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault from JSON text (YAML's flow style is JSON).
    fn fault(text: &str) -> FaultSpec {
        serde_json::from_str(text).expect("a fault")
    }

    #[test]
    fn packet_loss_mean_delay_is_the_closed_form() {
        // p = 5 %, n = 10, RTO 200 ms: q = 1 - 0.95^10 = 0.401263; E = 0.401263 x 0.2 / 0.9
        // = 0.0891695 s.
        let f = fault(r#"{"at": "1s", "kind": "packet_loss", "target": "db", "rate": "5%"}"#);
        assert!((f.packet_loss_mean_delay_s() - 0.0891695).abs() < 1e-6);
    }

    #[test]
    fn availability_of_a_random_fault_is_mtbf_over_mtbf_plus_mttr() {
        // 1 h up, 6 min (constant) down: 3600 / 3960 = 0.909091
        let f = fault(
            r#"{"mtbf": "1h", "mttr": {"constant": "6m"}, "kind": "primary_crash", "target": "db"}"#,
        );
        assert!((f.expected_availability().unwrap() - 3600.0 / 3960.0).abs() < 1e-12);
        // Without mttr: the recovery parts, 32 s: 3600 / 3632
        let f = fault(r#"{"mtbf": "1h", "kind": "primary_crash", "target": "db"}"#);
        assert!((f.expected_availability().unwrap() - 3600.0 / 3632.0).abs() < 1e-12);
    }

    #[test]
    fn outage_is_the_sum_of_its_parts() {
        // 5 s x 3 + 10 + 5 + 2 = 32 s
        assert_eq!(Recovery::default().outage(), Duration::from_secs(32));
    }
}
