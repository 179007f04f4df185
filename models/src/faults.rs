//! Faults a scenario injects into the simulated platform, and how recovery is modelled: from
//! its parts (detection = health-check interval x failure threshold, promotion, endpoint/DNS
//! update, client reconnection), each with a seed default that a scenario can override.

use crate::distribution::Distribution;
use crate::units::{Duration, Fraction};
use serde::Deserialize;

/// One fault: when, what kind, on what, for how long.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When the fault strikes (run time).
    pub at: Duration,
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

    #[test]
    fn outage_is_the_sum_of_its_parts() {
        // 5 s x 3 + 10 + 5 + 2 = 32 s
        assert_eq!(Recovery::default().outage(), Duration::from_secs(32));
    }
}
