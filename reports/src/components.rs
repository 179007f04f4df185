//! The report's "Components" section: one table per family of platform components the run
//! holds (Kafka consumer groups, connection pools, caches, LLM endpoints, GPU batchers, Cloud
//! Run services, Ray clusters), each row the figures `summary.json` has for it. Families the
//! run does not have are left out; a run with none writes no section.

use crate::html::escape;
use crate::numbers;
use models::summary::Components;
use std::fmt::Write;

/// One table: its heading, column names (the first is the component's name) and rows of
/// already formatted cells; `hot` marks a row whose second cell deserves the reader's eye.
struct Table {
    title: &'static str,
    columns: &'static [&'static str],
    rows: Vec<(String, Vec<String>, bool)>,
}

/// Above this a queue-like component's waits grow steeply (as in the services table).
const HOT: f64 = 0.85;

fn tables(c: &Components) -> Vec<Table> {
    let mut out = Vec::new();
    out.push(Table {
        title: "Kafka consumer groups",
        columns: &[
            "topic / group",
            "partitions",
            "active consumers",
            "throughput (ev/s)",
            "utilisation",
            "lag wait mean (ms)",
            "lag wait p95 (ms)",
            "partition lag mean (records)",
            "partition lag max (records)",
            "rebalances",
            "paused (s)",
        ],
        rows: c
            .kafka
            .iter()
            .map(|(n, t)| {
                // The mean lag with its interval across replications, when there is one.
                let lag = match t.mean_partition_lag_ci95 {
                    Some([lo, hi]) => format!(
                        "{} [{}, {}]",
                        numbers::decimal(t.mean_partition_lag),
                        numbers::decimal(lo),
                        numbers::decimal(hi)
                    ),
                    None => numbers::decimal(t.mean_partition_lag),
                };
                let cells = vec![
                    t.partitions.to_string(),
                    t.active_consumers.to_string(),
                    numbers::decimal(t.throughput_rps),
                    numbers::percent(t.utilization),
                    numbers::ms(t.lag_wait_ms.mean),
                    numbers::ms(t.lag_wait_ms.p95),
                    lag,
                    numbers::count(t.max_partition_lag),
                    numbers::decimal(t.rebalances),
                    numbers::seconds(t.rebalance_s),
                ];
                (n.clone(), cells, t.utilization > HOT)
            })
            .collect(),
    });
    out.push(Table {
        title: "Connection pools",
        columns: &[
            "pool",
            "size",
            "utilisation",
            "wait mean (ms)",
            "wait p95 (ms)",
        ],
        rows: c
            .pools
            .iter()
            .map(|(n, p)| {
                let cells = vec![
                    p.size.to_string(),
                    numbers::percent(p.utilization),
                    numbers::ms(p.wait_ms.mean),
                    numbers::ms(p.wait_ms.p95),
                ];
                (n.clone(), cells, p.utilization > HOT)
            })
            .collect(),
    });
    out.push(Table {
        title: "Caches",
        columns: &["cache", "lookups", "hit ratio"],
        rows: c
            .caches
            .iter()
            .map(|(n, k)| {
                let cells = vec![numbers::count(k.lookups), numbers::percent(k.hit_ratio)];
                (n.clone(), cells, false)
            })
            .collect(),
    });
    out.push(Table {
        title: "LLM endpoints",
        columns: &[
            "endpoint",
            "calls",
            "429s",
            "failed",
            "tokens in",
            "tokens out",
        ],
        rows: c
            .llm
            .iter()
            .map(|(n, l)| {
                let cells = vec![
                    numbers::count(l.calls),
                    numbers::count(l.throttled),
                    numbers::count(l.failed),
                    numbers::count(l.tokens_in.round() as u64),
                    numbers::count(l.tokens_out.round() as u64),
                ];
                (n.clone(), cells, l.failed > 0)
            })
            .collect(),
    });
    out.push(Table {
        title: "GPU batchers",
        columns: &[
            "batcher",
            "batches",
            "mean batch size",
            "throughput (req/s)",
        ],
        rows: c
            .batchers
            .iter()
            .map(|(n, b)| {
                let cells = vec![
                    numbers::count(b.batches),
                    numbers::decimal(b.mean_batch_size),
                    numbers::decimal(b.throughput_rps),
                ];
                (n.clone(), cells, false)
            })
            .collect(),
    });
    out.push(Table {
        title: "Cloud Run services",
        columns: &[
            "service",
            "instances min",
            "instances mean",
            "instances max",
            "cold starts",
            "429s",
            "billable instance-s",
        ],
        rows: c
            .cloud_run
            .iter()
            .map(|(n, r)| {
                let cells = vec![
                    r.instances.min.to_string(),
                    numbers::decimal(r.instances.mean),
                    r.instances.max.to_string(),
                    numbers::decimal(r.cold_starts),
                    numbers::decimal(r.rejected_429),
                    numbers::decimal(r.billable_instance_s),
                ];
                (n.clone(), cells, r.rejected_429 > 0.0)
            })
            .collect(),
    });
    out.push(Table {
        title: "Ray clusters",
        columns: &[
            "cluster",
            "workers min",
            "workers mean",
            "workers max",
            "launched",
            "worker VM-s",
        ],
        rows: c
            .ray
            .iter()
            .map(|(n, r)| {
                let cells = vec![
                    r.workers.min.to_string(),
                    numbers::decimal(r.workers.mean),
                    r.workers.max.to_string(),
                    numbers::decimal(r.launched),
                    numbers::decimal(r.worker_vm_s),
                ];
                (n.clone(), cells, false)
            })
            .collect(),
    });
    out.retain(|t| !t.rows.is_empty());
    out
}

/// Writes the section (nothing when the run has no components).
pub(crate) fn section(page: &mut String, c: &Components) {
    let tables = tables(c);
    if tables.is_empty() {
        return;
    }
    page.push_str("<section id=\"components\">\n<h2>Components</h2>\n");
    for t in tables {
        let _ = write!(
            page,
            "<h3>{}</h3>\n<div class=\"scroll\"><table>\n<thead><tr>",
            escape(t.title)
        );
        for (i, col) in t.columns.iter().enumerate() {
            let class = if i == 0 { "" } else { " class=\"num\"" };
            let _ = write!(page, "<th{class}>{}</th>", escape(col));
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for (name, cells, hot) in t.rows {
            let _ = write!(page, "<tr><td class=\"name\">{}</td>", escape(&name));
            for (i, cell) in cells.iter().enumerate() {
                let hot = if hot && i == 1 { " hot" } else { "" };
                let _ = write!(page, "<td class=\"num{hot}\">{}</td>", escape(cell));
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    page.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::summary::{CacheSummary, PoolSummary, QueueWait, TopicSummary};

    #[test]
    fn one_table_per_family_present_with_its_rows() {
        let mut c = Components::default();
        let mut page = String::new();
        section(&mut page, &c);
        assert!(page.is_empty(), "no components, no section");

        c.kafka.insert(
            "orders/audit".into(),
            TopicSummary {
                partitions: 3,
                active_consumers: 3,
                throughput_rps: 30.0,
                utilization: 0.9,
                lag_wait_ms: QueueWait {
                    mean: 540.0,
                    p95: 1700.0,
                },
                mean_partition_lag: 2.5,
                mean_partition_lag_ci95: Some([2.25, 2.75]),
                max_partition_lag: 1_234,
                rebalances: 1.5,
                rebalance_s: 4.5,
            },
        );
        c.pools.insert(
            "pg<primary>".into(),
            PoolSummary {
                size: 100,
                utilization: 0.5,
                wait_ms: QueueWait::default(),
            },
        );
        c.caches.insert(
            "redis".into(),
            CacheSummary {
                lookups: 1_000,
                hit_ratio: 0.92,
            },
        );
        section(&mut page, &c);
        assert_eq!(page.matches("<table>").count(), 3);
        assert_eq!(page.matches("<h3>").count(), 3);
        assert!(page.contains("Kafka consumer groups") && page.contains("orders/audit"));
        // The partitions' lag (with its interval) and the group's rebalances.
        for cell in ["2.50 [2.25, 2.75]", "1234", "1.50", "4.50 s"] {
            assert!(
                page.contains(&format!("\">{cell}</td>")),
                "{cell} in {page}"
            );
        }
        // Names are escaped; the busy consumer group is marked.
        assert!(page.contains("pg&lt;primary&gt;"));
        assert_eq!(page.matches(" hot\"").count(), 1);
        assert!(!page.contains("LLM endpoints"));
    }
}
