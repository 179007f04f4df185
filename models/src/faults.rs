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
    /// `zone_loss`: the zone lost, one of the node pools' `zones` (absent: the first zone of
    /// the target's node pool). Every node in it is lost with its pods, whatever their
    /// service; the target's pods in other zones keep serving.
    #[serde(default)]
    pub zone: Option<String>,
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
        self.outage_at(0.0)
    }

    /// The fixed outage when the target is written at `write_rate_per_s` (a backup
    /// restore's WAL replay grows with it).
    pub fn outage_at(&self, write_rate_per_s: f64) -> Duration {
        match self.kind {
            FaultKind::PrimaryCrash | FaultKind::RedisPrimaryLoss | FaultKind::BrokerLoss => {
                self.recovery.outage_at(write_rate_per_s)
            }
            _ => self
                .duration
                .unwrap_or_else(|| self.recovery.outage_at(write_rate_per_s)),
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
        let mut sub = Vec::new();
        self.recovery.check(&mut sub);
        for (rest, msg) in sub {
            let mut p = at("recovery");
            p.extend(rest.into_iter().map(PathSegment::Key));
            out.push((p, msg));
        }
        let mut sub = Vec::new();
        self.replication.check(&mut sub);
        for (rest, msg) in sub {
            let mut p = at("replication");
            p.extend(rest.into_iter().map(PathSegment::Key));
            out.push((p, msg));
        }
        if let Some(rf) = &self.recovery.region_failover {
            if let Some(pool) = &rf.standby_pool {
                let mut p = at("recovery");
                p.push(PathSegment::Key("region_failover".into()));
                p.push(PathSegment::Key("standby_pool".into()));
                match s.node_pools.get(pool) {
                    None => out.push((
                        p,
                        format!("standby_pool names the node pool `{pool}`, which is not defined"),
                    )),
                    Some(np) => {
                        if let Some(m) = rf.check_pool(np.min, np.max) {
                            out.push((p, format!("standby_pool `{pool}`: {m}")));
                        }
                    }
                }
            }
        }
        if let Some(z) = &self.zone {
            if self.kind != FaultKind::ZoneLoss {
                out.push((at("zone"), "`zone` goes with `zone_loss`".into()));
            } else if !s.node_pools.values().any(|p| p.zones.contains(z)) {
                out.push((
                    at("zone"),
                    format!("zone `{z}` is not among the node pools' `zones`"),
                ));
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
    /// or Kafka broker primary crashes).
    PrimaryCrash,
    /// A zone is lost for `duration`: for a `target` run as pods, every node in `zone` (default
    /// the first zone of its node pool), whatever its pods; for a target spread over
    /// `zones: n > 1`, its replicas in one zone; for a target in one zone, all of it, until
    /// failover completes (as a crash).
    ZoneLoss,
    /// The region serving `target` is lost: all of it, until failover completes (a service
    /// lives in one region).
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
///
/// Which parts add up depends on how the target comes back:
/// - failover to a replica (the default): detection + promotion + endpoint update + reconnect;
/// - `from_backup:` (no replica): detection + [`BackupRestore::time_s`] + reconnect;
/// - `region_failover:`: detection + [`RegionFailover::time_s`] + reconnect;
/// - `restore:` (the old key, a typed-in answer): that time alone.
///
/// Detection is `detection` (an alerting delay) when given, else `check_interval` x
/// `failure_threshold` (a probe).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recovery {
    pub check_interval: Duration,
    pub failure_threshold: u32,
    pub promotion: Duration,
    pub endpoint_update: Duration,
    pub reconnect: Duration,
    /// An alerting delay that replaces `check_interval` x `failure_threshold`.
    pub detection: Option<Duration>,
    /// A typed restore time (kept for old scenarios; prefer `from_backup`, whose time follows
    /// from the backup's size and the rates).
    pub restore: Option<Duration>,
    /// Restore from backup, from its parts.
    pub from_backup: Option<BackupRestore>,
    /// Failover to another region, from its parts.
    pub region_failover: Option<RegionFailover>,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            check_interval: Duration::from_secs(5),
            failure_threshold: 3,
            promotion: Duration::from_secs(10),
            endpoint_update: Duration::from_secs(5),
            reconnect: Duration::from_secs(2),
            detection: None,
            restore: None,
            from_backup: None,
            region_failover: None,
        }
    }
}

/// One part of a recovery, for reports and sensitivity: its name and seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub name: &'static str,
    pub seconds: f64,
}

impl Recovery {
    /// How long until the loss is declared: the alerting delay, else the probe's interval x
    /// its failure threshold.
    pub fn detection_s(&self) -> f64 {
        match self.detection {
            Some(d) => d.as_secs_f64(),
            None => self.check_interval.as_secs_f64() * f64::from(self.failure_threshold),
        }
    }

    /// The parts of the outage, in order, for a target written to at `write_rate_per_s`
    /// (used only by a backup restore's WAL replay when it names no rate of its own).
    pub fn parts(&self, write_rate_per_s: f64) -> Vec<Part> {
        let p = |name, seconds| Part { name, seconds };
        if let Some(r) = self.restore {
            return vec![p("restore (typed in)", r.as_secs_f64())];
        }
        let mut out = vec![p("detection", self.detection_s())];
        if let Some(b) = &self.from_backup {
            out.push(p("provision", b.provision.as_secs_f64()));
            out.push(p("base backup restore", b.base_restore_s()));
            out.push(p("WAL replay", b.replay_s(write_rate_per_s)));
        } else if let Some(r) = &self.region_failover {
            out.push(p("DNS / load-balancer switch", r.dns_switch.as_secs_f64()));
            out.push(p("replica promotion", r.promotion.as_secs_f64()));
            out.push(p("standby warm-up", r.warm_up_s()));
        } else {
            out.push(p("promotion", self.promotion.as_secs_f64()));
            out.push(p("endpoint update", self.endpoint_update.as_secs_f64()));
        }
        out.push(p("reconnect", self.reconnect.as_secs_f64()));
        out
    }

    /// The outage for a target written to at `write_rate_per_s`: the sum of [`Self::parts`].
    pub fn outage_at(&self, write_rate_per_s: f64) -> Duration {
        let s: f64 = self.parts(write_rate_per_s).iter().map(|p| p.seconds).sum();
        Duration((s.max(0.0) * 1e9).round() as u64)
    }

    /// The outage when the write rate is not known (a backup restore's replay then uses its
    /// own `write_rate`, else replays nothing).
    pub fn outage(&self) -> Duration {
        self.outage_at(0.0)
    }

    /// Checks the parts' ranges; `at(key)` makes a path below `recovery`.
    fn check(&self, out: &mut Vec<(Vec<String>, String)>) {
        let set = [
            self.restore.is_some(),
            self.from_backup.is_some(),
            self.region_failover.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if set > 1 {
            out.push((
                vec![],
                "give at most one of `restore`, `from_backup` and `region_failover`".into(),
            ));
        }
        if let Some(b) = &self.from_backup {
            for (key, v) in [
                ("restore_mb_s", Some(b.restore_mb_s)),
                ("replay_mb_s", Some(b.replay_mb_s)),
                ("bytes_per_write", Some(b.bytes_per_write)),
                ("wal_mb_s", b.wal_mb_s),
            ] {
                if let Some(v) = v {
                    let ok = if key == "bytes_per_write" || key == "wal_mb_s" {
                        v.is_finite() && v >= 0.0
                    } else {
                        v.is_finite() && v > 0.0
                    };
                    if !ok {
                        out.push((
                            vec!["from_backup".into(), key.into()],
                            format!("{key} must be a positive number, found {v}"),
                        ));
                    }
                }
            }
            if !(b.size_gb.is_finite() && b.size_gb >= 0.0) {
                out.push((
                    vec!["from_backup".into(), "size_gb".into()],
                    format!("size_gb must be zero or more, found {}", b.size_gb),
                ));
            }
        }
    }
}

/// Restoring a database from its backups (no replica to promote): provision an instance, copy
/// the newest base backup onto it, replay the WAL written since. The restore point is the
/// newest archived WAL, so the time to replay grows with the backup's age at the fault.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupRestore {
    /// Creating the instance to restore into. Default 10 min (invented: creating a Cloud SQL
    /// instance takes minutes; the seeds give no figure).
    pub provision: Duration,
    /// The base backup's size in GB (10^9 bytes). Default 100 (invented: the seeds size no
    /// database; infrastructure-plan.md budgets Cloud SQL at a few hundred dollars a month).
    pub size_gb: f64,
    /// Restore throughput, MB/s (10^6 bytes). Default 200 (invented: a persistent SSD's
    /// sustained write throughput is of this order, Compute Engine disk performance docs).
    pub restore_mb_s: f64,
    /// Age of the newest base or incremental backup at the fault. Default 30 min: backups
    /// are hourly incrementals (system-design.md, Backup Schedule), so half an hour on average.
    pub since_backup: Duration,
    /// WAL generated, MB/s; absent: `write_rate` x `bytes_per_write`.
    pub wal_mb_s: Option<f64>,
    /// Writes per second to the database; absent: the rate the simulation sees at the target.
    pub write_rate: Option<crate::units::Rate>,
    /// WAL bytes one write generates. Default 1000 (invented: a small row insert with one
    /// index, its WAL record headers and a share of full-page images).
    pub bytes_per_write: f64,
    /// WAL replay (redo) rate, MB/s. Default 20 (invented: single-threaded PostgreSQL redo is
    /// bound by random reads of the pages it applies to, well below sequential throughput).
    pub replay_mb_s: f64,
}

impl Default for BackupRestore {
    fn default() -> Self {
        BackupRestore {
            provision: Duration::from_secs(600),
            size_gb: 100.0,
            restore_mb_s: 200.0,
            since_backup: Duration::from_secs(1800),
            wal_mb_s: None,
            write_rate: None,
            bytes_per_write: 1000.0,
            replay_mb_s: 20.0,
        }
    }
}

impl BackupRestore {
    /// Copying the base backup: size / throughput.
    pub fn base_restore_s(&self) -> f64 {
        self.size_gb * 1000.0 / self.restore_mb_s
    }

    /// WAL generated per second, MB/s, when the target is written at `observed` writes/s.
    pub fn wal_rate_mb_s(&self, observed: f64) -> f64 {
        self.wal_mb_s.unwrap_or_else(|| {
            let rate = self.write_rate.map_or(observed, |r| r.per_sec());
            rate * self.bytes_per_write / 1e6
        })
    }

    /// Replaying the WAL written since the backup: age x WAL rate / replay rate.
    pub fn replay_s(&self, observed: f64) -> f64 {
        self.since_backup.as_secs_f64() * self.wal_rate_mb_s(observed) / self.replay_mb_s
    }
}

/// How ready the other region's serving tier is when the primary region is lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standby {
    /// Nothing runs: create the cluster and deploy everything.
    Cold,
    /// The cluster exists at its minimum size (system-design.md: "Standby EKS Cluster (can
    /// be activated)"): scale it up.
    #[default]
    Warm,
    /// It already serves: nothing to start.
    Hot,
}

/// Failing over to another region: move traffic (DNS or the global load balancer), promote
/// the cross-region replica (system-design.md: a read replica in the DR region), warm the
/// standby serving tier.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegionFailover {
    /// DNS or load-balancer switch: clients follow after a record's TTL. Default 5 min, the
    /// Cloud DNS record-set TTL the console proposes (Cloud DNS docs, "Add a record": TTL
    /// 300 s); a global external load balancer moves within its health checks instead.
    pub dns_switch: Duration,
    /// Promoting the cross-region read replica to primary. Default 10 min (invented: Cloud SQL
    /// documents replica promotion as taking "several minutes").
    pub promotion: Duration,
    pub standby: Standby,
    /// Warm-up of a cold standby: create the cluster, its nodes and every deployment. Default
    /// 60 min (invented).
    pub cold_warm_up: Duration,
    /// Warm-up of a warm standby: the cluster autoscaler adds nodes and pods become ready.
    /// Default 10 min (invented; a GKE node is ready in a few minutes).
    pub warm_warm_up: Duration,
    /// The node pool of the scenario, in the other region, that the serving tier fails over
    /// to. With it the warm-up follows from [`WarmUp`]'s parts for the standby mode (and
    /// `cold_warm_up` / `warm_warm_up` are not read), the pool's size must fit the mode
    /// (cold: `min: 0`; warm and hot: running nodes), and the standby is billed as the pool's
    /// node-hours like any pool's.
    pub standby_pool: Option<String>,
    /// The parts of the standby pool's warm-up (with `standby_pool`).
    pub warm_up: WarmUp,
}

impl Default for RegionFailover {
    fn default() -> Self {
        RegionFailover {
            dns_switch: Duration::from_secs(300),
            promotion: Duration::from_secs(600),
            standby: Standby::Warm,
            cold_warm_up: Duration::from_secs(3600),
            warm_warm_up: Duration::from_secs(600),
            standby_pool: None,
            warm_up: WarmUp::default(),
        }
    }
}

/// What a standby node pool does before it serves: a cold pool (no nodes) provisions its
/// nodes, pulls the images and starts the pods; a warm one (its minimum of nodes running,
/// the images on them, the deployments scaled to zero) only starts the pods; a hot one
/// already serves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WarmUp {
    /// A node from request to Ready. Default 90 s, the mean of
    /// [`crate::platform::default_provisioning`] (GKE: "~1-2 min").
    pub provisioning: Duration,
    /// Pulling the serving images onto a new node. Default 60 s (invented: a few hundred MB
    /// of Python images from Artifact Registry in the same continent).
    pub image_pull: Duration,
    /// A pod from scheduled (image present) to Ready. Default 30 s, the seeds' container
    /// start-up target (system-design.md: "Container Startup < 30 seconds").
    pub start: Duration,
}

impl Default for WarmUp {
    fn default() -> Self {
        WarmUp {
            provisioning: Duration::from_secs(90),
            image_pull: Duration::from_secs(60),
            start: Duration::from_secs(30),
        }
    }
}

impl RegionFailover {
    /// The standby's warm-up for its readiness: from [`WarmUp`]'s parts when a
    /// `standby_pool` is named (cold: provisioning + image pull + start; warm: start; hot:
    /// nothing), else the typed-in time of the mode.
    pub fn warm_up_s(&self) -> f64 {
        let w = &self.warm_up;
        match (self.standby, self.standby_pool.is_some()) {
            (Standby::Hot, _) => 0.0,
            (Standby::Cold, true) => {
                w.provisioning.as_secs_f64() + w.image_pull.as_secs_f64() + w.start.as_secs_f64()
            }
            (Standby::Warm, true) => w.start.as_secs_f64(),
            (Standby::Cold, false) => self.cold_warm_up.as_secs_f64(),
            (Standby::Warm, false) => self.warm_warm_up.as_secs_f64(),
        }
    }

    /// What the mode asks of the standby pool's size (`min`, `max` nodes), or why it does
    /// not fit: a cold standby runs no node, a warm or hot one runs at least one.
    pub fn check_pool(&self, min: u32, max: u32) -> Option<String> {
        match self.standby {
            Standby::Cold if min > 0 => Some(format!(
                "a cold standby runs no node: its pool's `min` must be 0, found {min}"
            )),
            Standby::Warm | Standby::Hot if min == 0 => Some(format!(
                "a {} standby runs nodes: its pool's `min` must be at least 1",
                if self.standby == Standby::Warm {
                    "warm"
                } else {
                    "hot"
                }
            )),
            _ if max == 0 => Some("the standby pool's `max` must be at least 1".into()),
            _ => None,
        }
    }

    /// Switch + promotion + warm-up (they run one after the other: traffic moves once the
    /// new primary accepts writes and the tier can take it).
    pub fn time_s(&self) -> f64 {
        self.dns_switch.as_secs_f64() + self.promotion.as_secs_f64() + self.warm_up_s()
    }
}

/// The link an asynchronous replica streams over.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationLink {
    /// One-way latency. Cross-region in the US is of the order of 30 ms (GCP inter-region
    /// latency dashboard: us-east1 to us-west1 about 60 ms round trip).
    pub latency: Duration,
    /// Bandwidth the replication stream gets, MB/s.
    pub bandwidth_mb_s: f64,
    /// WAL bytes one write generates. Default 1000 (invented, as [`BackupRestore`]).
    #[serde(default = "default_bytes_per_write")]
    pub bytes_per_write: f64,
    /// Writes per second; absent: the rate the simulation sees at the target.
    #[serde(default)]
    pub write_rate: Option<crate::units::Rate>,
}

fn default_bytes_per_write() -> f64 {
    1000.0
}

impl ReplicationLink {
    /// The replication lag at `observed` writes/s, seconds: the one-way latency plus a write's
    /// transmission time stretched by the link's load as in an M/D/1 queue's sojourn,
    /// t x (1 + rho / (2 (1 - rho))), rho = WAL rate / bandwidth. `None` when the WAL is
    /// written faster than the link carries it (the lag grows without bound).
    pub fn lag_s(&self, observed: f64) -> Option<f64> {
        let rate = self.write_rate.map_or(observed, |r| r.per_sec());
        let bw = self.bandwidth_mb_s * 1e6;
        let t = self.bytes_per_write / bw;
        let rho = rate * t;
        (rho < 1.0).then(|| self.latency.as_secs_f64() + t * (1.0 + rho / (2.0 * (1.0 - rho))))
    }
}

/// How the crashed primary replicated (for RPO).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Replication {
    /// Synchronous: every acknowledged write is on the standby; nothing is lost.
    #[default]
    Synchronous,
    /// Asynchronous: the writes within the replication lag at the crash are lost. The lag is
    /// drawn from `lag`, or follows from the `link` and the write rate
    /// ([`ReplicationLink::lag_s`]); exactly one of them.
    Asynchronous {
        #[serde(default)]
        lag: Option<Distribution>,
        #[serde(default)]
        link: Option<ReplicationLink>,
    },
    /// No replica: restore from backup; loses what came after the last restorable point
    /// (`interval` between backups or WAL archives).
    Backup { interval: Duration },
    /// Data corruption found `detected_after` it began: a point-in-time restore to just before
    /// it loses every write since, so the RPO is the detection delay (the fault's `at` is the
    /// moment it is found).
    Corruption { detected_after: Duration },
}

impl Replication {
    /// The RPO's lower bound, seconds, at `observed` writes/s: 0 (synchronous; a backup's
    /// restore point may fall just before the fault), the link's lag (asynchronous over a
    /// link; `None` if unbounded), the lag distribution's mean otherwise, the detection delay
    /// (corruption).
    pub fn expected_rpo_s(&self, observed: f64) -> Option<f64> {
        match self {
            Replication::Synchronous => Some(0.0),
            Replication::Asynchronous { link: Some(l), .. } => l.lag_s(observed),
            Replication::Asynchronous { lag, .. } => {
                Some(lag.as_ref().map_or(0.0, |d| d.sampler().mean()))
            }
            Replication::Backup { interval } => Some(interval.as_secs_f64() / 2.0),
            Replication::Corruption { detected_after } => Some(detected_after.as_secs_f64()),
        }
    }

    fn check(&self, out: &mut Vec<(Vec<String>, String)>) {
        if let Replication::Asynchronous { lag, link } = self {
            match (lag, link) {
                (Some(_), Some(_)) | (None, None) => out.push((
                    vec!["asynchronous".into()],
                    "asynchronous replication needs exactly one of `lag` (a distribution) and `link` (latency and bandwidth)".into(),
                )),
                (Some(d), None) => {
                    if let Err(e) = d.check() {
                        out.push((vec!["asynchronous".into(), "lag".into()], e));
                    }
                }
                (None, Some(l)) => {
                    if !(l.bandwidth_mb_s.is_finite() && l.bandwidth_mb_s > 0.0) {
                        out.push((
                            vec!["asynchronous".into(), "link".into(), "bandwidth_mb_s".into()],
                            format!("bandwidth_mb_s must be positive, found {}", l.bandwidth_mb_s),
                        ));
                    }
                    if !(l.bytes_per_write.is_finite() && l.bytes_per_write >= 0.0) {
                        out.push((
                            vec!["asynchronous".into(), "link".into(), "bytes_per_write".into()],
                            format!("bytes_per_write must be zero or more, found {}", l.bytes_per_write),
                        ));
                    }
                }
            }
        }
    }
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
    fn region_failover_with_a_standby_pool_warms_up_from_its_parts() {
        // Detection 1 min, DNS 60 s, promotion 30 s, reconnect 2 s. Cold: provisioning 90 s +
        // image pull 60 s + start 30 s = 180 s, so 60 + 60 + 30 + 180 + 2 = 332 s; warm: the
        // start alone, 60 + 60 + 30 + 30 + 2 = 182 s; hot: 60 + 60 + 30 + 0 + 2 = 152 s.
        let with = |mode: &str| {
            fault(&format!(
                r#"{{"at": "5m", "kind": "region_loss", "target": "api",
                    "recovery": {{"detection": "1m", "reconnect": "2s",
                      "region_failover": {{"dns_switch": "60s", "promotion": "30s",
                        "standby": "{mode}", "standby_pool": "dr",
                        "warm_up": {{"provisioning": "90s", "image_pull": "60s", "start": "30s"}}}}}}}}"#
            ))
        };
        assert_eq!(with("cold").outage(), Duration::from_secs(332));
        assert_eq!(with("warm").outage(), Duration::from_secs(182));
        assert_eq!(with("hot").outage(), Duration::from_secs(152));
        // The typed-in warm-ups are not read once a pool is named (defaults 60 min, 10 min),
        // and the pool must fit the mode: cold runs no node, warm runs some.
        for (mode, warm_up, fits_0, fits_3) in
            [("cold", 180.0, true, false), ("warm", 30.0, false, true)]
        {
            let f = with(mode);
            let rf = f
                .recovery
                .region_failover
                .as_ref()
                .expect("region_failover");
            assert_eq!(rf.warm_up_s(), warm_up, "{mode}");
            assert_eq!(rf.check_pool(0, 10).is_none(), fits_0, "{mode} with min 0");
            assert_eq!(rf.check_pool(3, 10).is_none(), fits_3, "{mode} with min 3");
        }
    }

    #[test]
    fn outage_is_the_sum_of_its_parts() {
        // 5 s x 3 + 10 + 5 + 2 = 32 s
        assert_eq!(Recovery::default().outage(), Duration::from_secs(32));
    }

    #[test]
    fn backup_restore_is_size_over_throughput_plus_wal_replay() {
        // 500 GB at 200 MB/s = 500,000 MB / 200 = 2500 s. WAL since the backup: 30 min x
        // 100 writes/s x 1000 B = 180 MB, replayed at 20 MB/s = 9 s. Provision 600 s,
        // detection 3 x 5 s = 15 s, reconnect 2 s: 600 + 2500 + 9 + 15 + 2 = 3126 s.
        let f = fault(
            r#"{"at": "1m", "kind": "primary_crash", "target": "db",
                "recovery": {"from_backup": {"size_gb": 500, "restore_mb_s": 200,
                             "since_backup": "30m", "write_rate": "100/s"}}}"#,
        );
        let b = f.recovery.from_backup.as_ref().expect("from_backup");
        assert!((b.base_restore_s() - 2500.0).abs() < 1e-9);
        assert!((b.replay_s(0.0) - 9.0).abs() < 1e-9);
        assert_eq!(f.outage(), Duration::from_secs(3126));
        // Without its own write rate, the replay follows the rate the run sees: 50 writes/s
        // replay 4.5 s.
        let f = fault(
            r#"{"at": "1m", "kind": "primary_crash", "target": "db",
                "recovery": {"from_backup": {"size_gb": 500, "restore_mb_s": 200}}}"#,
        );
        assert_eq!(f.outage_at(50.0), Duration(3_121_500_000_000));
        // A WAL rate instead: 2 MB/s x 1800 s / 20 MB/s = 180 s.
        let f = fault(
            r#"{"at": "1m", "kind": "primary_crash", "target": "db",
                "recovery": {"from_backup": {"size_gb": 500, "restore_mb_s": 200, "wal_mb_s": 2}}}"#,
        );
        assert_eq!(
            f.outage_at(50.0),
            Duration::from_secs(600 + 2500 + 180 + 15 + 2)
        );
    }

    #[test]
    fn detection_is_probe_interval_times_threshold_or_an_alerting_delay() {
        let r: Recovery =
            serde_json::from_str(r#"{"check_interval": "10s", "failure_threshold": 3}"#)
                .expect("recovery");
        assert!((r.detection_s() - 30.0).abs() < 1e-12);
        // 30 + 10 + 5 + 2
        assert_eq!(r.outage(), Duration::from_secs(47));
        let r: Recovery = serde_json::from_str(r#"{"detection": "2m"}"#).expect("recovery");
        assert!((r.detection_s() - 120.0).abs() < 1e-12);
    }

    #[test]
    fn region_failover_is_detection_switch_promotion_warm_up_reconnect() {
        // 5 min alert + 5 min DNS + 10 min promotion + 10 min warm standby + 2 s = 1802 s;
        // cold: 60 min warm-up instead, 4802 s; hot: none, 1202 s.
        let mut f = fault(
            r#"{"at": "1m", "kind": "region_loss", "target": "gw",
                "recovery": {"detection": "5m", "region_failover": {}}}"#,
        );
        assert_eq!(f.outage(), Duration::from_secs(1802));
        let rf = f
            .recovery
            .region_failover
            .as_mut()
            .expect("region_failover");
        rf.standby = Standby::Cold;
        assert_eq!(f.outage(), Duration::from_secs(4802));
        let rf = f
            .recovery
            .region_failover
            .as_mut()
            .expect("region_failover");
        rf.standby = Standby::Hot;
        assert_eq!(f.outage(), Duration::from_secs(1202));
    }

    #[test]
    fn a_typed_restore_is_still_accepted_and_stands_alone() {
        let f = fault(
            r#"{"at": "1m", "kind": "primary_crash", "target": "db", "recovery": {"restore": "25m"}}"#,
        );
        assert_eq!(f.outage(), Duration::from_secs(1500));
    }

    #[test]
    fn rpo_follows_the_replication() {
        // Link: 30 ms one way, 10 MB/s, 1000 B per write at 1000 writes/s: t = 0.1 ms,
        // rho = 0.1, lag = 0.03 + 0.0001 x (1 + 0.1 / 1.8) = 0.030105556 s.
        let r: Replication = serde_json::from_str(
            r#"{"asynchronous": {"link": {"latency": "30ms", "bandwidth_mb_s": 10}}}"#,
        )
        .expect("replication");
        let lag = r.expected_rpo_s(1000.0).expect("bounded");
        assert!((lag - 0.030_105_555_6).abs() < 1e-9, "{lag}");
        // Written faster than the link carries: unbounded.
        assert_eq!(r.expected_rpo_s(20_000.0), None);
        let r: Replication =
            serde_json::from_str(r#"{"corruption": {"detected_after": "45m"}}"#).expect("r");
        assert_eq!(r.expected_rpo_s(100.0), Some(2700.0));
        assert_eq!(Replication::Synchronous.expected_rpo_s(100.0), Some(0.0));
    }

    /// Every part is a lower bound of the outage: doubling any one never shortens it, and the
    /// outage is never below the largest part (a small deterministic sweep).
    #[test]
    fn outage_is_never_below_its_parts() {
        for (size, thr, since, rate) in [
            (1.0, 1.0, 60, 0.0),
            (500.0, 200.0, 1800, 100.0),
            (2000.0, 50.0, 3600, 5000.0),
        ] {
            let f = fault(&format!(
                r#"{{"at": "1m", "kind": "primary_crash", "target": "db",
                    "recovery": {{"from_backup": {{"size_gb": {size}, "restore_mb_s": {thr}, "since_backup": "{since}s"}}}}}}"#
            ));
            let parts = f.recovery.parts(rate);
            let sum: f64 = parts.iter().map(|p| p.seconds).sum();
            let out = f.outage_at(rate).as_secs_f64();
            assert!(out + 1e-6 >= sum, "{out} < {sum}");
            assert!(parts
                .iter()
                .all(|p| p.seconds >= 0.0 && out + 1e-6 >= p.seconds));
        }
    }
}
