//! `twin merge` of load shards: two `twin load --shard I/2` workers run at once against one
//! `twin emulate`, and their merge is the folder one run would have written: counts summed,
//! the percentiles those of the union of both shards' recorded latencies (computed here
//! independently, by sorting every recorded value and taking the nearest rank, as HdrHistogram
//! defines its quantiles), windows and offered rate summed, SLOs judged, JUnit written. A
//! repeated or missing shard is refused with exit status 2.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

fn merge(dirs: &[&Path], out: &Path) -> std::process::Output {
    let mut c = twin();
    c.arg("merge");
    for d in dirs {
        c.arg(d);
    }
    c.arg("--out").arg(out).output().expect("twin merge")
}

/// Every recorded latency of a shard's journey histogram, in microseconds, with repeats (each
/// value is the top of its HDR bucket, which is what a percentile of the histogram reports).
fn recorded(dir: &Path) -> Vec<u64> {
    let mut f = std::fs::File::open(dir.join("histograms/journey-call.hdr")).expect("hdr");
    let h = harness::measure::read_histogram(&mut f).expect("V2 histogram");
    h.iter_recorded()
        .flat_map(|v| std::iter::repeat_n(v.value_iterated_to(), v.count_at_value() as usize))
        .collect()
}

#[test]
fn merged_shards_equal_the_union() {
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let tmp = tempfile::tempdir().expect("tempdir");
    let shard = |i: u32| tmp.path().join(format!("shard-{i}"));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_twin"))
                .arg("load")
                .arg(&scenario)
                .args([
                    "--target",
                    &emulator.url(),
                    "--duration",
                    "6s",
                    "--no-predict",
                ])
                .args(["--shard", &format!("{i}/2")])
                .arg("--out")
                .arg(shard(i))
                .spawn()
                .expect("start a shard")
        })
        .collect();
    for mut w in workers {
        assert_eq!(w.wait().expect("shard").code(), Some(0));
    }
    let merged = tmp.path().join("merged");
    let o = merge(&[&shard(1), &shard(0)], &merged);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    let s0 = json(&shard(0).join("summary.json"));
    let s1 = json(&shard(1).join("summary.json"));
    let m = json(&merged.join("summary.json"));
    let count = |s: &serde_json::Value| s["journeys"]["call"]["count"].as_u64().expect("count");
    assert_eq!(count(&m), count(&s0) + count(&s1));
    // The shards sent the whole rate between them: 120/s for 6 s, about 720.
    assert!((550..=900).contains(&count(&m)), "{}", count(&m));
    assert_eq!(m["kind"], "load");
    // `partial` is written only when true.
    assert_ne!(m["partial"], true);
    let d = json(&merged.join("load.json"));
    assert_eq!(d["requests"].as_u64(), Some(emulator.requests()));

    // Percentiles of the union, computed independently of the merge.
    let mut all = recorded(&shard(0));
    all.extend(recorded(&shard(1)));
    all.sort_unstable();
    let n = all.len();
    assert_eq!(
        n as u64,
        count(&m),
        "every journey succeeded and was recorded"
    );
    let rank = |q: f64| all[((q * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
    let lat = &m["journeys"]["call"]["latency_ms"];
    for (key, q) in [("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99)] {
        let merged_q = lat[key].as_f64().expect(key);
        eprintln!("{key}: merged {merged_q:.3} ms, union {:.3} ms", rank(q));
        assert_eq!(merged_q, rank(q), "{key}");
    }
    assert_eq!(
        lat["max"].as_f64(),
        Some(*all.last().expect("one") as f64 / 1000.0)
    );

    // Windows and the offered rate add up; the SLOs are judged on the merged numbers.
    let tl = |dir: &Path| json(&dir.join("timeline.json"));
    let (t0, t1, tm) = (tl(&shard(0)), tl(&shard(1)), tl(&merged));
    let windows = |t: &serde_json::Value| -> Vec<u64> {
        t["journeys"]["call"]
            .as_array()
            .expect("windows")
            .iter()
            .map(|w| w["count"].as_u64().expect("count"))
            .collect()
    };
    let (w0, w1, wm) = (windows(&t0), windows(&t1), windows(&tm));
    for (k, c) in wm.iter().enumerate() {
        let part = w0.get(k).copied().unwrap_or(0) + w1.get(k).copied().unwrap_or(0);
        assert_eq!(*c, part, "window {k}");
    }
    let p95_slo = m["slos"]
        .as_array()
        .expect("slos")
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with("p95")))
        .expect("the p95 SLO");
    assert_eq!(p95_slo["observed"].as_f64(), lat["p95"].as_f64());
    let junit = std::fs::read_to_string(merged.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("p95(call)"));

    // A shard given twice, or one missing: refused before anything is written.
    let again = tmp.path().join("again");
    let o = merge(&[&shard(0), &shard(0)], &again);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("twice"));
    let o = merge(&[&shard(1)], &again);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 0/2 is missing"));
    assert!(!again.exists());
}
