#!/usr/bin/env bash
# Benchmark of `twin load` as a load generator, beside `wrk` (Debian package `wrk`), in the same
# run against the same trivial local server (`twin emulate scenarios/examples/loopback-trivial.yaml`,
# 1 µs of service):
#   1. throughput: the requests/s wrk reaches (closed loop, 64 connections), and the highest
#      open-model rate `twin load` sustains (achieved >= 97 % of offered, median start lateness
#      under 5 ms), as a ratio;
#   2. added latency: `twin load`'s measured p50/p99 at a fixed moderate rate (200/s) minus the
#      round trip wrk measures on one connection (the server and the loopback alone).
# Usage: benches/load-vs-wrk.sh [SECONDS_PER_STEP]   (default 8). Not run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
STEP=${1:-8}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 2; }
# TWIN=path/to/twin uses that binary; otherwise the release build of this tree.
if [ -z "${TWIN:-}" ]; then
  cargo build --release --quiet
  TWIN=${CARGO_TARGET_DIR:-target}/release/twin
fi
SCEN=scenarios/examples/loopback-trivial.yaml
WORK=$(mktemp -d)
"$TWIN" emulate "$SCEN" --listen 127.0.0.1:0 > "$WORK/emulate.out" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null; wait $EMU 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do grep -q 'http://' "$WORK/emulate.out" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/emulate.out")
echo "server: twin emulate $SCEN at $URL; $(nproc) cores; load generator and server share them"

# 1. wrk, closed loop.
WRK=$(wrk -t1 -c64 -d${STEP}s "$URL/echo" | awk '/Requests\/sec/ {print $2}')
WRK1=$(wrk -t1 -c1 -d${STEP}s --latency "$URL/echo")
RTT_US=$(echo "$WRK1" | awk '/^ +50%/ {v=$2; if (v ~ /us$/) {sub("us","",v); print v} else if (v ~ /ms$/) {sub("ms","",v); print v*1000}}')
echo "wrk -c64: ${WRK} req/s; wrk -c1 p50 round trip: ${RTT_US} us"

# 2. twin load, open model, increasing rates until it cannot keep up.
best=0
for rate in 500 1000 2000 4000 8000 16000 32000; do
  out="$WORK/load-$rate"
  "$TWIN" load "$SCEN" --target "$URL" --duration ${STEP}s --no-predict --users 256 \
    --set "workload.arrivals={constant: {rate: $rate/s}}" --out "$out" > "$out.log" 2>&1 || true
  [ -f "$out/summary.json" ] || { echo "rate $rate: no summary"; break; }
  read -r achieved late p50 <<<"$(python3 - "$out" "$STEP" <<'PY'
import json, sys
d, step = sys.argv[1], float(sys.argv[2])
s = json.load(open(d + "/summary.json")); l = json.load(open(d + "/load.json"))
j = s["journeys"]["get"]
print(j["count"] / step, l["late_starts"] / max(j["count"], 1), j["latency_ms"]["p50"])
PY
)"
  ok=$(python3 -c "print(int($achieved >= 0.97*$rate and $late < 0.5))")
  printf 'twin load at %6d/s: achieved %8.0f/s, late starts %5.1f%%, p50 %.2f ms %s\n' "$rate" "$achieved" "$(python3 -c "print($late*100)")" "$p50" "$([ "$ok" = 1 ] && echo ok || echo 'cannot keep up')"
  [ "$ok" = 1 ] && best=$achieved || break
done
python3 -c "print(f'throughput: twin load sustains {float($best):.0f} req/s, wrk {float($WRK):.0f} req/s: ratio {float($best)/float($WRK):.2f}')"

# 3. Added latency at a fixed moderate rate.
out="$WORK/load-200"
"$TWIN" load "$SCEN" --target "$URL" --duration ${STEP}s --no-predict --out "$out" > "$out.log" 2>&1 || true
python3 - "$out" "$RTT_US" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json")); l = json.load(open(sys.argv[1] + "/load.json"))
lat = s["journeys"]["get"]["latency_ms"]; ttfb = l["steps"]["get/0 echo"]["ttfb_ms"]
rtt = float(sys.argv[2]) / 1000
print(f"added latency at 200/s: twin load p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms, "
      f"wrk round trip p50 {rtt:.3f} ms: twin load adds {lat['p50'] - rtt:.3f} ms at p50 "
      f"(time to first byte p50 {ttfb['p50']:.3f} ms; the rest is reading the body, recording and waking the user)")
PY
