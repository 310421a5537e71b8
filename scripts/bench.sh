#!/usr/bin/env bash
# Wall time of the graded Raft suite, one seed per test, in release mode:
# per part and in total. Usage: scripts/bench.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-1}"
cargo build --release -q -p lab
lab=target/release/lab
total_start=$(date +%s%N)
for part in A B C D; do
  tests=$($lab list | awk -v p="part $part " '$0 ~ "^Graded tests, "p {on=1; next} /^$/ {on=0} on && NF {print $1}')
  start=$(date +%s%N)
  for t in $tests; do
    $lab run "$t" --seeds "$seed" --jobs 1 > /dev/null 2>&1 || { echo "FAILED: $t seed $seed"; exit 1; }
  done
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf "part %s: %2d tests in %d.%03d s\n" "$part" "$(echo "$tests" | wc -w)" $((ms / 1000)) $((ms % 1000))
done
total_end=$(date +%s%N)
ms=$(( (total_end - total_start) / 1000000 ))
printf "total:           %d.%03d s\n" $((ms / 1000)) $((ms % 1000))
