#!/usr/bin/env bash
# KV throughput in simulated terms: ops committed per virtual second and RPCs
# per committed op, for 1, 15 and 100 clients on 3 and 5 servers.
# Usage: scripts/kv-bench.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p tests --example kv_throughput -- "${1:-1}"
