//! The seed platform's nominal monthly cost (../shared/seeds/backend-architecture.md), at the
//! node pools' minimum and maximum sizes, priced by the cost model and checked against a sum done
//! by hand, then set beside infrastructure-plan.md's estimate of $4,300-$9,600 a month.
//!
//! Provisioned capacity only: usage-driven items (LLM tokens, Firestore operations, bucket
//! contents, egress) depend on traffic and are left to the simulator. Numbers the seeds do not
//! give are marked "invented".

use billing::{Billing, PriceTable};
use models::cost::{BootDisk, CloudRunBilling, CloudRunUsage, CloudSqlUsage, CostModel, GpuUsage};
use models::cost::{MemorystoreTier, MemorystoreUsage, NodePoolUsage, PineconeUsage, Usage};

const MONTH: f64 = 730.0 * 3600.0;

fn machines(machine_type: &str, count: u32, disk_gb: Option<f64>) -> NodePoolUsage {
    NodePoolUsage {
        machine_type: machine_type.into(),
        node_seconds: f64::from(count) * MONTH,
        boot_disk: disk_gb.map(|gb| BootDisk {
            disk_type: "pd-balanced".into(),
            gb_per_node: gb,
        }),
        ..NodePoolUsage::default()
    }
}

/// A month of the seed topology with `general`, `ai` and `ray` nodes and `hf` Cloud Run instances.
fn seed_platform(general: u32, ai: u32, ray_workers: u32, hf_instances: u32) -> Usage {
    let (vcpus, memory_gb) =
        CloudSqlUsage::custom_tier_shape("db-custom-8-32768").expect("seed tier");
    let mut ai_pool = machines("n1-highmem-8", ai, Some(100.0));
    ai_pool.gpu = Some(GpuUsage {
        gpu_type: "nvidia-tesla-t4".into(),
        gpu_seconds: f64::from(ai) * MONTH, // accelerator count: 1 per node
    });
    Usage {
        span_s: MONTH,
        node_pools: [
            // GKE's default boot disk: 100 GB pd-balanced
            (
                "general".into(),
                machines("n1-standard-4", general, Some(100.0)),
            ),
            ("ai-workload".into(), ai_pool),
        ]
        .into(),
        vms: [
            // boot_disk_size from the seed; disk type invented (pd-balanced)
            ("mcp".into(), machines("n1-standard-8", 1, Some(100.0))),
            ("coaching".into(), machines("n1-standard-8", 1, Some(100.0))),
            (
                "warpdrive".into(),
                machines("n1-standard-16", 1, Some(200.0)),
            ),
            ("staging".into(), machines("n1-standard-4", 1, Some(50.0))),
            ("ray-head".into(), machines("n1-standard-8", 1, None)),
            (
                "ray-workers".into(),
                machines("n1-standard-4", ray_workers, None),
            ),
        ]
        .into(),
        gke_clusters: [("primary-gke".into(), MONTH)].into(),
        cloud_sql: [(
            "primary".into(),
            CloudSqlUsage {
                instance_hours: 730.0,
                vcpus,
                memory_gb,
                storage_gb: 100.0, // invented
                high_availability: true,
                backup_gb: 100.0, // invented (7 daily backups, incremental)
            },
        )]
        .into(),
        memorystore: [(
            "cache".into(),
            MemorystoreUsage {
                tier: MemorystoreTier::Basic,
                capacity_gb: 16.0,
                gb_hours: 16.0 * 730.0,
            },
        )]
        .into(),
        cloud_run: [(
            "huggingface".into(),
            CloudRunUsage {
                // min_instances 1 / max 10 from the seed; 4 vCPU / 16 GiB each is invented
                billing: CloudRunBilling::Instance,
                vcpu_seconds: 4.0 * f64::from(hf_instances) * MONTH,
                gib_seconds: 16.0 * f64::from(hf_instances) * MONTH,
                requests: 0,
            },
        )]
        .into(),
        pinecone: [(
            "vectors".into(),
            // pod_type "p1x.standard" in the seed read as p1.x1; replicas 3
            PineconeUsage {
                pod_type: "p1.x1".into(),
                pod_hours: 3.0 * 730.0,
            },
        )]
        .into(),
        ..Usage::default()
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

/// Hand sum of a month at list price, item by item (`sud` = 0.7 for sustained use, else 1).
fn hand_sum(general: f64, ai: f64, ray: f64, hf: f64, sud: f64) -> f64 {
    let general_pool = general * 0.189999 * 730.0 * sud + general * 100.0 * 0.10;
    let ai_pool = ai * 0.473212 * 730.0 * sud + ai * 0.35 * 730.0 + ai * 100.0 * 0.10;
    let vms = 2.0 * 0.379998 * 730.0 * sud + 2.0 * 100.0 * 0.10 // mcp, coaching
        + 0.759996 * 730.0 * sud + 200.0 * 0.10 // warpdrive
        + 0.189999 * 730.0 * sud + 50.0 * 0.10 // staging
        + 0.379998 * 730.0 * sud // ray head
        + ray * 0.189999 * 730.0 * sud; // ray workers
    let gke_fee = 0.10 * 730.0;
    let cloud_sql = (8.0 * 0.0826 + 32.0 * 0.014) * 730.0 + 100.0 * 0.34 + 100.0 * 0.08;
    let redis = 16.0 * 0.023 * 730.0;
    let hf_run = hf * (4.0 * 0.000018 + 16.0 * 0.000002) * 730.0 * 3600.0;
    let pinecone = 3.0 * 730.0 * 0.096;
    general_pool + ai_pool + vms + gke_fee + cloud_sql + redis + hf_run + pinecone
}

#[test]
fn seed_platform_nominal_month_at_min_and_max() {
    let table = PriceTable::builtin().expect("price table");
    let list = CostModel {
        sustained_use: false,
        ..CostModel::default()
    };
    let with_sud = CostModel::default();
    let min = seed_platform(3, 2, 2, 1);
    let max = seed_platform(10, 8, 10, 10);

    let min_list = list.cost(table, &min).expect("cost").monthly_usd;
    let max_list = list.cost(table, &max).expect("cost").monthly_usd;
    let min_sud = with_sud.cost(table, &min).expect("cost").monthly_usd;
    let max_sud = with_sud.cost(table, &max).expect("cost").monthly_usd;

    close(min_list, hand_sum(3.0, 2.0, 2.0, 1.0, 1.0));
    close(max_list, hand_sum(10.0, 8.0, 10.0, 10.0, 1.0));
    close(min_sud, hand_sum(3.0, 2.0, 2.0, 1.0, 0.7));
    close(max_sud, hand_sum(10.0, 8.0, 10.0, 10.0, 0.7));
    // The figures, to the cent (see the report of this work for the comparison):
    close((min_list * 100.0).round() / 100.0, 5192.69);
    close((max_list * 100.0).round() / 100.0, 13468.66);
    close((min_sud * 100.0).round() / 100.0, 4319.67);
    close((max_sud * 100.0).round() / 100.0, 11349.69);

    // infrastructure-plan.md: $4,300-$9,600 a month. With sustained use (GCP's default), the
    // minimum topology lands at the bottom of that band before any LLM token or egress is
    // paid; the maximum is above it.
    assert!((4300.0..4400.0).contains(&min_sud));
    assert!(max_sud > 9600.0);
}

#[test]
fn seed_platform_drivers_at_maximum() {
    let table = PriceTable::builtin().expect("price table");
    let bill = CostModel::default()
        .breakdown(table, &seed_platform(10, 8, 10, 10))
        .expect("cost");
    let monthly = bill.monthly_by_item();
    let group = |prefix: &str| -> f64 {
        monthly
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    };
    // ai-workload at 8 nodes: 8 x (0.473212 x 730 x 0.7 + 0.35 x 730 + 100 x 0.10)
    //   = 8 x (241.811332 + 255.5 + 10) = 4058.490656
    close(group("node_pool/ai-workload"), 4058.490656);
    // Hugging Face at 10 instances: 10 x (4 x 0.000018 + 16 x 0.000002) x 2,628,000 = 2733.12
    close(group("cloud_run/huggingface"), 2733.12);
    // standalone VMs incl. 10 Ray workers (not in the seeds' table, which names GKE only):
    // (3 x 0.379998 + 0.759996 + 11 x 0.189999) x 730 x 0.7 + (10 + 10 + 20 + 5) disks
    //   = 3.989979 x 511 + 45 = 2083.879269
    close(group("vm/"), 2083.879269);
}
