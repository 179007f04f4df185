#!/usr/bin/env bash
# Capacity-planning sweep throughput: grid points per minute of `twin sweep` on a small M/M/c
# grid (scenarios/examples/sweep-mmc.yaml, 4 replica counts x 3 arrival rates = 12 points, each
# with its replications), on 1 thread, 2 threads and every core; and the speed-up over 1 thread.
# Also compares nesting each point's replications on rayon's pool (the default) with running
# them one after another on the point's thread (--sequential-replications).
#
#   benches/sweep-scaling.sh            # uses target/release/twin, building it if needed
#   TWIN=path/to/twin HORIZON=20m REPLICATIONS=4 benches/sweep-scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
TWIN="${TWIN:-$target/release/twin}"
if [ ! -x "$TWIN" ]; then
  cargo build --release --bin twin >&2
fi
HORIZON="${HORIZON:-10m}"
REPLICATIONS="${REPLICATIONS:-4}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cores="$(nproc)"

run() { # threads, extra args...
  local threads="$1"; shift
  local start end
  start="$(date +%s.%N)"
  RAYON_NUM_THREADS="$threads" "$TWIN" sweep scenarios/examples/sweep-mmc.yaml \
    --vary services.api.replicas=3,4,5,6 \
    --vary workload.arrivals.poisson.rate=16/s,20/s,24/s \
    --horizon "$HORIZON" --replications "$REPLICATIONS" \
    --out "$out/t$threads" "$@" >/dev/null 2>&1 || [ $? -eq 1 ]
  end="$(date +%s.%N)"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

row() { # label, seconds, seconds on 1 thread
  awk -v l="$1" -v t="$2" -v t1="$3" -v n="$points" \
    'BEGIN { printf "%-38s %9.2f %14.1f %9.2f\n", l, t, n * 60 / t, t1 / t }'
}

points=12
echo "grid: $points points x $REPLICATIONS replications, horizon $HORIZON, $cores core(s)"
printf '%-38s %9s %14s %9s\n' "configuration" "wall s" "points/min" "speed-up"
t1="$(run 1)"
row "1 thread" "$t1" "$t1"
threads_list=2
if [ "$cores" -gt 2 ]; then threads_list="2 $cores"; fi
for threads in $threads_list; do
  row "$threads threads (nested replications)" "$(run "$threads")" "$t1"
  cp "$out/t$threads/sweep.json" "$out/sweep-$threads.json"
  row "$threads threads (sequential replications)" "$(run "$threads" --sequential-replications)" "$t1"
done
if ! cmp -s "$out/t1/sweep.json" "$out/sweep-2.json"; then
  echo "sweep.json differs between 1 and 2 threads" >&2
  exit 1
fi
echo "sweep.json identical on 1 and 2 threads"
