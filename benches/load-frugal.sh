#!/usr/bin/env bash
# Benchmark of the load generator's own cost and timing (issue #15), on one loopback target
# (`twin emulate scenarios/examples/loopback-trivial.yaml`, 1 us of service):
#   - `twin load` at 200/s, 2,000/s and the highest rate it sustains: CPU per request (its
#     getrusage over the run, `load.cpu_us_per_request` of summary.json) and the lateness of
#     journey starts behind their schedule (`load.lateness_ms`);
#   - raw goose (harness/examples/raw_goose.rs: goose alone, throttled to the same rate) and
#     wrk (closed loop, 64 connections: its maximum; plain wrk cannot hold a rate) on the same
#     target, CPU per request from getrusage of the child;
#   - `twin emulate`'s own timer: lateness of its service-time waits (a 2 ms service) from
#     `/__twin/stats`.
# Usage: benches/load-frugal.sh [SECONDS_PER_STEP] (default 10). Not run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
STEP=${1:-10}
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk >/dev/null 2>&1 || true
fi
if [ -z "${TWIN:-}" ]; then
  cargo build --release --quiet
  TWIN=${CARGO_TARGET_DIR:-target}/release/twin
fi
cargo build --release --quiet -p harness --example raw_goose
GOOSE=${CARGO_TARGET_DIR:-target}/release/examples/raw_goose
SCEN=scenarios/examples/loopback-trivial.yaml
WORK=$(mktemp -d)
start_emulator() { # scenario, output file; prints the URL
  "$TWIN" emulate "$1" --listen 127.0.0.1:0 > "$2" 2>&1 &
  echo $! > "$2.pid"
  for _ in $(seq 100); do grep -q 'http://' "$2" && break; sleep 0.1; done
  grep -o 'http://[0-9.:]*' "$2"
}
URL=$(start_emulator "$SCEN" "$WORK/emu.out")
trap 'kill $(cat "$WORK"/*.pid) 2>/dev/null; rm -rf "$WORK"' EXIT
echo "target: twin emulate $SCEN at $URL; $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
cpu_of() { python3 -c 'import resource,subprocess,sys
p=subprocess.run(sys.argv[1:],capture_output=True,text=True)
r=resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime+r.ru_stime); sys.stdout.write(p.stdout)' "$@"; }

twin_load() { # rate; prints "achieved cpu_us lat_p50 lat_p99 lat_max"
  local out="$WORK/load-$1"
  "$TWIN" load "$SCEN" --target "$URL" --duration "${STEP}s" --no-predict --users 512 \
    --set "workload.arrivals={constant: {rate: $1/s}}" --out "$out" > "$out.log" 2>&1 || true
  python3 - "$out" "$STEP" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json")); l = s["load"]
lat = l["lateness_ms"]
print(s["journeys"]["get"]["count"] / float(sys.argv[2]), l["cpu_us_per_request"],
      lat["p50"], lat["p99"], lat["max"])
PY
}
raw_goose() { # rate
  cpu_of "$GOOSE" "$URL" /echo "$1" "$STEP" 64 | python3 -c "
import sys; cpu=float(sys.stdin.readline()); f=sys.stdin.readline().split()
n=int(f[1]); print(f'{n/$STEP:.0f} {cpu*1e6/max(n,1):.1f}')"
}

printf '%-28s %10s %12s %12s %12s %12s\n' "generator at rate" "achieved/s" "CPU us/req" "late p50 ms" "late p99 ms" "late max ms"
for rate in 200 2000; do
  read -r ach cpu p50 p99 mx <<<"$(twin_load $rate)"
  printf '%-28s %10.0f %12.1f %12.3f %12.3f %12.3f\n' "twin load $rate/s" "$ach" "$cpu" "$p50" "$p99" "$mx"
  read -r gach gcpu <<<"$(raw_goose $rate)"
  printf '%-28s %10.0f %12.1f %12s %12s %12s\n' "raw goose $rate/s" "$gach" "$gcpu" - - -
done
best=""
for rate in 4000 8000 16000 32000; do
  read -r ach cpu p50 p99 mx <<<"$(twin_load $rate)"
  ok=$(python3 -c "print(int($ach >= 0.97*$rate and $p99 < 5))")
  printf '%-28s %10.0f %12.1f %12.3f %12.3f %12.3f %s\n' "twin load $rate/s" "$ach" "$cpu" "$p50" "$p99" "$mx" "$([ "$ok" = 1 ] && echo ok || echo 'cannot keep up')"
  [ "$ok" = 1 ] || break
  best=$rate
done
echo "twin load sustains ${best:-<4000}/s (achieved >= 97 %, lateness p99 < 5 ms)"
read -r gach gcpu <<<"$(raw_goose 1000000)"
printf '%-28s %10.0f %12.1f\n' "raw goose max (64 users)" "$gach" "$gcpu"
if command -v wrk >/dev/null; then
  cpu_of wrk -t1 -c64 -d${STEP}s "$URL/echo" > "$WORK/wrk.out"
  python3 - "$WORK/wrk.out" "$STEP" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(); cpu = float(lines[0])
n = next(int(l.split()[0]) for l in lines if "requests in" in l)
print(f"{'wrk max (-c64)':<28} {n/float(sys.argv[2]):10.0f} {cpu*1e6/n:12.1f}")
PY
else
  echo "wrk: not installed (apt-get install wrk)"
fi

# The emulator's timer: a 2 ms service time, 500/s for STEP seconds.
sed 's/constant: 1us/constant: 2ms/' "$SCEN" > "$WORK/svc2ms.yaml"
URL2=$(start_emulator "$WORK/svc2ms.yaml" "$WORK/emu2.out")
"$TWIN" load "$WORK/svc2ms.yaml" --target "$URL2" --duration "${STEP}s" --no-predict \
  --set "workload.arrivals={constant: {rate: 500/s}}" --out "$WORK/l2" > /dev/null 2>&1 || true
curl -s "$URL2/__twin/stats" | python3 -c '
import json, sys
t = json.load(sys.stdin)["timer"]; l = t["lateness_ms"]
print("twin emulate (2 ms service, 500/s): %d waits, lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms; CPU %.2f s"
      % (l["count"], l["p50"], l["p99"], l["max"], t["cpu_s"]))'
