#!/usr/bin/env bash
# Builds the picture of a real run (an HTML page) and checks it in headless
# Chromium: the page must load without script errors and draw one lane per
# peer. Also takes a screenshot to look at.
#
# Usage: scripts/check-picture.sh [SEED] [TEST]
#   SEED defaults to 1, TEST to raft::figure8_unreliable.
# Environment: OUT (directory for the page, trace, DOM and screenshot;
#   default a fresh temporary directory), LAB (a lab binary already built;
#   default `cargo run --release -p lab --`), CARGO_TARGET_DIR as usual.
# Installs Debian's chromium with apt-get if no Chromium is found.
set -euo pipefail

SEED="${1:-1}"
TEST="${2:-raft::figure8_unreliable}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d /tmp/check-picture.XXXXXX)}"
mkdir -p "$OUT"
HTML="$OUT/picture.html"
TRACE="$OUT/trace.jsonl"
PNG="$OUT/picture.png"

fail() { echo "check-picture: FAIL: $*" >&2; exit 1; }

# 1. A browser.
CHROME=""
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then CHROME="$c"; break; fi
done
if [ -z "$CHROME" ]; then
  echo "check-picture: installing chromium (apt-get)" >&2
  if [ "$(id -u)" != 0 ]; then fail "chromium is missing and we are not root to install it"; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || fail "apt-get update failed"
  apt-get install -y -qq chromium >&2 || fail "apt-get install chromium failed"
  CHROME=chromium
fi

# 2. The page, from a real run.
echo "check-picture: building the page for $TEST seed=$SEED" >&2
if [ -n "${LAB:-}" ]; then lab=("$LAB"); else lab=(cargo run -q --release -p lab --); fi
(cd "$ROOT" && "${lab[@]}" replay "$TEST" --seed "$SEED" --trace "$TRACE" --html "$HTML" >&2) \
  || fail "lab replay $TEST --seed $SEED failed"
[ -s "$HTML" ] || fail "no page written at $HTML"
grep -qE '<(script|link|img)[^>]+(src|href)="https?:' "$HTML" && fail "the page loads something from the network"
# The peers: distinct nodes with an `add` event.
PEERS=$(grep '"kind":"add"' "$TRACE" | grep -o '"node":[0-9]*' | sort -u | wc -l)
[ "$PEERS" -gt 0 ] || fail "the trace has no add events"

# 3. Load it headless, read the status the page writes after drawing.
PROFILE="$(mktemp -d /tmp/check-picture-profile.XXXXXX)"
trap 'rm -rf "$PROFILE"' EXIT
FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$PROFILE" --window-size=1400,900 --virtual-time-budget=5000)
timeout 120 "$CHROME" "${FLAGS[@]}" --dump-dom "file://$HTML" >"$OUT/dom.html" 2>"$OUT/chromium.log" \
  || fail "chromium --dump-dom failed (see $OUT/chromium.log)"
STATUS=$(grep -o '<div id="status"[^>]*>[^<]*' "$OUT/dom.html" | head -1 || true)
[ -n "$STATUS" ] || fail "no status element in the loaded page (see $OUT/dom.html)"
LANES=$(sed -n 's/.*data-lanes="\([0-9]*\)".*/\1/p' <<<"$STATUS")
ERRORS=$(sed -n 's/.*data-errors="\([0-9]*\)".*/\1/p' <<<"$STATUS")
TEXT=${STATUS#*>}
[ "${ERRORS:-x}" = 0 ] || fail "script errors in the page: $TEXT"
[ "${LANES:-x}" = "$PEERS" ] || fail "drew ${LANES:-no} lanes for $PEERS peers: $TEXT"
grep -q "lanes=$PEERS errors=0" <<<"$TEXT" || fail "unexpected status: $TEXT"

# 4. A screenshot to look at.
timeout 120 "$CHROME" "${FLAGS[@]}" --screenshot="$PNG" "file://$HTML" >>"$OUT/chromium.log" 2>&1 \
  || fail "chromium --screenshot failed (see $OUT/chromium.log)"
[ -s "$PNG" ] || fail "no screenshot at $PNG"

echo "check-picture: OK: $TEXT"
echo "check-picture: page $HTML"
echo "check-picture: screenshot $PNG"
