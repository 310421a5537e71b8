#!/usr/bin/env bash
# Replays a corpus of failures (JSON lines: scenario, seed, schedule), or one
# line of it, with the current code. Each must pass now.
# Usage: scripts/replay.sh [CORPUS (default lab-out/corpus.jsonl)] [LINE]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-lab-out/corpus.jsonl}"
line=()
if [ -n "${2:-}" ]; then line=(--line "$2"); fi
cargo build --release -q -p lab
exec target/release/lab corpus "$corpus" "${line[@]}"
