#!/usr/bin/env bash
# Cold start to a mapped, visible Folio window: frozen bundle vs source install, alternating,
# e.g. packaging/coldstart.sh dist/folio/folio .venv/bin/folio 3 (needs Xvfb and xdotool);
# same Xvfb display, each in a fresh empty FOLIO_HOME. Prints seconds per run.
set -u
FROZEN=$1; SOURCE=$2; RUNS=${3:-3}
Xvfb :77 -screen 0 1400x900x24 >/dev/null 2>&1 & XV=$!
sleep 1
export DISPLAY=:77
one() {
  local exe=$1 home; home=$(mktemp -d)
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  local t0; t0=$(date +%s.%N)
  FOLIO_HOME=$home "$exe" >/dev/null 2>&1 & local pid=$!
  xdotool search --sync --onlyvisible --name "Folio" >/dev/null 2>&1
  local t1; t1=$(date +%s.%N)
  kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$home"
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
for i in $(seq "$RUNS"); do
  echo "frozen $(one "$FROZEN") source $(one "$SOURCE") load $(cut -d' ' -f1 /proc/loadavg)"
done
kill $XV
