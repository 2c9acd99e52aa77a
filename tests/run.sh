#!/bin/sh
# Runs every test against the binaries of one build tree: tests/run.sh BUILD
#   1. each cmocka unit test binary (BUILD/tests/test_*)
#   2. each end-to-end script (tests/e2e/test_*.sh): a real daemon over a real socket
#   3. the protocol fuzzer for a bounded time (FUZZ_SECONDS, default 60)
# DASHI_TESTS='glob ...' runs only the tests whose names match one of the globs
# (e.g. DASHI_TESTS='test_hostile test_store' tests/run.sh build/san).
# Vulkan runs on whatever the machine has; CI has no GPU, so that is lavapipe.
set -u
BUILD=${1:-build/san}
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_odr_violation=0"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export DASHI_TEST_BUILD="$BUILD"
# The Vulkan loader unloads lavapipe at vkDestroyInstance, after which LeakSanitizer can
# no longer attribute the driver's own never-freed allocations (it reports them from an
# "unknown module"). Preloading the driver keeps it mapped so tests/lsan.supp can name it.
# Only the processes that use Vulkan get this (unit tests and dashid), not python or sh.
DASHI_TEST_PRELOAD=
LVP=/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so
if [ -f "$LVP" ] && ldd "$BUILD/dashid" 2>/dev/null | grep -q libasan; then
  DASHI_TEST_PRELOAD="$(gcc -print-file-name=libasan.so) $LVP"
fi
export DASHI_TEST_PRELOAD
pass=0; fail=0; failed=""
selected() { # name: 0 if DASHI_TESTS is unset or one of its globs matches
  [ -z "${DASHI_TESTS:-}" ] && return 0
  for g in $DASHI_TESTS; do
    case "$1" in $g) return 0 ;; esac
  done
  return 1
}
run() { # name command...
  name=$1; shift
  selected "$name" || return 0
  start=$(date +%s)
  if "$@" > "$BUILD/test-logs/$name.log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $name ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name ($(( $(date +%s) - start ))s)"
    tail -n 40 "$BUILD/test-logs/$name.log" | sed 's/^/    | /'
  fi
}
mkdir -p "$BUILD/test-logs"
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  run "$(basename "$t")" env LD_PRELOAD="$DASHI_TEST_PRELOAD" "$t"
done
for t in tests/e2e/test_*.sh; do
  [ -f "$t" ] || continue
  run "$(basename "$t" .sh)" sh "$t" "$BUILD"
done
for f in "$BUILD"/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  corpus=$(mktemp -d)
  cp tests/fuzz/corpus/* "$corpus"/ 2>/dev/null
  run "$(basename "$f")" "$f" -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 "$corpus"
  rm -rf "$corpus"
done
echo "== $pass passed, $fail failed${failed:+:$failed}"
[ "$fail" -eq 0 ]
