#!/bin/sh
# One test of tests/run.sh (which exports BUILD, LOGS and the sanitizer settings):
#   run_one.sh NAME KIND PATH
# Writes LOGS/NAME.log, LOGS/NAME.result (PASS | FAIL) and LOGS/NAME.time (seconds, for
# the next run's ordering), then prints one line, with the log's tail when it failed, in
# a single write so that lines of tests running side by side do not interleave.
set -u
name=$1 kind=$2 path=$3
log="$LOGS/$name.log"
start=$(date +%s)
case "$kind" in
  unit) env LD_PRELOAD="$DASHI_TEST_PRELOAD" "$path" > "$log" 2>&1 ;;
  e2e) sh "$path" "$BUILD" > "$log" 2>&1 ;;
  fuzz)
    corpus=$(mktemp -d)
    cp tests/fuzz/corpus/* "$corpus"/ 2>/dev/null
    "$path" -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 "$corpus" > "$log" 2>&1
    rc=$?
    rm -rf "$corpus"
    [ "$rc" -eq 0 ] ;;
  *) echo "unknown test kind $kind" > "$log"; false ;;
esac
rc=$?
secs=$(( $(date +%s) - start ))
echo "$secs" > "$LOGS/$name.time"
if [ "$rc" -eq 0 ]; then
  echo PASS > "$LOGS/$name.result"
  echo "PASS $name (${secs}s)"
else
  echo FAIL > "$LOGS/$name.result"
  out=$(printf 'FAIL %s (%ss)\n' "$name" "$secs"; tail -n 40 "$log" | sed 's/^/    | /')
  printf '%s\n' "$out"
fi
exit 0
