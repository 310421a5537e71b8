#!/usr/bin/env bash
# Whole-process wall time of `lab check-history` against Porcupine's CheckEvents on
# Porcupine's KV histories, side by side on this machine, with hyperfine: on every
# core (lab's default jobs, Go's default GOMAXPROCS) and on one (taskset -c 0, which
# both honour: lab's default jobs is the affinity's core count).
#
# Usage: scripts/checker-vs-porcupine.sh PORCUPINE_CMD [RUNS] [HISTORY...]
#   PORCUPINE_CMD  a program, built outside this repository, that reads the history
#                  file given as its one argument with parseKvLog from Porcupine's
#                  porcupine_test.go, runs porcupine.CheckEvents(kvModel, events)
#                  and prints the verdict (raftlab ships no Go code).
#   RUNS           runs per command (default 30).
#   HISTORY        names under linearizability/testdata/porcupine/kv (default
#                  c50-ok c10-ok c50-bad).
# Needs: hyperfine, taskset (util-linux), cargo. Installs nothing. Builds lab in
# release mode (into $CARGO_TARGET_DIR if set).
set -euo pipefail
cd "$(dirname "$0")/.."
porcupine="${1:?usage: $0 PORCUPINE_CMD [RUNS] [HISTORY...]}"
runs="${2:-30}"
shift $(($# < 2 ? $# : 2))
histories=(c50-ok c10-ok c50-bad)
[ "$#" -gt 0 ] && histories=("$@")
for tool in hyperfine taskset cargo; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
cargo build --release -q -p lab
lab="${CARGO_TARGET_DIR:-target}/release/lab"
for h in "${histories[@]}"; do
  file="linearizability/testdata/porcupine/kv/$h.txt"
  for pin in "" "taskset -c 0 "; do
    echo "== $h ${pin:+(one core)}"
    # -i: a non-linearizable history exits 1 from lab; that is its verdict.
    hyperfine -N -i -w 3 -r "$runs" \
      "$pin$porcupine $file" "$pin$lab check-history $file --model kv"
  done
done
