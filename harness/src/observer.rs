//! Observers during a load run: each scenario `observers:` entry is scraped over plain HTTP
//! every `interval` (once at the start and once more when the run ends, so counters are read
//! after the last request), its Prometheus text parsed by [`models::observe`], and one number
//! per configured series kept with the time it was read. A failed scrape (connection, status,
//! timeout, unparsable text) is counted and its reason kept; it never stops the run. The
//! scrapers stop with the run.

use crate::exposition::{parse_exposition, select};
use models::observe::ObserverSpec;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one observer saw.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub name: String,
    /// Scrapes attempted and failed.
    pub scrapes: u64,
    pub failures: u64,
    /// Why the last failed scrape failed.
    pub last_error: Option<String>,
    /// Per series, in the order of the spec: its timeline name and `(instant, value)` samples.
    pub series: Vec<(String, Vec<(Instant, f64)>)>,
    /// Per series, scrapes in which no sample matched.
    pub missing: Vec<u64>,
}

/// The running scrapers of one load run.
pub struct Observers {
    /// Set to true at the run's end: each scraper wakes at once for its last scrape (no
    /// polling of a flag between scrapes: a wake-up is CPU taken from the target).
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    observed: Vec<Arc<Mutex<Observed>>>,
}

/// The URL an observer scrapes: `{target}` replaced by the load's base URL.
pub fn resolve_url(spec: &ObserverSpec, target: &str) -> String {
    spec.url.replace("{target}", target.trim_end_matches('/'))
}

impl Observers {
    /// Starts one scraper task per observer on the current tokio runtime.
    pub fn start(specs: &[ObserverSpec], target: &str) -> Observers {
        let (stop, _) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut observed = Vec::new();
        for spec in specs {
            let o = Arc::new(Mutex::new(Observed {
                name: spec.name.clone(),
                series: spec
                    .series
                    .iter()
                    .map(|s| (s.series_name(&spec.name), Vec::new()))
                    .collect(),
                missing: vec![0; spec.series.len()],
                ..Observed::default()
            }));
            observed.push(o.clone());
            let url = resolve_url(spec, target);
            let spec = spec.clone();
            let stop = stop.subscribe();
            tasks.push(tokio::spawn(async move {
                scrape_loop(spec, url, o, stop).await;
            }));
        }
        Observers {
            stop,
            tasks,
            observed,
        }
    }

    /// Stops the scrapers (each takes one last scrape) and returns what they saw.
    pub async fn finish(self) -> Vec<Observed> {
        self.stop.send_replace(true);
        for t in self.tasks {
            // A scrape is bounded by its timeout, so this ends; a panicked task keeps its data.
            let _ = t.await;
        }
        self.observed
            .iter()
            .map(|o| o.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

async fn scrape_loop(
    spec: ObserverSpec,
    url: String,
    o: Arc<Mutex<Observed>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let timeout = Duration::from_nanos(spec.timeout.0);
    let interval = Duration::from_nanos(spec.interval.0);
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            let mut g = o.lock().unwrap_or_else(|p| p.into_inner());
            g.scrapes += 1;
            g.failures += 1;
            g.last_error = Some(format!("cannot make an HTTP client: {e}"));
            return;
        }
    };
    let mut next = Instant::now();
    loop {
        let last = *stop.borrow_and_update();
        scrape_once(&client, &spec, &url, &o).await;
        if last {
            return;
        }
        next += interval;
        // Until the next scrape, or at once when the run ends (its final scrape follows the
        // run's end closely). Observers dropped unfinished: nobody reads, stop.
        if !*stop.borrow() {
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
        if Instant::now() > next + interval {
            // Fell behind (a slow endpoint): skip the missed scrapes rather than burst.
            next = Instant::now();
        }
    }
}

async fn scrape_once(
    client: &reqwest::Client,
    spec: &ObserverSpec,
    url: &str,
    o: &Mutex<Observed>,
) {
    let result = async {
        let r = client.get(url).send().await.map_err(|e| {
            format!(
                "GET {url}: {}",
                if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    e.to_string()
                }
            )
        })?;
        let status = r.status();
        if !status.is_success() {
            return Err(format!("GET {url}: status {}", status.as_u16()));
        }
        let text = r.text().await.map_err(|e| format!("GET {url}: {e}"))?;
        parse_exposition(&text).map_err(|e| format!("{url}: not Prometheus text: {e}"))
    }
    .await;
    let at = Instant::now();
    let mut g = o.lock().unwrap_or_else(|p| p.into_inner());
    g.scrapes += 1;
    match result {
        Ok(samples) => {
            for (k, s) in spec.series.iter().enumerate() {
                match select(s, &samples) {
                    Some(v) => g.series[k].1.push((at, v)),
                    None => g.missing[k] += 1,
                }
            }
        }
        Err(e) => {
            g.failures += 1;
            g.last_error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_substituted() {
        let spec: ObserverSpec = ObserverSpec {
            name: "o".into(),
            url: "{target}/metrics".into(),
            interval: models::Duration::from_secs(1),
            timeout: models::Duration::from_secs(1),
            series: Vec::new(),
        };
        assert_eq!(
            resolve_url(&spec, "http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/metrics"
        );
    }

    /// An endpoint that is not there: every scrape fails and is counted, none is fatal, and the
    /// scraper stops when asked.
    #[test]
    fn failures_are_counted_not_fatal() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec = ObserverSpec {
            name: "gone".into(),
            url: format!("http://127.0.0.1:{port}/metrics"),
            interval: models::Duration::from_secs_f64(0.05),
            timeout: models::Duration::from_secs(1),
            series: vec![models::observe::SeriesSpec {
                metric: "up".into(),
                labels: Default::default(),
                aggregate: Default::default(),
                name: None,
                compare_with: None,
            }],
        };
        let seen = rt.block_on(async {
            let o = Observers::start(&[spec], "http://unused");
            tokio::time::sleep(Duration::from_millis(300)).await;
            o.finish().await
        });
        let g = &seen[0];
        // About 300 ms / 50 ms + 1 initial + 1 final scrapes.
        assert!(g.scrapes >= 4, "{g:?}");
        assert_eq!(g.failures, g.scrapes);
        assert!(g.last_error.as_deref().is_some_and(|e| e.contains("GET")));
        assert_eq!(g.series[0].0, "gone/up");
        assert!(g.series[0].1.is_empty());
    }
}
