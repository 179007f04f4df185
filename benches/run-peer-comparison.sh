#!/usr/bin/env bash
# Speed of `twin simulate` beside SimPy 4 on the same M/M/c model, as whole processes on one
# core, in the same session; then the memory of `twin simulate` as the horizon grows.
#
#   1. M/M/10 at utilisation 0.9 (Poisson arrivals 90/s, one FIFO queue, 10 servers, exponential
#      service of mean 100 ms), CUSTOMERS customers (default 1,000,000): `twin simulate` (one
#      replication, no warm-up) and benches/peers/mmc_simpy.py, both pinned to one core with
#      taskset; customers/s of each whole process (start-up included) and the ratio, by wall time
#      and by CPU time (user + system: the fair figure when the machine is shared).
#   2. Max RSS (/usr/bin/time -v) of `twin simulate` on the same model at horizons 10m, 1h, 4h
#      (one replication, report written): memory must stay flat (HDR histograms, no per-request
#      logs).
#   3. Optionally (BENCH=1) `cargo bench -p sim --bench mmc`: the engine alone, events/s, and the
#      scaling of parallel replications over 1 and 2 threads.
#
# Usage: benches/run-peer-comparison.sh [CUSTOMERS] (default 3,000,000). Needs python3 with simpy (pip install simpy)
# and /usr/bin/time (apt-get install time). Not run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
python3 -c 'import simpy' 2>/dev/null || { echo "SimPy is not installed (pip install simpy)"; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed (apt-get install time)"; exit 2; }
cargo build --release --quiet --bin twin
TWIN=$CARGO_TARGET_DIR/release/twin
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

scenario() { # $1 horizon
  cat > "$WORK/mmc.yaml" <<EOF
name: mmc-peer
seed: 42
horizon: $1
replications: 1
services:
  api:
    replicas: 1
    concurrency: 10
    service_time: {exponential: {mean: 100ms}}
workload:
  arrivals: {poisson: {rate: 90/s}}
  journeys:
    - name: call
      steps: [{service: api}]
EOF
}

# Wall seconds, max RSS (KiB) and CPU seconds of a command, into WALL, RSS and CPU; its stdout
# into $WORK/stdout.
measure() {
  local status=0
  /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" > "$WORK/stdout" || status=$?
  local user sys
  read -r WALL RSS user sys < <(tail -1 "$WORK/time")
  CPU=$(python3 -c "print(round($user + $sys, 2))")
  return $status
}

echo "== 1. M/M/10, rho 0.9, $N customers, one core ($(nproc) on this machine, load $(cut -d' ' -f1 /proc/loadavg))"
HORIZON_S=$(python3 -c "import math; print(math.ceil($N / 90))")
scenario "${HORIZON_S}s"
# exit 0/1 are both a finished run (an SLO may be missed; this scenario has none).
measure "${PIN[@]}" "$TWIN" simulate "$WORK/mmc.yaml" --out "$WORK/run" || [ $? -eq 1 ]
TWIN_WALL=$WALL
TWIN_N=$(python3 -c "import json; print(json.load(open('$WORK/run/summary.json'))['journeys']['call']['count'])")
TWIN_CPU=$CPU
TWIN_CPS=$(python3 -c "print(round($TWIN_N / max($TWIN_WALL, 0.01)))")
echo "twin simulate: customers=$TWIN_N wall_s=$TWIN_WALL cpu_s=$TWIN_CPU (whole process, report written) customers_per_s=$TWIN_CPS"
measure "${PIN[@]}" python3 benches/peers/mmc_simpy.py "$N"
SIMPY_N=$(sed -n 's/.*customers=\([0-9]*\).*/\1/p' "$WORK/stdout")
SIMPY_CPS=$(python3 -c "print(round($SIMPY_N / max($WALL, 0.01)))")
echo "simpy 4:       customers=$SIMPY_N wall_s=$WALL cpu_s=$CPU (whole process) customers_per_s=$SIMPY_CPS"
python3 -c "print(f'ratio by wall time: twin / simpy = {$TWIN_CPS / $SIMPY_CPS:.1f}x customers per second (goal >= 80x)')"
python3 -c "print(f'ratio by CPU time:  twin / simpy = {($TWIN_N / max($TWIN_CPU, 0.01)) / ($SIMPY_N / max($CPU, 0.01)):.1f}x')"

echo
echo "== 2. max RSS of twin simulate (one replication, report written) as the horizon grows"
for h in 10m 1h 4h; do
  scenario "$h"
  measure "$TWIN" simulate "$WORK/mmc.yaml" --out "$WORK/run-$h" || [ $? -eq 1 ]
  n=$(python3 -c "import json; print(json.load(open('$WORK/run-$h/summary.json'))['journeys']['call']['count'])")
  printf 'horizon %-4s customers %9s  wall %6ss  max RSS %6d KiB\n' "$h" "$n" "$WALL" "$RSS"
done

if [ "${BENCH:-0}" = 1 ]; then
  echo
  echo "== 3. the engine alone: cargo bench -p sim --bench mmc"
  cargo bench --quiet -p sim --bench mmc -- "$((N * 5))" 8
fi
