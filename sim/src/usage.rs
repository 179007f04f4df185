//! What a run used: node-seconds per pool as the autoscalers moved them, LLM tokens consumed,
//! Cloud Run, VM and Ray worker time, plus the scenario's fixed infrastructure, as a
//! `models::cost::Usage`. The simulator prices nothing: the binary bills the usage.

use crate::engine::ReplicationResult;
use crate::model::Model;
use models::cost::{CloudRunUsage, GpuUsage, LlmUsage, NodePoolUsage, Usage, VmUsage};
use models::Scenario;

/// The usage of the run, averaged over replications.
pub fn usage(scenario: &Scenario, model: &Model, results: &[ReplicationResult]) -> Usage {
    let reps = results.len().max(1) as f64;
    let span_s = model.horizon as f64 / 1e9;
    let mut u = scenario
        .infrastructure
        .as_ref()
        .map_or_else(Usage::default, |i| i.scaled_to(span_s));
    u.span_s = span_s;
    for (p, (name, np)) in scenario.node_pools.iter().enumerate() {
        let node_seconds = results.iter().map(|r| r.node_seconds[p]).sum::<f64>() / reps;
        let mut at_count = std::collections::BTreeMap::new();
        for r in results {
            for (n, secs) in &r.seconds_at_count[p] {
                *at_count.entry(*n).or_insert(0.0) += secs / reps;
            }
        }
        u.node_pools.insert(
            name.clone(),
            NodePoolUsage {
                machine_type: np.machine.clone(),
                node_seconds,
                seconds_at_node_count: at_count,
                gpu: (np.gpus_per_node > 0).then(|| GpuUsage {
                    gpu_type: np
                        .gpu_type
                        .clone()
                        .unwrap_or_else(|| "nvidia-tesla-t4".into()),
                    gpu_seconds: node_seconds * f64::from(np.gpus_per_node),
                }),
                boot_disk: None,
            },
        );
    }
    compute_usage(scenario, results, &mut u);
    traffic_usage(scenario, results, &mut u);
    for (e, (name, spec)) in scenario.llm_endpoints.iter().enumerate() {
        let tin = results
            .iter()
            .map(|r| r.endpoints[e].tokens_in)
            .sum::<f64>()
            / reps;
        let tout = results
            .iter()
            .map(|r| r.endpoints[e].tokens_out)
            .sum::<f64>()
            / reps;
        u.llm.insert(
            name.clone(),
            LlmUsage {
                model: spec
                    .model
                    .clone()
                    .unwrap_or_else(|| default_model(name).to_string()),
                input_tokens: tin.round() as u64,
                output_tokens: tout.round() as u64,
            },
        );
    }
    u
}

/// Cloud Run instance-seconds, and VM-seconds of VM-hosted services and Ray clusters (head for
/// the whole run, workers as the autoscaler ran them), as the simulation used them.
fn compute_usage(scenario: &Scenario, results: &[ReplicationResult], u: &mut Usage) {
    let reps = results.len().max(1) as f64;
    let vm = |machine: &str, seconds: f64| VmUsage {
        machine_type: machine.to_string(),
        node_seconds: seconds,
        ..VmUsage::default()
    };
    let (mut run, mut ray) = (0, 0);
    for (name, svc) in &scenario.services {
        if let Some(c) = &svc.cloud_run {
            let mean = |f: fn(&crate::cloud_run::CloudRunRecord) -> f64| {
                results.iter().map(|r| f(&r.cloud_run[run])).sum::<f64>() / reps
            };
            u.cloud_run.insert(
                name.clone(),
                CloudRunUsage {
                    billing: c.billing,
                    vcpu_seconds: mean(|r| r.vcpu_s),
                    gib_seconds: mean(|r| r.gib_s),
                    requests: mean(|r| r.requests as f64).round() as u64,
                },
            );
            run += 1;
        }
        if let Some(v) = &svc.vm {
            // VMs do not scale: every one runs for the whole span.
            u.vms
                .insert(name.clone(), vm(&v.machine, f64::from(v.count) * u.span_s));
        }
        if let Some(r) = &svc.ray {
            let worker_s = results.iter().map(|x| x.ray[ray].worker_s).sum::<f64>() / reps;
            u.vms
                .insert(format!("{name}/head"), vm(&r.head_machine, u.span_s));
            u.vms
                .insert(format!("{name}/workers"), vm(&r.worker_machine, worker_s));
            ray += 1;
        }
    }
}

/// Firestore operations and response egress: each service's visits over the whole run (its
/// completions, warm-up included, like the node-seconds) times what one visit declares.
fn traffic_usage(scenario: &Scenario, results: &[ReplicationResult], u: &mut Usage) {
    use models::cost::{Destination, FirestoreUsage};
    let reps = results.len().max(1) as f64;
    for (i, (_, svc)) in scenario.services.iter().enumerate() {
        let visits = results
            .iter()
            .map(|r| r.stations.get(i).map_or(0, |s| s.stats.completions_all) as f64)
            .sum::<f64>()
            / reps;
        if let Some(ops) = &svc.firestore {
            let f = u
                .firestore
                .entry(ops.database.clone())
                .or_insert_with(|| FirestoreUsage {
                    location: ops.location,
                    ..FirestoreUsage::default()
                });
            f.reads += (visits * ops.reads).round() as u64;
            f.writes += (visits * ops.writes).round() as u64;
            f.deletes += (visits * ops.deletes).round() as u64;
        }
        if let Some(bytes) = svc.response_bytes {
            let gb = visits * bytes / 1e9;
            match svc.response_to {
                Destination::SameZone => {}
                Destination::CrossZone => u.egress_cross_zone_gb += gb,
                Destination::CrossRegion => u.egress_cross_region_gb += gb,
                Destination::Internet => u.egress_gb += gb,
            }
        }
    }
}

/// What the run used, when the scenario says anything that costs money (the binary prices it
/// through the `billing` crate); `None` when nothing in it is billed.
pub fn billed_usage(
    scenario: &Scenario,
    model: &Model,
    results: &[ReplicationResult],
) -> Option<Usage> {
    let priced = scenario.cost.is_some()
        || scenario.infrastructure.is_some()
        || !scenario.node_pools.is_empty()
        || !scenario.llm_endpoints.is_empty()
        || scenario.services.values().any(|s| {
            s.cloud_run.is_some()
                || s.vm.is_some()
                || s.ray.is_some()
                || s.firestore.is_some()
                || s.response_bytes.is_some()
        });
    priced.then(|| usage(scenario, model, results))
}

/// The price table's model for an endpoint named only by its provider, as the seeds name them
/// (backend-architecture.md: claude-3-sonnet, gemini-pro, gpt-4, a Hugging Face model on Cloud
/// Run).
fn default_model(endpoint: &str) -> &str {
    match endpoint {
        "claude" | "anthropic" => "claude-3-sonnet",
        "gemini" | "gemini-pro" => "gemini-1.0-pro",
        "gpt4" | "gpt-4" | "openai" => "gpt-4",
        "huggingface" | "hugging-face" | "hf" => "huggingface-cloud-run",
        other => other,
    }
}
