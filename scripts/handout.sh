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
#                                     every test must fail cleanly, and the unit tests of
#                                     the lab's crates must pass (CI runs this)
#   HANDOUT_TARGET_DIR=T scripts/handout.sh DIR --check
#                                     ... built in T, not target/handout (see below)
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
git ls-files -z | grep -zvE '^(raft|kvraft|raftrs|shardctrler|shardkv|\.ci|\.github|tests/corpus)/' | xargs -0 cp --parents -t "$out"
find "$out" -name Cargo.toml -exec sed -i \
  -e 's/^reference = \[.*# reference-solution$/reference = []/' \
  -e '/# reference-solution/d' {} +
if grep -rqE '^\s*(raft|kvraft|raftrs|shardctrler|shardkv)\b' --include=Cargo.toml "$out"; then
  echo "handout: a Cargo.toml still names the reference solution:" >&2
  grep -rnE '^\s*(raft|kvraft|raftrs|shardctrler|shardkv)\b' --include=Cargo.toml "$out" >&2
  exit 1
fi
# The repository's README is written for the reference: it becomes LAB.md, and the
# handout opens with a README of its own. The regression corpus (failures of the
# reference) stays out, and the grading benchmark grades the student by default.
mv "$out/README.md" "$out/LAB.md"
cat > "$out/README.md" <<'README'
# raftlab: your Raft, graded

This is the student handout of raftlab: the lab (a deterministic simulator of networks,
disks and clocks, the graded suites of MIT 6.824's labs 3 to 5, and the `lab` tool) without
the reference solution. Your code goes in `student/`: start with `student/README.md`.

```sh
cargo run --release -p lab -- grade --peer student --part 3A   # grade part 3A (all parts: no --part)
cargo test --workspace                                          # the graded suites as cargo tests
```

On the untouched skeleton both fail every graded test: that is where you start. `cargo test`
runs the same graded suites as `lab grade` (beside the unit tests of the lab's crates, which
pass), so it passes once every part does; `lab grade` prints a table per part. The first
build takes a few minutes.

`LAB.md` is the lab's whole guide, written for the repository with the reference solution:
its commands that name the peers `reference` or `raft-rs`, the mutants, the regression
corpus or the test-only scenarios need it and do not work here; the rest (replay, traces,
pictures, explore, shrink, check-determinism, with `--peer student`) does.
README
sed -i 's/peer="${2:-reference}"/peer="${2:-student}"/' "$out/scripts/bench.sh"
echo "handout: written to $out (no raft/, kvraft/, raftrs/, shardctrler/ or shardkv/)"
[ "$check" = --check ] || exit 0

# Build the handout and grade the untouched skeleton. By default in a target directory
# of its own: sharing this checkout's would overwrite its `lab` binary with the
# handout's. HANDOUT_TARGET_DIR names another: CI, which needs that binary no more,
# names its own, so the registry's crates are not compiled twice (the handout's crates
# are new units beside this checkout's, whatever the directory).
cd "$out"
export CARGO_TARGET_DIR="${HANDOUT_TARGET_DIR:-$top/target/handout}"
# The test profile, as `cargo test` below: the two share every library they build.
cargo build --profile test -p lab --quiet
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
# The unit tests of the lab's crates pass without the reference (the graded suites,
# cargo's integration tests here, fail on the skeleton as grading just showed).
cargo test --workspace --lib --bins --quiet > unit.out 2>&1 || {
  tail -30 unit.out >&2
  echo "handout: the lab's unit tests fail without the reference solution" >&2
  exit 1
}
grep -E '^test result' unit.out | tail -3
echo "handout: builds, grades the skeleton and passes its unit tests without the reference solution"
