#!/usr/bin/env bash
# A campaign for a time budget: explores seeds of a scenario until the budget
# is spent and leaves failing seeds in the corpus.
# Usage: scripts/fuzz.sh [BUDGET (e.g. 10m)] [SCENARIO] [FIRST_SEED] [SHARD I/N]
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-5m}"
scenario="${2:-kv-nemesis}"
shard=()
if [ -n "${4:-}" ]; then
  # Machines that split one campaign must agree on its seeds: a first seed
  # from each one's clock would overlap or leave gaps.
  if [ -z "${3:-}" ]; then
    echo "fuzz.sh: a shard ($4) needs FIRST_SEED, the same on every machine" >&2
    exit 2
  fi
  shard=(--shard "$4")
fi
first="${3:-$(date +%s)}"
cargo build --release -q -p lab
# (${shard[@]+...}: an empty array under `set -u` in bash before 4.4.)
exec target/release/lab explore "$scenario" --seeds "$first..$((first + 100000000))" \
  --time-budget "$budget" --corpus lab-out/corpus.jsonl ${shard[@]+"${shard[@]}"}
