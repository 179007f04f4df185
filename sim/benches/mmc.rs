//! Speed of the simulator on an M/M/c queue (not a test; `cargo bench -p sim --bench mmc`).
//!
//! 1. One thread, one replication, millions of customers: events/s and customers/s.
//! 2. Parallel replications: the same model, R replications on a rayon pool of 1 thread, then
//!    of 2 (and of every core when there are more), wall time and speed-up.
//!
//! The model is the one `benches/peers/mmc_simpy.py` runs in SimPy: Poisson arrivals at 90/s, one
//! FIFO queue in front of 10 servers, exponential service of mean 100 ms (utilisation 0.9).
//! Arguments (after `--`): `[CUSTOMERS] [REPLICATIONS]`, default 5,000,000 and 8; environment
//! `MMC_BENCH_ONLY=single` skips the scaling part; `MMC_BENCH_ROUNDS` (default 5) sets how many
//! engine/bare pairs give the median ratio; `MMC_BENCH_SERVICE` replaces the service's
//! `service_time:` line with other keys of the service (one YAML line each, `;`-separated), to
//! price a mechanism: e.g. `cpu: {exponential: {mean: 50ms}};service_time: {constant: 50ms};cores: 5`.
//!
//! Two yardsticks. The bare loop below is this crate's own: our random stream, integer
//! keys, no statistics. `MMC_BENCH_PEER=path/to/mmc_raw` adds the reference peer of
//! `../shared/peers/des-rust` (its hand-written `BinaryHeap` loop, Pcg64, keeping each
//! customer's wait and sojourn; build it as its README says): engine and peer alternate,
//! each peer run a process of its own, and the median ratio of customers per CPU second is
//! printed (the peer's CPU from its own loop, ours from the replication).

use std::time::Instant;

mod support;
use support::thread_cpu_s;

const RATE: f64 = 90.0;

fn scenario(customers: u64, replications: u32) -> models::Scenario {
    let horizon_s = (customers as f64 / RATE).ceil() as u64;
    let service = std::env::var("MMC_BENCH_SERVICE")
        .unwrap_or_else(|_| "service_time: {exponential: {mean: 100ms}}".into())
        .split(';')
        .map(|l| format!("    {}", l.trim()))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!(
        "name: mmc-bench
seed: 42
horizon: {horizon_s}s
replications: {replications}
services:
  api:
    replicas: 1
    concurrency: 10
{service}
workload:
  arrivals: {{poisson: {{rate: {RATE}/s}}}}
  journeys:
    - name: call
      steps: [{{service: api}}]
"
    );
    support::parse(&text, "mmc-bench", &[])
}

fn customers_of(out: &sim::Output) -> u64 {
    out.summary.journeys.values().map(|j| j.count).sum()
}

/// M/M/c as a bare event loop: a `BinaryHeap` of (time, sequence, kind), a FIFO of waiting
/// arrival times, exponential draws as `-ln(U)` (fixed here, so the yardstick does not move
/// when the engine's sampling does). Returns the customers served and their mean sojourn (ms).
fn bare_heap_mmc(customers: u64, servers: u32, seed: u64) -> (u64, f64) {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, VecDeque};
    let mut rng = models::RandomStream::from_seed(seed);
    let mut exp = |mean_s: f64| ((-mean_s * rng.next_open01().ln()) * 1e9) as u64;
    // (time ns, sequence, arrival time of the customer in service or u64::MAX for an arrival)
    let mut heap: BinaryHeap<Reverse<(u64, u64, u64)>> = BinaryHeap::new();
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let (mut seq, mut busy, mut served, mut sojourn_ns) = (0u64, 0u32, 0u64, 0u128);
    heap.push(Reverse((exp(1.0 / RATE), seq, u64::MAX)));
    let mut arrived = 1u64;
    while let Some(Reverse((t, _, tag))) = heap.pop() {
        seq += 1;
        if tag == u64::MAX {
            if arrived < customers {
                arrived += 1;
                heap.push(Reverse((t + exp(1.0 / RATE), seq, u64::MAX)));
                seq += 1;
            }
            if busy < servers {
                busy += 1;
                heap.push(Reverse((t + exp(0.1), seq, t)));
            } else {
                waiting.push_back(t);
            }
        } else {
            served += 1;
            sojourn_ns += u128::from(t - tag);
            match waiting.pop_front() {
                Some(a) => heap.push(Reverse((t + exp(0.1), seq, a))),
                None => busy -= 1,
            }
        }
    }
    let mean_ms = sojourn_ns as f64 / served.max(1) as f64 / 1e6;
    (std::hint::black_box(served), mean_ms)
}

/// What `f` returns and the CPU seconds it took (None without a CPU clock or when too quick).
fn cpu_of(f: impl FnOnce() -> u64) -> Option<(u64, f64)> {
    let cpu0 = thread_cpu_s()?;
    let n = f();
    let cpu = thread_cpu_s()? - cpu0;
    (cpu > 0.0).then_some((n, cpu))
}

/// Customers per CPU second of the des-rust peer `mmc_raw` on the same M/M/10 (rates scaled:
/// arrivals 9/s, service 1/s, utilisation 0.9), from the JSON line it prints.
fn peer_customers_per_cpu_s(peer: &str, customers: u64) -> Option<f64> {
    // `cargo bench` runs this in `sim/`: a relative path is also looked for from the
    // workspace root, where the peers' README builds it.
    let mut path = std::path::PathBuf::from(peer);
    if !path.exists() {
        path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(peer);
    }
    let out = std::process::Command::new(path)
        .args([
            "--lam", "9", "--mu", "1", "--c", "10", "--warmup", "1000", "--seed", "1",
        ])
        .args(["--n", &customers.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let key = "\"cust_per_cpu_s\": ";
    let at = text.find(key)? + key.len();
    let tail = &text[at..];
    let end = tail.find([',', '}'])?;
    tail[..end].trim().parse().ok()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot build a rayon pool of {threads} threads: {e}");
            std::process::exit(3);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; keep only the numbers.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let customers = args.first().copied().unwrap_or(5_000_000);
    let replications = args.get(1).copied().unwrap_or(8) as u32;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // 1. One thread, one replication.
    let s = scenario(customers, 1);
    let cpu0 = thread_cpu_s();
    let started = Instant::now();
    let out = sim::simulate(&s, &sim::Options { sequential: true });
    let wall = started.elapsed().as_secs_f64();
    let cpu = thread_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    let n = customers_of(&out);
    let events = out.summary.engine.events;
    let mean_ms = out
        .summary
        .journeys
        .values()
        .map(|j| j.latency_ms.mean)
        .next()
        .unwrap_or(0.0);
    println!(
        "M/M/10 at utilisation 0.9, one thread, one replication ({} s simulated):",
        s.horizon.as_secs_f64()
    );
    println!("  customers        {n:>14}");
    println!(
        "  events           {events:>14}   ({:.2} a customer)",
        events as f64 / n.max(1) as f64
    );
    println!("  wall             {wall:>14.3} s");
    println!("  events/s         {:>14.0}", events as f64 / wall);
    println!("  customers/s      {:>14.0}", n as f64 / wall);
    if let Some(cpu) = cpu.filter(|c| *c > 0.0) {
        println!(
            "  cpu              {cpu:>14.3} s   (on the CPU {:.0}% of the wall time)",
            100.0 * cpu / wall
        );
        println!("  events/cpu-s     {:>14.0}", events as f64 / cpu);
        println!("  customers/cpu-s  {:>14.0}", n as f64 / cpu);
    }
    println!("  mean sojourn     {mean_ms:>14.2} ms (Erlang C: 166.80 ms)");

    // The yardstick: the same queue as a bare loop over a BinaryHeap (no model, no metrics).
    let cpu0 = thread_cpu_s();
    let started = Instant::now();
    let (bare_n, bare_mean_ms) = bare_heap_mmc(customers, 10, 42);
    let bare_wall = started.elapsed().as_secs_f64();
    let bare_cpu = thread_cpu_s().zip(cpu0).map(|(b, a)| b - a);
    println!("bare BinaryHeap loop, the same M/M/10:");
    println!("  customers        {bare_n:>14}   (mean sojourn {bare_mean_ms:.2} ms)");
    println!("  customers/s      {:>14.0}", bare_n as f64 / bare_wall);
    println!(
        "  engine / bare    {:>14.2}x  (customers/s, wall)",
        (n as f64 / wall) / (bare_n as f64 / bare_wall)
    );
    if let (Some(c), Some(b)) = (cpu.filter(|c| *c > 0.0), bare_cpu.filter(|c| *c > 0.0)) {
        println!("  customers/cpu-s  {:>14.0}", bare_n as f64 / b);
        println!(
            "  engine / bare    {:>14.2}x  (customers/cpu-s: the figure that holds on a shared machine)",
            (n as f64 / c) / (bare_n as f64 / b)
        );
        // One pair is at the mercy of a noisy neighbour: more pairs, engine and bare
        // alternating, and the median of their ratios.
        let rounds: usize = std::env::var("MMC_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let mut ratios = vec![(n as f64 / c) / (bare_n as f64 / b)];
        for _ in 1..rounds {
            let e = cpu_of(|| customers_of(&sim::simulate(&s, &sim::Options { sequential: true })));
            let b = cpu_of(|| bare_heap_mmc(customers, 10, 42).0);
            if let (Some((en, ec)), Some((bn, bc))) = (e, b) {
                ratios.push((en as f64 / ec) / (bn as f64 / bc));
            }
        }
        ratios.sort_by(f64::total_cmp);
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  engine / bare    {:>14.2}x  (median of {} alternating pairs: {})",
            ratios[ratios.len() / 2],
            ratios.len(),
            shown.join(" ")
        );
    }

    if let Ok(peer) = std::env::var("MMC_BENCH_PEER") {
        let rounds: usize = std::env::var("MMC_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let mut ratios = Vec::new();
        let mut peer_cps = Vec::new();
        for _ in 0..rounds {
            let e = cpu_of(|| customers_of(&sim::simulate(&s, &sim::Options { sequential: true })));
            let p = peer_customers_per_cpu_s(&peer, customers);
            if let (Some((en, ec)), Some(p)) = (e, p) {
                ratios.push((en as f64 / ec) / p);
                peer_cps.push(p);
            }
        }
        if ratios.is_empty() {
            println!(
                "peer {peer}: no figure (is it built? see ../shared/peers/des-rust/README.md)"
            );
        } else {
            ratios.sort_by(f64::total_cmp);
            peer_cps.sort_by(f64::total_cmp);
            let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            println!("peers/des-rust mmc_raw (BinaryHeap loop, Pcg64, per-customer statistics):");
            println!(
                "  customers/cpu-s  {:>14.0}   (median of {})",
                peer_cps[peer_cps.len() / 2],
                peer_cps.len()
            );
            println!(
                "  engine / peer    {:>14.2}x  (median of {} alternating pairs: {})",
                ratios[ratios.len() / 2],
                ratios.len(),
                shown.join(" ")
            );
        }
    }

    if std::env::var("MMC_BENCH_ONLY").is_ok_and(|v| v == "single") {
        return;
    }

    // 2. Parallel replications: the same total work on pools of 1, 2, ... threads.
    let per_rep = (customers / u64::from(replications)).max(100_000);
    let s = scenario(per_rep, replications);
    println!(
        "\nparallel replications: {replications} x {per_rep} customers, {cores} core(s) on this machine"
    );
    let mut threads = vec![1, 2];
    if cores > 2 {
        threads.push(cores);
    }
    let mut base = None;
    for t in threads {
        let p = pool(t);
        let started = Instant::now();
        let out = p.install(|| sim::simulate(&s, &sim::Options { sequential: false }));
        let wall = started.elapsed().as_secs_f64();
        let n = customers_of(&out);
        let b = *base.get_or_insert(wall);
        println!(
            "  {t:>2} thread(s): {wall:>8.3} s  {:>12.0} customers/s  {:>12.0} events/s  speed-up {:.2}x",
            n as f64 / wall,
            out.summary.engine.events as f64 / wall,
            b / wall
        );
    }
}
