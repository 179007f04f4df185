//! The call graph in a set of spans: which service calls which, synchronously (the callee's
//! visit lies within the caller's) or not (it outlives it, or is a messaging span), how often
//! (branch probability: the share of the caller's visits that call; visits per such call),
//! each service's own time (its visit minus the time spent waiting on its synchronous calls,
//! measured at the caller's client span so the network is not counted as the caller's work),
//! and the journey mix (root visits by service and operation). A service that writes no spans
//! (a database, a cache) is seen in its callers' client spans that name it (`Span::peer`):
//! each such span with no server span under it is a visit of that service, inferred, its
//! time as the client saw it (the wire included).

use crate::trace::Span;
use indexmap::{IndexMap, IndexSet};
use std::collections::HashMap;

/// One visit to a service: its entry span (the root, or a span whose parent is in another
/// service) and everything the service did under it.
#[derive(Clone, Debug)]
struct Visit {
    service: String,
    name: String,
    start: u64,
    end: u64,
    caller: Option<usize>,
    /// The caller's span this visit hangs from (a client span, or the caller's entry span).
    via: Option<usize>,
    messaging: bool,
    /// The span that opened the visit.
    entry: usize,
    /// Seen only in the caller's client span (the service writes no spans).
    inferred: bool,
}

/// Calls from one service to another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Edge {
    pub sync_calls: u64,
    pub async_calls: u64,
    /// Visits of the caller that made at least one such call.
    pub calling_visits: u64,
    /// Mean of (client span - server span) over synchronous calls with a client span,
    /// seconds: what the network and the client library add to a call.
    pub network_s: Option<f64>,
}

impl Edge {
    pub fn synchronous(&self) -> bool {
        self.sync_calls >= self.async_calls
    }
}

/// What a set of traces says about the platform.
#[derive(Debug, Default)]
pub struct Graph {
    /// Per service: its visits' own times, seconds.
    pub own_time: IndexMap<String, Vec<f64>>,
    /// (caller, callee) -> calls.
    pub edges: IndexMap<(String, String), Edge>,
    /// Root visits by (service, operation): the journey mix.
    pub roots: IndexMap<(String, String), u64>,
    pub traces: usize,
    /// Services known only from their callers' client spans (`Span::peer`).
    pub inferred: IndexSet<String>,
}

impl Graph {
    pub fn visits(&self, service: &str) -> u64 {
        self.own_time.get(service).map_or(0, |v| v.len() as u64)
    }

    /// The share of `caller`'s visits that call `callee`.
    pub fn branch_probability(&self, caller: &str, callee: &str) -> Option<f64> {
        let e = self.edges.get(&(caller.to_string(), callee.to_string()))?;
        Some(e.calling_visits as f64 / self.visits(caller).max(1) as f64)
    }

    /// Calls per calling visit (a loop over rows shows as more than one).
    pub fn visits_per_call(&self, caller: &str, callee: &str) -> Option<f64> {
        let e = self.edges.get(&(caller.to_string(), callee.to_string()))?;
        Some((e.sync_calls + e.async_calls) as f64 / e.calling_visits.max(1) as f64)
    }

    /// Each root (service, operation)'s share of all root visits.
    pub fn journey_mix(&self) -> Vec<((String, String), f64)> {
        let total: u64 = self.roots.values().sum();
        self.roots
            .iter()
            .map(|(k, &c)| (k.clone(), c as f64 / total.max(1) as f64))
            .collect()
    }
}

/// Builds the graph. Spans whose parent is not in the file start a visit of their own (a
/// trace cut by sampling or by the file's edge), as roots.
pub fn build(spans: &[Span]) -> Graph {
    build_for(spans, |_| true)
}

/// Builds the graph for a model that has only the services `modelled` accepts: the time a
/// visit waits on a service outside the model stays in the visit's own time (a scenario
/// without a `postgresql` service carries its queries in its callers' demand). The edges
/// are all kept.
pub fn build_for(spans: &[Span], modelled: impl Fn(&str) -> bool) -> Graph {
    let index: HashMap<(&str, &str), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id.as_str(), s.span_id.as_str()), i))
        .collect();
    let parent: Vec<Option<usize>> = spans
        .iter()
        .map(|s| {
            s.parent_id
                .as_deref()
                .and_then(|p| index.get(&(s.trace_id.as_str(), p)).copied())
        })
        .collect();
    // Each span's visit, resolved parents first (a chain is walked once, then memoised).
    let mut visit_of: Vec<Option<usize>> = vec![None; spans.len()];
    let mut visits: Vec<Visit> = Vec::new();
    for i in 0..spans.len() {
        let mut chain = Vec::new();
        let mut at = Some(i);
        while let Some(j) = at {
            if visit_of[j].is_some() || chain.contains(&j) {
                break;
            }
            chain.push(j);
            at = parent[j];
        }
        for &j in chain.iter().rev() {
            let s = &spans[j];
            let v = match parent[j] {
                Some(p) if spans[p].service == s.service => visit_of[p],
                _ => None,
            };
            visit_of[j] = Some(v.unwrap_or_else(|| {
                visits.push(Visit {
                    service: s.service.clone(),
                    name: s.name.clone(),
                    start: s.start_ns,
                    end: s.end_ns,
                    caller: parent[j].and_then(|p| visit_of[p]),
                    via: parent[j],
                    messaging: s.messaging || parent[j].is_some_and(|p| spans[p].messaging),
                    entry: j,
                    inferred: false,
                });
                visits.len() - 1
            }));
        }
    }
    // Client spans naming a service that answered with no span of its own.
    let mut answered = vec![false; spans.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = *p {
            answered[p] |= spans[p].service != spans[i].service;
        }
    }
    let mut inferred = IndexSet::new();
    for (j, s) in spans.iter().enumerate() {
        let Some(peer) = s.peer.as_ref().filter(|p| **p != s.service) else {
            continue;
        };
        if answered[j] {
            continue;
        }
        inferred.insert(peer.clone());
        visits.push(Visit {
            service: peer.clone(),
            name: s.name.clone(),
            start: s.start_ns,
            end: s.end_ns,
            caller: visit_of[j],
            via: Some(j),
            messaging: false,
            entry: j,
            inferred: true,
        });
    }
    let mut g = Graph {
        traces: spans
            .iter()
            .map(|s| s.trace_id.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len(),
        inferred,
        ..Graph::default()
    };
    // Per caller visit: intervals waited on synchronously, and the callees it called.
    let mut waits: Vec<Vec<(u64, u64)>> = vec![Vec::new(); visits.len()];
    let mut called: Vec<Vec<String>> = vec![Vec::new(); visits.len()];
    let mut network: HashMap<(String, String), (f64, u64)> = HashMap::new();
    for v in &visits {
        let Some(c) = v.caller else {
            *g.roots
                .entry((v.service.clone(), v.name.clone()))
                .or_default() += 1;
            continue;
        };
        let caller = &visits[c];
        let sync = !v.messaging && v.start >= caller.start && v.end <= caller.end;
        let key = (caller.service.clone(), v.service.clone());
        let e = g.edges.entry(key.clone()).or_default();
        if sync {
            e.sync_calls += 1;
            // The caller waited for as long as its client span was open (network included).
            let client = v.via.map(|p| &spans[p]).filter(|p| {
                p.service == caller.service && p.start_ns <= v.start && p.end_ns >= v.end
            });
            let (a, b) = client.map_or((v.start, v.end), |p| (p.start_ns, p.end_ns));
            if modelled(&v.service) {
                waits[c].push((a.max(caller.start), b.min(caller.end)));
            }
            if let Some(p) = client {
                // A client span of its own (not the caller's entry span) measures the wire;
                // an inferred visit is that client span, so it cannot.
                if v.via != Some(caller.entry) && !v.inferred {
                    let n = network.entry(key.clone()).or_default();
                    n.0 += ((p.end_ns - p.start_ns) - (v.end - v.start)) as f64 / 1e9;
                    n.1 += 1;
                }
            }
        } else {
            e.async_calls += 1;
        }
        if !called[c].contains(&v.service) {
            called[c].push(v.service.clone());
            e.calling_visits += 1;
        }
    }
    for (key, (sum, n)) in network {
        if let Some(e) = g.edges.get_mut(&key) {
            e.network_s = Some(sum / n as f64);
        }
    }
    for (i, v) in visits.iter().enumerate() {
        let own = (v.end - v.start).saturating_sub(union_length(&mut waits[i]));
        g.own_time
            .entry(v.service.clone())
            .or_default()
            .push(own as f64 / 1e9);
    }
    g
}

/// The total length covered by possibly overlapping intervals (parallel calls count once).
fn union_length(iv: &mut [(u64, u64)]) -> u64 {
    iv.sort_unstable();
    let (mut total, mut cur): (u64, Option<(u64, u64)>) = (0, None);
    for &(a, b) in iv.iter() {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    total + cur.map_or(0, |(a, b)| b.saturating_sub(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_waits_count_once() {
        assert_eq!(union_length(&mut [(0, 10), (5, 15), (20, 25)]), 20);
        assert_eq!(union_length(&mut []), 0);
    }
}
