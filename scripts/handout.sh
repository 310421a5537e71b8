#!/usr/bin/env bash
# Writes the student handout of the lab into DIR: the repository without the reference
# solution (raft/, kvraft/), without raft-rs's adapter (it runs with the reference KV
# server) and without this repository's CI (.ci/, .github/: they test the reference).
# Every Cargo.toml line marked `reference-solution` goes, and the tests crate's
# `reference` feature is left empty; in the copy the default peer is `student` and
# `lab grade` grades the skeleton in student/.
#
#   scripts/handout.sh DIR            write the handout (DIR must not exist)
#   scripts/handout.sh DIR --check    ... then build it and grade the untouched skeleton:
#                                     every test must fail cleanly (CI runs this)
set -euo pipefail
usage() { echo "usage: scripts/handout.sh DIR [--check]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
check=${2:-}
[ -z "$check" ] || [ "$check" = --check ] || usage
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$out" ]; then
  echo "handout: $out already exists; name a new directory" >&2
  exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

cd "$top"
git ls-files -z | grep -zvE '^(raft|kvraft|raftrs|shardctrler|shardkv|\.ci|\.github)/' | xargs -0 cp --parents -t "$out"
find "$out" -name Cargo.toml -exec sed -i \
  -e 's/^reference = \[.*# reference-solution$/reference = []/' \
  -e '/# reference-solution/d' {} +
if grep -rqE '^\s*(raft|kvraft|raftrs|shardctrler|shardkv)\b' --include=Cargo.toml "$out"; then
  echo "handout: a Cargo.toml still names the reference solution:" >&2
  grep -rnE '^\s*(raft|kvraft|raftrs|shardctrler|shardkv)\b' --include=Cargo.toml "$out" >&2
  exit 1
fi
echo "handout: written to $out (no raft/, kvraft/, raftrs/, shardctrler/ or shardkv/)"
[ "$check" = --check ] || exit 0

# Build the handout in a target directory of its own (sharing this checkout's would
# overwrite its `lab` binary with the handout's) and grade the untouched skeleton.
cd "$out"
export CARGO_TARGET_DIR="$top/target/handout"
cargo build -p lab --quiet
lab="$CARGO_TARGET_DIR/debug/lab"
peers=$("$lab" list --peers)
echo "$peers"
if echo "$peers" | grep -qE '^\s+(reference|raft-rs)\b'; then
  echo "handout: the reference is still listed as a peer" >&2
  exit 1
fi
set +e
"$lab" grade --seeds 1 > grade.out 2>&1
status=$?
set -e
tail -9 grade.out
if [ $status -ne 1 ] || ! tail -1 grade.out | grep -qx '0 passed, 78 failed'; then
  echo "handout: grading the skeleton should fail all 78 tests cleanly (exit $status)" >&2
  exit 1
fi
if grep -q 'panicked' grade.out; then
  echo "handout: the harness panicked on the skeleton" >&2
  exit 1
fi
echo "handout: builds and grades without the reference solution"
