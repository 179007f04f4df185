//! `report.html`: one self-contained page (inline CSS, no script, no fetch from anywhere) that
//! reads top-down: what ran, did it meet its SLOs, the journeys, services, cost and recovery,
//! then the charts, which are SVG files under `charts/` linked relatively. Every piece of text
//! that comes from a run (scenario, journey, SLO, warning, event names) is escaped.

use crate::charts::{Chart, ChartGroup};
use crate::numbers::{self, MISSING};
use crate::{CHARTS_DIR, JUNIT_FILE, SERIES_FILE, SUMMARY_FILE, TIMELINE_FILE, TIMESERIES_FILE};
use models::summary::{RunKind, RunSummary};
use models::timeline::Timeline;
use std::fmt::Write;

const STYLE: &str = r#"
:root { --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; line-height: 1.45; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
       min-height: 100vh; }
h1 { margin: 0 0 4px; font-size: 1.7rem; overflow-wrap: anywhere; }
h2 { margin: 36px 0 10px; font-size: 1.25rem; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.meta b { color: #1f2328; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85rem;
         font-weight: 600; color: #fff; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
.badge.partial { background: var(--warn); }
.verdict { font-size: 1.1rem; font-weight: 600; margin: 8px 0; }
.headline { font-size: 1.15rem; margin: 4px 0 8px; }
.verdict.ok { color: var(--ok); } .verdict.bad { color: var(--bad); }
nav { font-size: 0.9rem; margin: 12px 0 0; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; margin: 6px 0; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.name { overflow-wrap: break-word; min-width: 8em; }
.scroll { overflow-x: auto; }
tr.missed td { background: #fff5f5; }
tfoot td { font-weight: 600; }
table.compact { width: auto; min-width: 40%; }
.hot { color: var(--bad); font-weight: 600; }
.warnings { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
            padding: 8px 14px 8px 30px; }
.partial-note { background: #fff1e5; border: 1px solid #fb8f44; border-radius: 6px;
                padding: 8px 14px; }
figure { margin: 14px 0 22px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85rem; }
footer a { color: #0969da; }
"#;

/// The whole page for a run, linking the given charts (files under `charts/`).
pub fn report_html(summary: &RunSummary, timeline: &Timeline, charts: &[Chart]) -> String {
    let mut page = String::with_capacity(16 * 1024);
    let title = format!("twin {} · {}", summary.kind.as_str(), summary.scenario);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    header(&mut page, summary, timeline, charts);
    warnings(&mut page, summary);
    slos(&mut page, summary);
    journeys(&mut page, summary);
    streams(&mut page, summary);
    fidelity(&mut page, summary);
    services(&mut page, summary);
    crate::components::section(&mut page, &summary.components);
    cost(&mut page, summary);
    chart_section(
        &mut page,
        "cost-vs-traffic",
        "Cost against traffic",
        "The month at other arrival rates: traffic-driven items scaled with the rate and priced again, capacity as the run held it (see the note below the cost table).",
        charts,
        ChartGroup::Cost,
    );
    recovery(&mut page, summary);
    rollouts(&mut page, summary, charts);
    chart_section(
        &mut page,
        "trend",
        "Nightly trend",
        "The last nights of this scenario (this run last): solid lines per journey, dashed the regression threshold each night was judged against (the median of the 7 nights before it, plus the allowed margin).",
        charts,
        ChartGroup::Trend,
    );
    chart_section(
        &mut page,
        "latency",
        "Latency over time",
        "Percentiles of the journeys that completed in each window; red marks are timeline events.",
        charts,
        ChartGroup::Latency,
    );
    chart_section(
        &mut page,
        "distributions",
        "Latency distributions",
        "Share of requests per latency bucket, with the run's p50, p95 and p99.",
        charts,
        ChartGroup::Histogram,
    );
    chart_section(
        &mut page,
        "series",
        "Components over time",
        "One chart per family of series, one line per member.",
        charts,
        ChartGroup::Family,
    );
    events(&mut page, timeline);
    footer(&mut page, summary);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn header(page: &mut String, s: &RunSummary, t: &Timeline, charts: &[Chart]) {
    let _ = writeln!(page, "<header>\n<h1>{}</h1>", escape(&s.scenario));
    let _ = writeln!(
        page,
        "<p class=\"headline\">{}</p>",
        escape(&headline(s, t))
    );
    let _ = write!(
        page,
        "<p class=\"meta\"><b>{}</b> · seed <b>{}</b> · <b>{}</b> replication{} · horizon <b>{}</b>",
        kind_name(s.kind),
        s.seed,
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        escape(&numbers::seconds(s.horizon_s)),
    );
    if s.partial {
        page.push_str(" <span class=\"badge partial\">partial</span>");
    }
    page.push_str("</p>\n");
    let missed = s.slos.iter().filter(|v| !v.met).count();
    if s.slos.is_empty() {
        page.push_str("<p class=\"verdict\">No SLOs were set for this run.</p>\n");
    } else if missed == 0 {
        let _ = writeln!(
            page,
            "<p class=\"verdict ok\">All {} SLOs met.</p>",
            s.slos.len()
        );
    } else {
        let _ = writeln!(
            page,
            "<p class=\"verdict bad\">{missed} of {} SLOs missed.</p>",
            s.slos.len()
        );
    }
    if s.partial {
        page.push_str(
            "<p class=\"partial-note\">This run was interrupted: the figures below hold only \
             what was measured until then.</p>\n",
        );
    }
    page.push_str("<nav>");
    let mut links = vec![("slos", "SLOs"), ("journeys", "Journeys")];
    if has_streams(s) {
        links.push(("streams", "Streams"));
    }
    if s.fidelity.is_some() {
        links.push(("fidelity", "Prediction vs measurement"));
    }
    links.push(("services", "Services"));
    if !s.components.is_empty() {
        links.push(("components", "Components"));
    }
    if s.cost.is_some() {
        links.push(("cost", "Cost"));
    }
    if has_recovery(s) {
        links.push(("recovery", "Recovery"));
    }
    if !s.rollouts.is_empty() {
        links.push(("rollouts", "Rollouts"));
    }
    for (group, id, name) in [
        (ChartGroup::Trend, "trend", "Nightly trend"),
        (ChartGroup::Latency, "latency", "Latency over time"),
        (ChartGroup::Histogram, "distributions", "Distributions"),
        (ChartGroup::Family, "series", "Components over time"),
    ] {
        if charts.iter().any(|c| c.group == group) {
            links.push((id, name));
        }
    }
    for (id, name) in links {
        let _ = write!(page, "<a href=\"#{id}\">{name}</a>");
    }
    page.push_str("</nav>\n</header>\n");
}

/// The report's first sentence: what happened (met, missed or aborted), and the worst journey
/// with its p95 and error rate.
pub fn headline(s: &RunSummary, t: &Timeline) -> String {
    let missed: Vec<&str> = s
        .slos
        .iter()
        .filter(|v| !v.met)
        .map(|v| v.name.as_str())
        .collect();
    let regressions = t.trend.as_ref().map_or(0, |t| t.regressions.len());
    let mut out = if s.partial {
        "Aborted: the run was interrupted, and what it measured until then".to_string()
    } else {
        String::from("Completed")
    };
    if s.slos.is_empty() {
        out.push_str(" with no SLO to judge");
    } else if missed.is_empty() {
        let _ = write!(
            out,
            "{} every SLO ({})",
            if s.partial { " met" } else { " and met" },
            s.slos.len()
        );
    } else {
        let _ = write!(
            out,
            "{} {} of {} SLOs (first: {})",
            if s.partial { " missed" } else { " and missed" },
            missed.len(),
            s.slos.len(),
            missed[0]
        );
    }
    if regressions > 0 {
        let _ = write!(
            out,
            ", with {regressions} regression{} against the last nights",
            if regressions == 1 { "" } else { "s" }
        );
    }
    if let Some((name, j)) = worst_journey(s) {
        let p95 = if j.successes() > 0 {
            format!("p95 {} ms", numbers::ms(j.latency_ms.p95))
        } else {
            "no success".to_string()
        };
        let _ = write!(
            out,
            "; the worst journey is {name} ({p95}, {} errors).",
            numbers::percent(j.error_rate)
        );
    } else {
        out.push('.');
    }
    out
}

/// The journey that fared worst: one that never succeeded, else the one named by the most
/// missed SLOs, then the highest error rate, then the highest p95.
fn worst_journey(s: &RunSummary) -> Option<(&str, &models::summary::JourneySummary)> {
    let named = |name: &str| {
        s.slos
            .iter()
            .filter(|v| !v.met && v.name.contains(&format!("({name})")))
            .count()
    };
    s.journeys
        .iter()
        .filter(|(_, j)| j.count + j.unfinished > 0)
        .max_by(|(a, x), (b, y)| {
            let key = |n: &str, j: &models::summary::JourneySummary| (j.successes() == 0, named(n));
            key(a, x)
                .cmp(&key(b, y))
                .then(x.error_rate.total_cmp(&y.error_rate))
                .then(x.latency_ms.p95.total_cmp(&y.latency_ms.p95))
                .then(b.cmp(a))
        })
        .map(|(n, j)| (n.as_str(), j))
}

fn kind_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Simulation => "Simulation (prediction)",
        RunKind::Load => "Load test (measurement)",
        RunKind::Drill => "Drill (measurement under faults)",
        RunKind::Sweep => "Sweep",
    }
}

fn warnings(page: &mut String, s: &RunSummary) {
    if s.warnings.is_empty() {
        return;
    }
    page.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul class=\"warnings\">\n");
    for w in &s.warnings {
        let _ = writeln!(page, "<li>{}</li>", escape(w));
    }
    page.push_str("</ul>\n</section>\n");
}

fn slos(page: &mut String, s: &RunSummary) {
    page.push_str("<section id=\"slos\">\n<h2>Service-level objectives</h2>\n");
    if s.slos.is_empty() {
        page.push_str("<p class=\"empty\">None set.</p>\n</section>\n");
        return;
    }
    page.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>SLO</th><th>verdict</th><th class=\"num\">observed</th>\
         <th class=\"num\">bound</th></tr></thead>\n<tbody>\n",
    );
    for v in &s.slos {
        let observed = match v.observed {
            Some(o) => numbers::slo_value(&v.name, o),
            None => "not measured".to_string(),
        };
        let (class, badge) = if v.met {
            ("", "<span class=\"badge ok\">met</span>")
        } else {
            (
                " class=\"missed\"",
                "<span class=\"badge bad\">missed</span>",
            )
        };
        let _ = writeln!(
            page,
            "<tr{class}><td class=\"name\">{}</td><td>{badge}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(&v.name),
            escape(&observed),
            escape(&numbers::slo_bound(&v.name, v.bound)),
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn interval(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some(ci) if ci.iter().all(|v| v.is_finite()) => {
            format!("{} – {}", numbers::ms(ci[0]), numbers::ms(ci[1]))
        }
        _ => MISSING.to_string(),
    }
}

fn journeys(page: &mut String, s: &RunSummary) {
    page.push_str("<section id=\"journeys\">\n<h2>Journeys</h2>\n");
    if s.journeys.is_empty() {
        page.push_str("<p class=\"empty\">No journey completed.</p>\n</section>\n");
        return;
    }
    page.push_str(
        "<p class=\"meta\">Latencies in milliseconds, whole sojourn after warm-up; 95 % \
         confidence intervals across replications.</p>\n<div class=\"scroll\"><table>\n<thead><tr><th>journey</th>\
         <th class=\"num\">count</th><th class=\"num\">errors</th><th class=\"num\">error rate</th>\
         <th class=\"num\">mean</th><th class=\"num\">p50</th><th class=\"num\">p90</th>\
         <th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">max</th>\
         <th class=\"num\">mean 95 % CI</th><th class=\"num\">p95 95 % CI</th></tr></thead>\n<tbody>\n",
    );
    for (name, j) in &s.journeys {
        let l = &j.latency_ms;
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(name),
            numbers::count(j.count),
            numbers::count(j.errors),
            numbers::percent(j.error_rate),
            numbers::ms(l.mean),
            numbers::ms(l.p50),
            numbers::ms(l.p90),
            numbers::ms(l.p95),
            numbers::ms(l.p99),
            numbers::ms(l.max),
            interval(j.ci95_ms.mean),
            interval(j.ci95_ms.p95),
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// Some journey streams (`ttft_ms`, `itl_ms` or `tokens` in its summary).
fn has_streams(s: &RunSummary) -> bool {
    s.journeys
        .values()
        .any(|j| j.ttft_ms.is_some() || j.itl_ms.is_some() || j.tokens.is_some())
}

/// Time to first token and inter-token latency of the journeys that stream: measured (load)
/// or predicted (simulation); a load run's prediction of them is in the fidelity table.
fn streams(page: &mut String, s: &RunSummary) {
    if !has_streams(s) {
        return;
    }
    page.push_str(
        "<section id=\"streams\">\n<h2>Streams: time to first token and inter-token latency</h2>\n\
         <p class=\"meta\">Per journey that streams (server-sent events, LLM tokens), in \
         milliseconds: time from the streaming step's start to its first token (TTFT) and the \
         gaps between tokens (ITL), over the successful streams; the tokens received. A load \
         run's prediction of them is under Prediction beside measurement.</p>\n\
         <div class=\"scroll\"><table>\n<thead><tr><th>journey</th>\
         <th class=\"num\">tokens</th><th class=\"num\">TTFT p50</th><th class=\"num\">TTFT p95</th>\
         <th class=\"num\">TTFT p99</th><th class=\"num\">TTFT p95 95 % CI</th>\
         <th class=\"num\">ITL p50</th><th class=\"num\">ITL p95</th><th class=\"num\">ITL p99</th>\
         </tr></thead>\n<tbody>\n",
    );
    let pct = |l: Option<&models::summary::LatencyStats>, q: f64| {
        l.map_or(MISSING.to_string(), |l| numbers::ms(l.percentile(q)))
    };
    for (name, j) in &s.journeys {
        if j.ttft_ms.is_none() && j.itl_ms.is_none() && j.tokens.is_none() {
            continue;
        }
        let (t, i) = (j.ttft_ms.as_ref(), j.itl_ms.as_ref());
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(name),
            j.tokens.map_or(MISSING.to_string(), numbers::count),
            pct(t, 50.0),
            pct(t, 95.0),
            pct(t, 99.0),
            interval(j.ttft_ci95_ms.as_ref().and_then(|c| c.p95)),
            pct(i, 50.0),
            pct(i, 95.0),
            pct(i, 99.0),
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// The twin's prediction beside this run's measurement (load runs), per journey and metric.
fn fidelity(page: &mut String, s: &RunSummary) {
    let Some(f) = &s.fidelity else { return };
    let _ = writeln!(
        page,
        "<section id=\"fidelity\">\n<h2>Prediction beside measurement</h2>\n\
         <p class=\"meta\">Predicted by {}. Relative error is (measured − predicted) / predicted.\
         </p>\n<div class=\"scroll\"><table>\n<thead><tr><th>journey</th><th>metric</th><th class=\"num\">predicted</th>\
         <th class=\"num\">measured</th><th class=\"num\">relative error</th></tr></thead>\n<tbody>",
        escape(&f.predicted_by)
    );
    for (name, j) in &f.journeys {
        let mut rows = vec![
            ("mean (ms)", &j.mean_ms, false),
            ("p50 (ms)", &j.p50_ms, false),
            ("p95 (ms)", &j.p95_ms, false),
            ("p99 (ms)", &j.p99_ms, false),
            ("error rate", &j.error_rate, true),
        ];
        // Streams, where both the prediction and the measurement have them.
        if let Some(t) = &j.ttft_ms {
            rows.extend([
                ("TTFT p50 (ms)", &t.p50, false),
                ("TTFT p95 (ms)", &t.p95, false),
                ("TTFT p99 (ms)", &t.p99, false),
            ]);
        }
        if let Some(t) = &j.itl_ms {
            rows.extend([
                ("ITL p50 (ms)", &t.p50, false),
                ("ITL p95 (ms)", &t.p95, false),
                ("ITL p99 (ms)", &t.p99, false),
            ]);
        }
        let span = rows.len();
        for (k, (metric, c, is_rate)) in rows.into_iter().enumerate() {
            let journey_cell = if k == 0 {
                format!(
                    "<td class=\"name\" rowspan=\"{span}\">{}</td>",
                    escape(name)
                )
            } else {
                String::new()
            };
            let show = |v: f64| {
                if is_rate {
                    numbers::percent(v)
                } else {
                    numbers::ms(v)
                }
            };
            let relative = relative_error(c);
            let _ = writeln!(
                page,
                "<tr>{journey_cell}<td>{metric}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                show(c.predicted),
                show(c.measured),
                relative
            );
        }
    }
    page.push_str("</tbody>\n</table></div>\n");
    fidelity_rollouts(page, f);
    page.push_str("</section>\n");
}

fn relative_error(c: &models::fidelity::Comparison) -> String {
    c.relative_error.map_or(MISSING.to_string(), |r| {
        let sign = if r > 0.0 { "+" } else { "" };
        format!("{sign}{}", numbers::percent(r))
    })
}

/// A rollout drill's decision beside the simulated rollout's: outcome, decision time, and
/// what the new version served until the decision.
fn fidelity_rollouts(page: &mut String, f: &models::fidelity::Fidelity) {
    if f.rollouts.is_empty() {
        return;
    }
    page.push_str(
        "<h3>Rollouts</h3>\n<div class=\"scroll\"><table>\n<thead><tr><th>rollout</th><th>metric</th>\
         <th class=\"num\">predicted</th><th class=\"num\">measured</th>\
         <th class=\"num\">relative error</th></tr></thead>\n<tbody>",
    );
    let outcome = |o: models::rollout::Outcome| match o {
        models::rollout::Outcome::Promoted => "promoted",
        models::rollout::Outcome::RolledBack => "rolled back",
        models::rollout::Outcome::InProgress => "undecided",
    };
    for (name, r) in &f.rollouts {
        let _ = writeln!(
            page,
            "<tr><td class=\"name\" rowspan=\"5\">{}</td><td>outcome</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{MISSING}</td></tr>",
            escape(name),
            outcome(r.outcome.predicted),
            outcome(r.outcome.measured)
        );
        let rows = [
            ("decided at (s)", r.decided_at_s.as_ref()),
            ("start to first traffic (s)", r.wait_for_pods_s.as_ref()),
            (
                "new-version requests to the decision",
                Some(&r.requests_to_decision),
            ),
            (
                "new-version errors to the decision",
                Some(&r.errors_to_decision),
            ),
        ];
        for (metric, c) in rows {
            let (p, m, rel) = c.map_or(
                (
                    MISSING.to_string(),
                    MISSING.to_string(),
                    MISSING.to_string(),
                ),
                |c| {
                    (
                        format!("{:.2}", c.predicted),
                        format!("{:.2}", c.measured),
                        relative_error(c),
                    )
                },
            );
            let _ = writeln!(
                page,
                "<tr><td>{metric}</td><td class=\"num\">{p}</td><td class=\"num\">{m}</td>\
                 <td class=\"num\">{rel}</td></tr>"
            );
        }
    }
    page.push_str("</tbody>\n</table></div>\n");
}

fn services(page: &mut String, s: &RunSummary) {
    page.push_str("<section id=\"services\">\n<h2>Services</h2>\n");
    if s.services.is_empty() {
        page.push_str("<p class=\"empty\">No service figures in this run.</p>\n</section>\n");
        return;
    }
    page.push_str(
        "<div class=\"scroll\"><table>\n<thead><tr><th>service</th><th class=\"num\">throughput (req/s)</th>\
         <th class=\"num\">utilisation</th><th class=\"num\">queue wait mean (ms)</th>\
         <th class=\"num\">queue wait p95 (ms)</th><th class=\"num\">replicas min</th>\
         <th class=\"num\">replicas mean</th><th class=\"num\">replicas max</th></tr></thead>\n\
         <tbody>\n",
    );
    for (name, v) in &s.services {
        // Above 85 % busy, queueing delay grows steeply: worth the reader's eye.
        let hot = if v.utilization > 0.85 { " hot" } else { "" };
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num{hot}\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(name),
            numbers::decimal(v.throughput_rps),
            numbers::percent(v.utilization),
            numbers::ms(v.queue_wait_ms.mean),
            numbers::ms(v.queue_wait_ms.p95),
            v.replicas.min,
            numbers::decimal(v.replicas.mean),
            v.replicas.max,
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn cost(page: &mut String, s: &RunSummary) {
    let Some(c) = &s.cost else { return };
    page.push_str(
        "<section id=\"cost\">\n<h2>Cost</h2>\n<div class=\"scroll\"><table class=\"compact\">\n<thead><tr><th>item</th>\
         <th class=\"num\">over the run (USD)</th></tr></thead>\n<tbody>\n",
    );
    for (item, usd) in &c.by_item {
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td></tr>",
            escape(item),
            numbers::usd(*usd)
        );
    }
    let _ = writeln!(
        page,
        "</tbody>\n<tfoot><tr><td>total over the run</td><td class=\"num\">{}</td></tr>\n\
         <tr><td>monthly projection</td><td class=\"num\">{}</td></tr>\n\
         <tr><td>of which infrastructure (whatever the traffic)</td><td class=\"num\">{}</td></tr>\n\
         <tr><td>of which usage (follows the traffic)</td><td class=\"num\">{}</td></tr></tfoot>\n</table></div>\n</section>",
        numbers::usd(c.total_usd),
        numbers::usd(c.monthly_usd),
        numbers::usd(c.infrastructure_monthly_usd),
        numbers::usd(c.usage_monthly_usd)
    );
    if let Some(p) = &c.projection {
        let _ = writeln!(
            page,
            "<p class=\"meta\">The monthly projection assumes {}.</p>",
            escape(&p.assumes)
        );
    }
    if let Some(t) = &c.cost_vs_traffic {
        traffic_fit(page, t);
    }
    let Some(cmp) = &c.comparison else { return };
    let verdict = if cmp.difference_usd > 0.0 {
        format!("{} above its high end", numbers::usd(cmp.difference_usd))
    } else if cmp.difference_usd < 0.0 {
        format!("{} below its low end", numbers::usd(-cmp.difference_usd))
    } else {
        "within it".to_string()
    };
    let _ = writeln!(
        page,
        "<h3>Against the reference estimate</h3>\n<p>Projected {} a month against {}-{} ({}): {verdict}. \
         Lines in order of their part in the difference:</p>\n<div class=\"scroll\"><table class=\"compact\">\n\
         <thead><tr><th>line</th><th class=\"num\">projected (USD/month)</th><th class=\"num\">reference</th>\
         <th class=\"num\">difference</th><th>items</th></tr></thead>\n<tbody>",
        numbers::usd(cmp.projected_usd),
        numbers::usd(cmp.reference_low),
        numbers::usd(cmp.reference_high),
        escape(&cmp.source),
    );
    for d in &cmp.drivers {
        let reference = match (d.reference_low, d.reference_high) {
            (Some(lo), Some(hi)) => format!("{}-{}", numbers::usd(lo), numbers::usd(hi)),
            _ => "none".to_string(),
        };
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&d.item),
            numbers::usd(d.monthly_usd),
            reference,
            numbers::usd(d.difference_usd),
            escape(&d.items.join(", "))
        );
    }
    page.push_str("</tbody>\n</table></div>\n");
}

fn has_recovery(s: &RunSummary) -> bool {
    let r = &s.recovery;
    r.rto_s.is_some() || r.rpo_s.is_some() || r.lost_writes.is_some() || !r.random_faults.is_empty()
}

fn recovery(page: &mut String, s: &RunSummary) {
    if !has_recovery(s) {
        return;
    }
    let r = &s.recovery;
    let or_missing = |v: Option<String>| v.unwrap_or_else(|| "not measured".to_string());
    let _ = writeln!(
        page,
        "<section id=\"recovery\">\n<h2>Recovery</h2>\n<div class=\"scroll\"><table class=\"compact\">\n<tbody>\n\
         <tr><th>RTO (until service was back)</th><td class=\"num\">{}</td></tr>\n\
         <tr><th>RPO (window of lost writes)</th><td class=\"num\">{}</td></tr>\n\
         <tr><th>acknowledged writes lost</th><td class=\"num\">{}</td></tr>\n\
         </tbody>\n</table></div>",
        or_missing(r.rto_s.map(numbers::seconds)),
        or_missing(r.rpo_s.map(numbers::seconds)),
        or_missing(r.lost_writes.map(numbers::count)),
    );
    if !r.random_faults.is_empty() {
        page.push_str(
            "<h3>Faults at random</h3>\n<div class=\"scroll\"><table class=\"compact\">\n<thead><tr>\
             <th>fault</th><th class=\"num\">MTBF</th><th class=\"num\">MTTR</th>\
             <th class=\"num\">occurrences (95 % CI)</th><th class=\"num\">expected</th>\
             <th class=\"num\">availability (95 % CI)</th><th class=\"num\">MTBF/(MTBF+MTTR)</th>\
             </tr></thead>\n<tbody>\n",
        );
        let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.4} %", v * 100.0));
        for f in &r.random_faults {
            let _ = writeln!(
                page,
                "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{:.1} ({:.1}-{:.1})</td><td class=\"num\">{:.1}</td>\
                 <td class=\"num\">{} ({})</td><td class=\"num\">{}</td></tr>",
                escape(&f.fault),
                escape(&numbers::seconds(f.mtbf_s)),
                escape(&numbers::seconds(f.mttr_s)),
                f.occurrences,
                f.occurrences_ci95.map_or(f64::NAN, |c| c[0]),
                f.occurrences_ci95.map_or(f64::NAN, |c| c[1]),
                f.expected_occurrences,
                pct(f.availability),
                f.availability_ci95.map_or("n/a".to_string(), |c| format!(
                    "{}-{}",
                    pct(Some(c[0])),
                    pct(Some(c[1]))
                )),
                pct(f.expected_availability),
            );
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    page.push_str("</section>\n");
}

/// Each rollout: how the replications ended, when it was decided and done, what a bad
/// release cost (the new version's failed visits), then its chart (the first replication).
fn rollouts(page: &mut String, s: &RunSummary, charts: &[Chart]) {
    use models::rollout::Outcome;
    if s.rollouts.is_empty() {
        return;
    }
    page.push_str(
        "<section id=\"rollouts\">\n<h2>Rollouts</h2>\n<p class=\"meta\">Promoted or rolled \
         back per replication; decided at and duration (start to the losing version's replicas \
         gone) are means over the replications that got there; damage is the new version's \
         failed visits over all journeys started (mean, and the worst replication).</p>\n\
         <div class=\"scroll\"><table>\n<thead><tr><th>rollout</th><th>outcome</th>\
         <th class=\"num\">promoted</th><th class=\"num\">rolled back</th>\
         <th class=\"num\">decided at</th><th class=\"num\">duration</th>\
         <th class=\"num\">new version's visits</th><th class=\"num\">its failures</th>\
         <th class=\"num\">damage</th><th class=\"num\">worst</th></tr></thead>\n<tbody>\n",
    );
    for r in &s.rollouts {
        let outcome = match r.outcome {
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled back",
            Outcome::InProgress => "undecided",
        };
        let secs = |v: Option<f64>| v.map_or(numbers::MISSING.to_string(), numbers::seconds);
        let _ = writeln!(
            page,
            "<tr><td class=\"name\">{} ({})</td><td>{outcome}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(&r.name),
            escape(&r.service),
            r.outcomes.promoted,
            r.outcomes.rolled_back,
            escape(&secs(r.decided_at_s)),
            escape(&secs(r.duration_s)),
            numbers::decimal(r.requests_new),
            numbers::decimal(r.errors_new),
            numbers::percent(r.damage_share),
            numbers::percent(r.worst_damage_share),
        );
    }
    page.push_str("</tbody>\n</table></div>\n");
    for chart in charts.iter().filter(|c| c.group == ChartGroup::Rollout) {
        figure(page, chart);
    }
    page.push_str("</section>\n");
}

/// One chart as an image of the page.
fn figure(page: &mut String, chart: &Chart) {
    let _ = writeln!(
        page,
        "<figure><img src=\"{CHARTS_DIR}/{}\" width=\"{}\" height=\"{}\" alt=\"{}\"></figure>",
        escape(&chart.file_name),
        chart.width,
        chart.height,
        escape(&chart.title),
    );
}

fn chart_section(
    page: &mut String,
    id: &str,
    heading: &str,
    note: &str,
    charts: &[Chart],
    group: ChartGroup,
) {
    let mut shown = charts.iter().filter(|c| c.group == group).peekable();
    if shown.peek().is_none() {
        return;
    }
    let _ = writeln!(
        page,
        "<section id=\"{id}\">\n<h2>{heading}</h2>\n<p class=\"meta\">{note}</p>"
    );
    for chart in shown {
        figure(page, chart);
    }
    page.push_str("</section>\n");
}

fn events(page: &mut String, t: &Timeline) {
    if t.events.is_empty() {
        return;
    }
    page.push_str(
        "<section id=\"events\">\n<h2>Timeline events</h2>\n<div class=\"scroll\"><table class=\"compact\">\n<thead><tr>\
         <th class=\"num\">at</th><th>event</th></tr></thead>\n<tbody>\n",
    );
    for e in &t.events {
        let _ = writeln!(
            page,
            "<tr><td class=\"num\">{}</td><td class=\"name\">{}</td></tr>",
            escape(&numbers::seconds(e.at_s)),
            escape(&e.label)
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn footer(page: &mut String, s: &RunSummary) {
    let mut files = vec![SUMMARY_FILE, TIMESERIES_FILE, SERIES_FILE, TIMELINE_FILE];
    if matches!(s.kind, RunKind::Load | RunKind::Drill) {
        files.push(JUNIT_FILE);
    }
    page.push_str("<footer>\n<p>Data: ");
    for (i, f) in files.iter().enumerate() {
        let sep = if i == 0 { "" } else { " · " };
        let _ = write!(page, "{sep}<a href=\"{f}\">{f}</a>");
    }
    let _ = writeln!(
        page,
        "</p>\n<p>Engine: {} events in {} s of wall time.</p>\n</footer>",
        numbers::count(s.engine.events),
        numbers::decimal(s.engine.wall_s)
    );
}

/// The seeds' cost question answered in words: the traffic whose month fits the reference
/// band, and the month at the run's rate.
fn traffic_fit(page: &mut String, t: &models::projection::CostVsTraffic) {
    let per_day = |p: &models::projection::CostAtRate| {
        p.journeys_per_day
            .iter()
            .filter(|(_, n)| **n > 0.0)
            .map(|(j, n)| format!("{} {}", escape(j), numbers::count(n.round() as u64)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        page,
        "<p>At the run's rate, {}/s, a month costs {}.",
        numbers::decimal(t.run_rate_per_s),
        t.points
            .iter()
            .find(|p| (p.rate_per_s - t.run_rate_per_s).abs() <= 1e-9 * t.run_rate_per_s)
            .map_or_else(|| "?".to_string(), |p| numbers::usd(p.monthly_usd))
    );
    if let Some(b) = &t.band {
        let _ = write!(
            page,
            " The month reaches {} at {}/s",
            numbers::usd(b.low_usd),
            numbers::decimal(b.from.rate_per_s)
        );
        match &b.to {
            Some(to) => {
                let _ = write!(
                    page,
                    " and stays within {} up to {}/s (journeys a day there: {})",
                    numbers::usd(b.high_usd),
                    numbers::decimal(to.rate_per_s),
                    per_day(to)
                );
            }
            None => {
                let _ = write!(
                    page,
                    "; no traffic keeps it within {}: the capacity alone costs more",
                    numbers::usd(b.high_usd)
                );
            }
        }
        page.push('.');
    }
    page.push_str("</p>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traffic_that_fits_the_band_is_said() {
        use models::projection::{BandFit, CostAtRate, CostVsTraffic};
        let at = |rate: f64, month: f64| CostAtRate {
            rate_per_s: rate,
            monthly_usd: month,
            journeys_per_day: [("chat".to_string(), rate * 43_200.0)]
                .into_iter()
                .collect(),
            ..CostAtRate::default()
        };
        let t = CostVsTraffic {
            run_rate_per_s: 10.0,
            points: vec![at(1.0, 139.0), at(10.0, 141.79)],
            band: Some(BandFit {
                low_usd: 140.0,
                high_usd: 200.0,
                from: at(4.21, 140.0),
                to: Some(at(198.0, 200.0)),
            }),
            ..CostVsTraffic::default()
        };
        let mut page = String::new();
        traffic_fit(&mut page, &t);
        assert!(
            page.contains("At the run's rate, 10.0/s, a month costs $141.79."),
            "{page}"
        );
        assert!(page.contains("stays within $200.00 up to 198/s"), "{page}");
        assert!(page.contains("chat 8"), "{page}");
    }
    use crate::test_data::small_run;

    #[test]
    fn random_faults_and_the_cost_comparison_are_shown() {
        let (mut summary, timeline) = small_run("checkout");
        summary.recovery.random_faults = vec![models::summary::RandomFaultOutcome {
            fault: "primary_crash db".into(),
            mtbf_s: 3600.0,
            mttr_s: 360.0,
            occurrences: 913.0,
            occurrences_ci95: Some([905.0, 921.0]),
            expected_occurrences: 909.09,
            downtime_s: 0.0,
            availability: Some(0.90871),
            availability_ci95: Some([0.908, 0.9094]),
            expected_availability: Some(3600.0 / 3960.0),
        }];
        let breakdown = models::cost::CostBreakdown {
            total_usd: 1.0,
            monthly_usd: 730.0,
            items: [(
                "llm/claude".to_string(),
                models::cost::ItemCost {
                    total_usd: 1.0,
                    monthly_usd: 12_000.0,
                },
            )]
            .into_iter()
            .collect(),
            not_priced: Vec::new(),
        };
        let reference = models::projection::CostReference {
            low: 4300.0,
            high: 9600.0,
            source: "infrastructure-plan.md".into(),
            categories: Default::default(),
        };
        summary.cost = Some(billing::projection::project(
            &breakdown,
            0.5,
            Some(&reference),
        ));
        let page = report_html(&summary, &timeline, &[]);
        assert!(page.contains("Faults at random"));
        // 3600 / 3960 = 90.9091 %
        assert!(page.contains("90.9091 %"), "closed form shown");
        // 12000 x 0.5 = 6000: inside 4300-9600.
        assert!(
            page.contains("Projected $6,000.00 a month"),
            "projection shown"
        );
        assert!(page.contains("within it"));
        assert!(
            page.contains("50.0 % of the run"),
            "what the projection assumes"
        );
    }

    #[test]
    fn the_headline_says_what_happened_and_names_the_worst_journey() {
        let (mut summary, mut timeline) = small_run("checkout");
        summary.partial = false;
        // checkout: 6 of 12,000 failed (0.05 %), p95 412 ms, named by the missed p95 SLO.
        let text = headline(&summary, &timeline);
        assert_eq!(
            text,
            format!(
                "Completed and missed 2 of 4 SLOs (first: p95(checkout) < 300ms); the worst journey is checkout (p95 {} ms, {} errors).",
                numbers::ms(412.0),
                numbers::percent(0.0005)
            )
        );
        for v in &mut summary.slos {
            v.met = true;
        }
        summary.partial = true;
        timeline.trend = Some(models::trend::Trend {
            regressions: vec!["p95(checkout) ...".into()],
            ..Default::default()
        });
        let text = headline(&summary, &timeline);
        assert!(
            text.starts_with("Aborted: the run was interrupted, and what it measured until then met every SLO (4), with 1 regression against the last nights; the worst journey is checkout"),
            "{text}"
        );
        let page = report_html(&summary, &timeline, &[]);
        assert!(
            page.contains("<p class=\"headline\">Aborted: "),
            "first screen"
        );
    }

    #[test]
    fn escapes_a_script_in_the_scenario_name_and_slo_text() {
        let (mut summary, timeline) = small_run("<script>alert('x')</script>");
        summary.slos[0].name = "p95(<b>) < 300ms & more".into();
        let page = report_html(&summary, &timeline, &[]);
        assert!(!page.contains("<script"), "no script element at all");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("p95(&lt;b&gt;) &lt; 300ms &amp; more"));
    }

    #[test]
    fn streams_show_ttft_and_itl_with_the_prediction_beside() {
        let (mut summary, timeline) = small_run("chat");
        let page = report_html(&summary, &timeline, &[]);
        assert!(!page.contains("id=\"streams\""), "no stream, no section");
        let stats = |p50: f64, p95: f64, p99: f64| models::summary::LatencyStats {
            p50,
            p95,
            p99,
            ..Default::default()
        };
        let mut predicted = summary.clone();
        let j = &mut summary.journeys["checkout"];
        j.ttft_ms = Some(stats(510.0, 812.5, 1333.0));
        j.itl_ms = Some(stats(21.0, 24.5, 31.0));
        j.tokens = Some(123_456);
        let p = &mut predicted.journeys["checkout"];
        p.ttft_ms = Some(stats(500.0, 650.0, 900.0));
        p.itl_ms = Some(stats(20.0, 20.0, 20.0));
        summary.fidelity = Some(models::fidelity::Fidelity::compare(
            "simulation (in-process)",
            &predicted,
            &summary,
        ));
        let page = report_html(&summary, &timeline, &[]);
        assert!(page.contains("id=\"streams\"") && page.contains("href=\"#streams\""));
        let row = page
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "<tr><td class=\"name\">checkout</td><td class=\"num\">{}</td>",
                    numbers::count(123_456)
                ))
            })
            .expect("the checkout row of the streams table");
        for v in [510.0, 812.5, 1333.0, 21.0, 24.5, 31.0] {
            assert!(row.contains(&numbers::ms(v)), "{v} in {row}");
        }
        let section = &page[page.find("id=\"streams\"").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        assert!(
            section.contains(">checkout<") && !section.contains(">browse<"),
            "a journey without streams has no row"
        );
        // Predicted beside measured: TTFT p95 650 vs 812.5 is +25 %; the checkout rows span
        // the five latency rows and six stream rows.
        assert!(page.contains("rowspan=\"11\">checkout"));
        let ttft = page
            .lines()
            .find(|l| l.contains("<td>TTFT p95 (ms)</td>"))
            .expect("a TTFT row in the fidelity table");
        assert!(
            ttft.contains(&numbers::ms(650.0)) && ttft.contains("+25"),
            "{ttft}"
        );
    }

    #[test]
    fn shows_every_section_the_run_has() {
        let (summary, timeline) = small_run("checkout");
        let page = report_html(&summary, &timeline, &[]);
        for needle in [
            "id=\"slos\"",
            "id=\"journeys\"",
            "id=\"services\"",
            "id=\"cost\"",
            "id=\"recovery\"",
            "id=\"warnings\"",
            "id=\"events\"",
            "id=\"fidelity\"",
            "+37.3 %",
            "2 of 4 SLOs missed",
            "badge partial",
            "href=\"junit.xml\"",
        ] {
            assert!(page.contains(needle), "missing {needle}");
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing external"
        );
    }
}
