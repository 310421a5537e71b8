#!/usr/bin/env bash
# The guide against uniform seeds on the mutant catalogue, cross-validated.
# Each mutant is hunted over the same seeds twice: uniform (`lab explore`) and
# guided (`lab explore --guided`) from a pool whose proven genomes were chosen
# by what they caught of the *other* half of the catalogue (lab/pools/folds/:
# odd.json was chosen on the 1st, 3rd, 5th... mutants of `lab mutants --list`
# and hunts the even ones; even.json the other way), so no mutant is measured
# from genomes chosen for catching it. Prints each mutant's failures per seed
# in both columns, then the median seeds per failure and the ratios.
# Usage: scripts/guided-vs-uniform.sh [SEEDS (default 0..200)]
# About 5 minutes on 2 cores with the default seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-0..200}"
cargo build --release -q -p lab
lab=target/release/lab
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# "N passed, M failed" -> M/(N+M); no such line (lab did not run): an error.
rate() {
  awk '/^[0-9]+ passed, [0-9]+ failed$/ {r = $3 / ($1 + $3); seen = 1}
    END {if (!seen) exit 1; printf "%.3f", r}'
}
i=0
printf '%-32s %8s %8s\n' mutant uniform guided
for m in $("$lab" mutants --list | awk 'NR > 1 {print $1}'); do
  i=$((i + 1))
  pool=lab/pools/folds/odd.json
  [ $((i % 2)) -eq 1 ] && pool=lab/pools/folds/even.json
  # (A campaign with failures exits 1: that is the measure, not an error.)
  u=$({ "$lab" --peer "mutant:$m" explore --seeds "$seeds" --corpus "$out/u.jsonl" || true; } \
    2>/dev/null | rate)
  g=$({ "$lab" --peer "mutant:$m" explore --seeds "$seeds" --guided --pool "$pool" \
    --corpus "$out/g.jsonl" || true; } 2>/dev/null | rate)
  printf '%-32s %8s %8s\n' "$m" "$u" "$g" | tee -a "$out/table"
done
# Seeds per failure = 1 / rate (a mutant never caught counts as 1 failure in
# 3 times the seeds run, so it stays finite); medians over the catalogue.
awk -v seeds="$seeds" '
  function inv(p) { return p > 0 ? 1 / p : 3 * n_seeds }
  function median(a, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  BEGIN { split(seeds, r, "\\.\\."); n_seeds = r[2] - r[1] }
  { n++; u[n] = inv($2); g[n] = inv($3); q[n] = u[n] / g[n] }
  END {
    mu = median(u, n); mg = median(g, n)
    printf "median seeds per failure: uniform %.2f, guided %.2f: %.2f times fewer\n", mu, mg, mu / mg
    printf "median of the per-mutant ratios: %.2f times\n", median(q, n)
  }' "$out/table"
