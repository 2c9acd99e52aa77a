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
# Tests run DASHI_TEST_JOBS at a time (default 2: CI's cores). Each test keeps to its own
# temporary directory, socket and ports, so they can run side by side; the longest are
# started first so that two lanes finish together.
JOBS=${DASHI_TEST_JOBS:-2}
case "$JOBS" in ''|*[!0-9]*|0) echo "DASHI_TEST_JOBS must be a positive integer" >&2; exit 2 ;; esac
selected() { # name: 0 if DASHI_TESTS is unset or one of its globs matches
  [ -z "${DASHI_TESTS:-}" ] && return 0
  for g in $DASHI_TESTS; do
    case "$1" in $g) return 0 ;; esac
  done
  return 1
}
LOGS="$BUILD/test-logs"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.result
# The work list, one test per line: NAME KIND PATH (KIND: unit | e2e | fuzz).
LIST=$(mktemp)
trap 'rm -f "$LIST"' EXIT
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] && echo "$(basename "$t") unit $t"
done > "$LIST.all"
# An e2e script named like a unit test (test_les and test_les.sh) is keyed NAME.e2e, so that
# their logs and results do not overwrite each other.
for t in tests/e2e/test_*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  [ -x "$BUILD/tests/$name" ] && name=$name.e2e
  echo "$name e2e $t"
done >> "$LIST.all"
for f in "$BUILD"/fuzz/fuzz_*; do
  [ -x "$f" ] && echo "$(basename "$f") fuzz $f"
done >> "$LIST.all"
# Longest first: the durations of the last run here (NAME.time), else those recorded in
# tests/durations (a clean checkout's), else first of all.
while read -r name kind path; do
  selected "${name%.e2e}" || continue
  secs=$(cat "$LOGS/$name.time" 2>/dev/null || sed -n "s/^$name //p" tests/durations)
  [ -n "$secs" ] || secs=100000
  echo "$secs $name $kind $path"
done < "$LIST.all" | sort -rn | cut -d' ' -f2- > "$LIST"
rm -f "$LIST.all"
export BUILD LOGS
xargs -P "$JOBS" -L 1 sh tests/run_one.sh < "$LIST"
pass=0; fail=0; failed=""
while read -r name kind path; do
  if [ "$(cat "$LOGS/$name.result" 2>/dev/null)" = PASS ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); failed="$failed $name"
  fi
done < "$LIST"
echo "== $pass passed, $fail failed${failed:+:$failed}"
[ "$fail" -eq 0 ]
