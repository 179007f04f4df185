//! Network time per hop (issue #3): the scenario's top-level `network:` block (one delay
//! distribution per kind of hop: same zone, cross zone, cross region) and where each service
//! sits (`region:`, `zones:` on the service). This module owns the rules that turn those into
//! a hop's kind and probabilities; `sim::model` compiles them into the journey programs.
//!
//! The rules: every service visit pays one hop from its caller, the previous service of the
//! journey (the load balancer, in the home region, at the journey's start). A hop is
//! `cross_region` when the two regions differ; otherwise the callee's replicas are spread
//! evenly over its `zones` and the caller sits in a random one of them, so the hop is
//! `cross_zone` with probability 1 - 1/zones and `same_zone` otherwise.

use crate::distribution::Distribution;
use crate::path::PathSegment;
use crate::scenario::Scenario;
use serde::Deserialize;

/// `network: {same_zone, cross_zone, cross_region, region}`: the time of one hop of each kind,
/// a call's round trip (request there, response back), paid once per service visit.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub same_zone: Distribution,
    pub cross_zone: Distribution,
    /// Needed only when some service sits outside the home region.
    #[serde(default)]
    pub cross_region: Option<Distribution>,
    /// The home region: where the load balancer and every service without `region:` are.
    /// Required as soon as a service names its region (a default would silently decide
    /// whether the entry hop crosses regions).
    #[serde(default)]
    pub region: Option<String>,
}

/// Where a service sits, resolved with the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Index into [`Network::regions`]; 0 is the home region.
    pub region: u32,
    /// Zones its replicas are spread over (at least 1).
    pub zones: u32,
}

/// The kind of one hop and, within a region, the chance that it crosses zones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hop {
    CrossRegion,
    /// `cross_zone` with probability `p_cross`, else `same_zone`.
    InRegion {
        p_cross: f64,
    },
}

/// The scenario's network resolved: regions by name and each service's placement (in the
/// order of `Scenario::services`).
#[derive(Clone, Debug)]
pub struct Network {
    pub regions: Vec<String>,
    pub placements: Vec<Placement>,
}

impl Network {
    /// Resolves placements; `None` when the scenario has no `network:` block (no hop is paid).
    pub fn resolve(s: &Scenario) -> Option<Network> {
        let spec = s.network.as_ref()?;
        let home = spec.region.clone().unwrap_or_default();
        let mut regions = vec![home];
        let placements = s
            .services
            .values()
            .map(|svc| {
                let region = match &svc.region {
                    None => 0,
                    Some(r) => match regions.iter().position(|x| x == r) {
                        Some(i) => i,
                        None => {
                            regions.push(r.clone());
                            regions.len() - 1
                        }
                    },
                } as u32;
                Placement {
                    region,
                    zones: default_zones(s, svc).max(1),
                }
            })
            .collect();
        Some(Network {
            regions,
            placements,
        })
    }

    /// The hop from a caller in region `from` to service `to` (an index of `services`).
    pub fn hop(&self, from: u32, to: usize) -> Hop {
        let p = self.placements[to];
        if p.region != from {
            Hop::CrossRegion
        } else {
            Hop::InRegion {
                p_cross: 1.0 - 1.0 / f64::from(p.zones),
            }
        }
    }
}

/// `zones:` if given, else the zone count of the service's node pool, else 1.
fn default_zones(s: &Scenario, svc: &crate::scenario::Service) -> u32 {
    svc.zones.unwrap_or_else(|| {
        svc.pod
            .as_ref()
            .and_then(|p| s.node_pools.get(&p.node_pool))
            .map_or(1, |np| np.zones.len().max(1) as u32)
    })
}

/// Checks the block and the services' placement fields: (path, message) per error.
pub fn check(s: &Scenario) -> Vec<(Vec<PathSegment>, String)> {
    let mut out = Vec::new();
    for (name, svc) in &s.services {
        if svc.zones == Some(0) {
            out.push((
                crate::path!["services", name, "zones"],
                "zones must be at least 1".into(),
            ));
        }
        if s.network.is_none() {
            for (field, given) in [
                ("region", svc.region.is_some()),
                ("zones", svc.zones.is_some()),
            ] {
                if given {
                    out.push((
                        crate::path!["services", name, field],
                        format!("`{field}:` places the service for network hops, which need a top-level `network:` block"),
                    ));
                }
            }
        }
    }
    let Some(spec) = &s.network else {
        return out;
    };
    let dists = [
        ("same_zone", Some(&spec.same_zone)),
        ("cross_zone", Some(&spec.cross_zone)),
        ("cross_region", spec.cross_region.as_ref()),
    ];
    for (field, d) in dists {
        if let Some(Err(m)) = d.map(|d| d.check()) {
            out.push((crate::path!["network", field], m));
        }
    }
    if spec.region.is_none() {
        for (name, svc) in &s.services {
            if svc.region.is_some() {
                out.push((
                    crate::path!["services", name, "region"],
                    "a service's `region:` needs `network.region`, the home region (where the load balancer and the services without `region:` are)".into(),
                ));
            }
        }
    } else if spec.cross_region.is_none() {
        if let Some(n) = Network::resolve(s) {
            for ((name, svc), p) in s.services.iter().zip(&n.placements) {
                if p.region != 0 {
                    out.push((
                        crate::path!["services", name, "region"],
                        format!(
                            "`{}` is outside the home region `{}`: hops to it need `network.cross_region`",
                            svc.region.as_deref().unwrap_or_default(),
                            n.regions[0]
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str, services: &str) -> Scenario {
        let text = format!(
            "name: n\nhorizon: 1m\n{extra}\nservices:\n{services}\nworkload:\n  arrivals: {{poisson: {{rate: 1/s}}}}\n  journeys: [{{name: j, steps: [{{service: a}}]}}]\n"
        );
        crate::parse_scenario(&text, "n.yaml", &[])
            .unwrap_or_else(|d| panic!("{d:?}"))
            .0
    }

    const NET: &str = "network: {same_zone: {constant: 1ms}, cross_zone: {constant: 2ms}, cross_region: {constant: 60ms}}";

    #[test]
    fn zones_default_to_the_node_pool_then_one() {
        let s = scenario(
            &format!("{NET}\nnode_pools: {{general: {{machine: n1-standard-4, min: 1, max: 1, zones: [us-central1-a, us-central1-b, us-central1-c]}}}}"),
            "  a: {service_time: {constant: 1ms}, pod: {node_pool: general, cpu: 500m, memory: 1Gi}}\n  b: {service_time: {constant: 1ms}}\n  c: {service_time: {constant: 1ms}, zones: 2, pod: {node_pool: general, cpu: 500m, memory: 1Gi}}",
        );
        let n = Network::resolve(&s).expect("network");
        let zones: Vec<u32> = n.placements.iter().map(|p| p.zones).collect();
        assert_eq!(zones, vec![3, 1, 2]);
        assert_eq!(
            n.hop(0, 0),
            Hop::InRegion {
                p_cross: 1.0 - 1.0 / 3.0
            }
        );
        assert_eq!(n.hop(0, 1), Hop::InRegion { p_cross: 0.0 });
    }

    #[test]
    fn services_without_a_region_are_in_the_home_region() {
        let s = scenario(
            &NET.replace("}}", "}, region: us-west1}"),
            "  a: {service_time: {constant: 1ms}, region: us-west1}\n  b: {service_time: {constant: 1ms}, region: us-east1}\n  c: {service_time: {constant: 1ms}}",
        );
        let n = Network::resolve(&s).expect("network");
        assert_eq!(n.regions, vec!["us-west1", "us-east1"]);
        let regions: Vec<u32> = n.placements.iter().map(|p| p.region).collect();
        assert_eq!(regions, vec![0, 1, 0]);
        assert_eq!(n.hop(0, 1), Hop::CrossRegion);
        assert_eq!(n.hop(1, 1), Hop::InRegion { p_cross: 0.0 });
    }

    #[test]
    fn no_block_no_network() {
        let s = scenario("", "  a: {service_time: {constant: 1ms}}");
        assert!(Network::resolve(&s).is_none());
    }
}
