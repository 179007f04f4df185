//! The yardstick of `benches/load-frugal.sh`: goose alone, with nothing of twin's (no open-model
//! schedule, no journeys, no recording), sending `GET PATH` at a fixed rate (goose's request
//! throttle) for a number of seconds, then printing the requests sent and the CPU time the
//! process used (getrusage), so twin's own cost per request can be set beside goose's.
//!
//! `cargo run --release -p harness --example raw_goose -- URL PATH RATE SECONDS USERS`

use goose::config::GooseConfiguration;
use goose::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, path, rate, seconds, users] = args.as_slice() else {
        return Err("usage: raw_goose URL PATH RATE SECONDS USERS".into());
    };
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let path: &'static str = Box::leak(path.clone().into_boxed_str());
    let get: TransactionFunction = Arc::new(move |user| {
        let counter = counter.clone();
        Box::pin(async move {
            let _ = user.get(path).await?;
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    });
    let mut config = GooseConfiguration::default();
    config.host = Some(url.clone());
    config.users = Some(users.parse()?);
    config.increase_rate = Some("1000".into());
    config.run_time = Some(seconds.clone());
    config.throttle_requests = Some(rate.parse()?);
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_metrics = true;
    let before = harness::clock::process_cpu().unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        GooseAttack::initialize_with_config(config)?
            .register_scenario(scenario!("raw").register_transaction(Transaction::new(get)))
            .execute()
            .await
    })?;
    let cpu = harness::clock::process_cpu().unwrap_or_default() - before;
    let n = sent.load(Ordering::Relaxed);
    println!(
        "requests {n} cpu_s {:.6} cpu_us_per_request {:.1}",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n.max(1) as f64
    );
    Ok(())
}
