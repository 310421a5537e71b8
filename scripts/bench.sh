#!/usr/bin/env bash
# Wall time of the graded Raft suite, one seed per test, on one thread, in release
# mode: per part and in total. Usage: scripts/bench.sh [SEED] [PEER]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-1}"
peer="${2:-reference}"
cargo build --release -q -p lab
lab=target/release/lab
total_start=$(date +%s%N)
for part in 3A 3B 3C 3D 3E; do
  start=$(date +%s%N)
  out=$($lab grade --peer "$peer" --part "$part" --seeds "$seed" --jobs 1 2>/dev/null) || true
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf "part %s: %s in %d.%03d s\n" "$part" "$(echo "$out" | tail -1)" $((ms / 1000)) $((ms % 1000))
done
total_end=$(date +%s%N)
ms=$(( (total_end - total_start) / 1000000 ))
printf "total:    %d.%03d s\n" $((ms / 1000)) $((ms % 1000))
