#!/usr/bin/env bash
# A campaign for a time budget: explores seeds of a scenario until the budget
# is spent and leaves failing seeds in the corpus.
# Usage: scripts/fuzz.sh [BUDGET (e.g. 10m)] [SCENARIO] [FIRST_SEED] [SHARD I/N]
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-5m}"
scenario="${2:-kv-nemesis}"
first="${3:-$(date +%s)}"
shard=()
if [ -n "${4:-}" ]; then shard=(--shard "$4"); fi
cargo build --release -q -p lab
exec target/release/lab explore "$scenario" --seeds "$first..$((first + 100000000))" \
  --time-budget "$budget" --corpus lab-out/corpus.jsonl "${shard[@]}"
