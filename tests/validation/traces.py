#!/usr/bin/env python3
"""The trace-driven example: Kinto traced by OpenTelemetry's own instrumentation
(otel_gunicorn.py: the Pyramid requests and SQLAlchemy's PostgreSQL queries, written to files as
OTLP JSON lines), calibrated three ways from the same low-load runs, each calibration's
predictions checked against measurements of the same traced deployment:

- `load`: `twin calibrate --from RUNS` (the client's latency, the server's time and CPU
  scraped as observer series), as run.py does;
- `traces`: `twin calibrate --traces FILES` alone (the spans' server-side time; no CPU seen,
  so all of it is taken as CPU);
- `traces+cpu`: `--traces FILES --from RUNS` (the spans' times, the runs' CPU series to split
  CPU from waiting).

    python3 tests/validation/traces.py --twin target/release/twin --out DIR [--repeats N]

Writes traces.md (the fits side by side, the call graph the traces show, and the predictions
against the measurements) and traces.json. Exit 77 when the application cannot be installed.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from kinto_app import log, trace_files
from run import ENDPOINTS, HERE, Suite, estimated_capacity, loadavg, machine_line, measure

SOURCES = ["load", "traces", "traces+cpu"]
UTILISATIONS = [0.3, 0.6]
FITTED = re.compile(r"^  (service \S+|step \S+ \S+) (cpu|service_time): (.*)$")


def fitted_lines(text):
    """`twin calibrate`'s `fitted:` lines: key (`cpu`, `service_time`) -> (value, the comment
    under it). The validation scenarios have one service and no step overrides."""
    out, lines = {}, text.splitlines()
    for i, line in enumerate(lines):
        m = FITTED.match(line)
        if m:
            comment = lines[i + 1].strip().lstrip("# ") if i + 1 < len(lines) else ""
            out[m.group(2)] = (m.group(3), comment)
    return out


def mean_ms(value, folder):
    """The mean of a fitted value in ms: a law (`{lognormal: {mean: 4.1ms, cv: 0.4}}`), an
    empirical sample (the mean of its CSV of quantiles in ms, beside the scenario), or 0."""
    m = re.search(r"mean: ([0-9.]+)(ms|s|us)", value)
    if m:
        return float(m.group(1)) * {"ms": 1.0, "s": 1e3, "us": 1e-3}[m.group(2)]
    m = re.search(r"file: ([^}\s]+)", value)
    if m:
        lines = (folder / m.group(1)).read_text().splitlines()
        values = [float(x) for x in lines if x[:1].isdigit()]
        return statistics.fmean(values)
    return 0.0 if "constant: 0s" in value else None


def fit_cell(fit, folder):
    """`mean ms (law)` of a fitted (value, comment), `-` when not fitted."""
    value, _ = fit
    if value == "-":
        return "-"
    family = re.match(r"\{(\w+)", value)
    mean = mean_ms(value, folder)
    mean = "?" if mean is None else f"{mean:.2f}"
    return f"{mean} ({family.group(1) if family else value})"


class TracedSuite(Suite):
    def traced_calibrations(self, endpoint):
        """Calibrates `endpoint` from load runs (Suite.calibrate) while the traced app writes
        spans, then from the spans alone and from spans plus the runs' CPU."""
        prefix = self.out / "spans" / endpoint / "kinto"
        prefix.parent.mkdir(parents=True, exist_ok=True)
        self.app.traces = prefix
        self.app.restart(2)
        first = len(self.runs)
        calibrated, low, cpu_s = self.calibrate(endpoint)
        # The spans written so far: stop the workers so their batches are flushed.
        self.app.traces = self.out / "spans" / endpoint / "measure"
        self.app.restart(2)
        files = trace_files(prefix)
        if not files:
            raise RuntimeError(f"{endpoint}: the traced workers wrote no spans under {prefix.parent}")
        names = [r["name"] for r in self.runs[first:]]
        last = max(int(n.split("-")[2]) for n in names)
        runs = [r["dir"] for r in self.runs[first:] if int(r["name"].split("-")[2]) == last]
        scenario = HERE / f"{endpoint}.yaml"
        out = {"load": (calibrated, (self.out / f"{endpoint}.calibrate.txt").read_text())}
        for source, args in [("traces", ["--traces", *map(str, files)]),
                             ("traces+cpu", ["--traces", *map(str, files), "--from", *runs])]:
            path = self.out / f"{endpoint}.{source.replace('+', '-')}.yaml"
            r = subprocess.run([self.twin, "calibrate", str(scenario), *args, "--out", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"twin calibrate ({source}) exited {r.returncode}:\n{r.stderr}")
            (self.out / f"{endpoint}.calibrate-{source.replace('+', '-')}.txt").write_text(r.stderr)
            out[source] = (path, r.stderr)
        spans = sum(1 for f in files for _ in open(f))
        log(f"{endpoint}: {len(files)} span files, {spans} export batches")
        return out, low, cpu_s, files

    def run_traced(self):
        self.capacity, self.failures, report = {}, [], {}
        for endpoint in self.args.endpoints:
            cals, low, cpu_s, files = self.traced_calibrations(endpoint)
            capacity = estimated_capacity(low, cpu_s, 2)
            journey = ENDPOINTS[endpoint]
            scenario = HERE / f"{endpoint}.yaml"
            fits = {s: fitted_lines(text) for s, (_, text) in cals.items()}
            graph = [line.strip() for line in cals["traces"][1].splitlines()
                     if "->" in line or "visits" in line or ("%" in line and line.startswith("  "))]
            rows = []
            for u in UTILISATIONS:
                rps = u * capacity
                predicted = {}
                for source, (path, _) in cals.items():
                    s = self.simulate(path, f"{endpoint}-{source}-u{round(u * 100)}", rps)
                    predicted[source] = s["journeys"][journey]["latency_ms"]
                ms = []
                for k in range(self.args.repeats):
                    run = self.load(scenario, f"{endpoint}-traced-u{round(u * 100)}-{k}", rps,
                                    self.args.duration, 5)
                    ms.append(json.loads((run / "summary.json").read_text())["journeys"][journey]["latency_ms"])
                rows.append({"utilisation": u, "rate_rps": rps, "predicted": predicted,
                             "measured": ms, "loadavg": loadavg()})
            report[endpoint] = {"capacity_rps": capacity, "fits": fits, "graph": graph,
                                "rows": rows, "span_files": [str(f) for f in files]}
            self.write_report(report)
        print((self.out / "traces.md").read_text())

    def report_again(self):
        """traces.md rewritten from traces.json (`--report-only`)."""
        self.write_report(json.loads((self.out / "traces.json").read_text()))
        print((self.out / "traces.md").read_text())

    def write_report(self, report):
        (self.out / "traces.json").write_text(json.dumps(report, indent=1))
        md = [f"Measured on {machine_line()}, Kinto traced by OpenTelemetry (Pyramid and "
              "SQLAlchemy instrumentation, OTLP JSON lines), gunicorn 2 workers and PostgreSQL on "
              "core 1, `twin load` on core 0.", ""]
        for endpoint, r in report.items():
            md += [f"**{endpoint}**: the fits (mean ms, family; what `twin calibrate` wrote "
                   "beside the CPU)", "",
                   "| calibrated from | cpu | service_time | beside the CPU |", "|---|---|---|---|"]
            for source in SOURCES:
                f = r["fits"].get(source, {})
                cpu, st = f.get("cpu", ("-", "")), f.get("service_time", ("-", ""))
                why = cpu[1].split(": ", 1)[-1]
                md.append(f"| {source} | {fit_cell(cpu, self.out)} | {fit_cell(st, self.out)} | {why} |")
            md += ["", "The call graph the traces show:", "", "```", *r["graph"], "```", "",
                   "| utilisation | rate/s | measured p50 / p95 / p99 ms (spread of p95) | "
                   + " | ".join(f"p95 from {s} (error)" for s in SOURCES) + " |",
                   "|---|---|---|" + "---|" * len(SOURCES)]
            for row in r["rows"]:
                p95s = [m["p95"] for m in row["measured"]]
                mean95 = statistics.fmean(p95s)
                spread = (max(p95s) - min(p95s)) / mean95 * 100
                meas = " / ".join(f"{statistics.fmean(m[q] for m in row['measured']):.1f}"
                                  for q in ["p50", "p95", "p99"])
                cells = [f"{row['predicted'][s]['p95']:.1f} ({(row['predicted'][s]['p95'] - mean95) / mean95 * 100:+.0f} %)"
                         for s in SOURCES]
                md.append(f"| {row['utilisation'] * 100:.0f} % | {row['rate_rps']:.1f} | {meas} "
                          f"(±{spread:.0f} %) | " + " | ".join(cells) + " |")
            md.append("")
        (self.out / "traces.md").write_text("\n".join(md))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--twin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--duration", type=int, default=40)
    p.add_argument("--endpoints", nargs="+", default=list(ENDPOINTS), choices=list(ENDPOINTS))
    p.add_argument("--report-only", action="store_true",
                   help="rewrite traces.md from the --out folder's traces.json")
    args = p.parse_args()
    args.reuse, args.short, args.only = None, False, []
    out = Path(args.out).resolve()
    if args.report_only:
        TracedSuite(args, None).report_again()
        return 0
    return measure(args, lambda app: TracedSuite(args, app).run_traced(),
                   traces=out / "spans" / "warm" / "kinto")


if __name__ == "__main__":
    sys.exit(main())
