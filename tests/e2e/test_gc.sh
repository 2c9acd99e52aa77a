# End to end: the lifecycle of the store (docs/storage.md "Lifecycle"). rm removes
# finished jobs of their owner (refused while another job needs an output, for another
# user's job, for a running job); gc reports what nothing needs, frees it with --apply,
# never touches an upload in progress, and is for root and the daemon's user only;
# partial files of jobs that will not continue are removed at start; acct counts bytes.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon "gc_upload_grace_s = 0"
random_rollout_inputs 16 5
A=$("$DASHI" put "$WORK/a16.npy")
Z=$("$DASHI" put "$WORK/z16.npy")

# 100 small jobs with distinct outputs (each runs a different number of steps).
i=1
while [ $i -le 100 ]; do
  "$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps $i > "$WORK/j$i.json" || fail "submit $i"
  i=$((i + 1))
done
LAST=$(json "$WORK/j100.json" "d['id']")
"$DASHI" wait "$LAST" > /dev/null || fail "the 100 jobs should succeed"
FIRST=$(json "$WORK/j1.json" "d['id']")
for n in 1 50 99 100; do
  id=$(json "$WORK/j$n.json" "d['id']")
  "$DASHI" --json show "$id" > "$WORK/s$n.json"
  [ "$(json "$WORK/s$n.json" "d['state']")" = succeeded ] || fail "job $id did not succeed"
done
ok "100 small jobs"

# A consumer: job C starts from the z_final of job 1, so job 1 may not be removed.
"$DASHI" --json submit rollout --op "$A" --z0 "$FIRST" --steps 3 --wait > "$WORK/c.json" || fail "consumer"
C=$(json "$WORK/c.json" "d['id']")
rc=0; "$DASHI" --json rm "$FIRST" > "$WORK/rm1.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/rm1.json" "d['error']['code']")" = E_STATE ] || fail "rm of a needed job: E_STATE, exit 2"
json "$WORK/rm1.json" "d['error']['message']" | grep -q "needed by job $C" || fail "the refusal names job $C"
ok "rm refused while another job needs an output (names job $C)"

rc=0; as_nobody "$DASHI" --json --no-autostart rm "$LAST" > "$WORK/rm2.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/rm2.json" "d['error']['code']")" = E_PERMISSION ] || fail "rm by another user: E_PERMISSION"
"$DASHI" --json show "$LAST" > /dev/null || fail "the job refused for another user is still there"
rc=0; as_nobody "$DASHI" --json --no-autostart gc > "$WORK/gcn.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/gcn.json" "d['error']['code']")" = E_PERMISSION ] || fail "gc by another user: E_PERMISSION"
ok "rm of another user's job and gc by another user: E_PERMISSION"

submit_endless_rollout "$WORK/e.json"
E=$(json "$WORK/e.json" "d['id']")
wait_state "$E" running
rc=0; "$DASHI" --json rm "$E" > "$WORK/rm3.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && json "$WORK/rm3.json" "d['error']['message']" | grep -q "cancel it first" || fail "rm of a running job"
"$DASHI" cancel "$E" > /dev/null
wait_state "$E" cancelled
ok "rm of a running job: E_STATE, cancel it first"

# Sizes before: the store on disk and root's bytes in acct.
du_bytes() { du -sb "$DASHI_STATE_DIR/blobs" | cut -f1; }
blob_files() { find "$DASHI_STATE_DIR/blobs" -name '*.npy' -not -path "$DASHI_STATE_DIR/blobs/tmp/*" | wc -l; }
"$DASHI" --json acct --user root > "$WORK/acct0.json"
OUT0=$(json "$WORK/acct0.json" "d['users'][0]['output_bytes']")
DU0=$(du_bytes); N0=$(blob_files)

# rm the even-numbered half (jobs 2, 4, ..., 100), four ids a call.
ids=""; k=0; n=2
while [ $n -le 100 ]; do
  ids="$ids $(json "$WORK/j$n.json" "d['id']")"; k=$((k + 1))
  if [ $k -eq 4 ] || [ $n -eq 100 ]; then
    # shellcheck disable=SC2086
    "$DASHI" --json rm $ids > "$WORK/rm.json" || fail "rm$ids: $(cat "$WORK/rm.json")"
    ids=""; k=0
  fi
  n=$((n + 2))
done
rc=0; "$DASHI" --json show "$LAST" > "$WORK/gone.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && json "$WORK/gone.json" "d['error']['message']" | grep -q "was removed" || fail "show of a removed job"
"$DASHI" --json acct --user root > "$WORK/acct1.json"
OUT1=$(json "$WORK/acct1.json" "d['users'][0]['output_bytes']")
[ "$OUT1" -lt "$OUT0" ] || fail "acct output_bytes should drop after rm ($OUT0 -> $OUT1)"
ok "rm of 50 jobs; show says removed; acct output_bytes $OUT0 -> $OUT1"

# The dry run changes nothing.
"$DASHI" --json gc > "$WORK/gc0.json" || fail "gc dry run"
[ "$(du_bytes)" = "$DU0" ] && [ "$(blob_files)" = "$N0" ] || fail "the dry run changed the store"
FREEABLE=$(json "$WORK/gc0.json" "d['unreferenced']['count']")
# 50 removed outputs, less job 4's: the consumer (job 1's z_final, 3 more steps) made the same bytes.
[ "$FREEABLE" -ge 49 ] || fail "the dry run should find the outputs of the removed jobs: $(cat "$WORK/gc0.json")"
"$DASHI" gc > "$WORK/gc0.txt"
ok "gc dry run: $FREEABLE unreferenced blobs found, nothing changed"

"$DASHI" --json gc --apply > "$WORK/gc1.json" || fail "gc --apply"
DU1=$(du_bytes); N1=$(blob_files)
FREED=$(json "$WORK/gc1.json" "d['freeable_bytes']")
echo "store: $DU0 bytes in $N0 blobs before gc --apply, $DU1 bytes in $N1 blobs after (gc reported $FREED bytes)"
[ $((N0 - N1)) -eq "$(json "$WORK/gc1.json" "d['unreferenced']['count'] + d['uploads']['count']")" ] ||
  fail "blob files removed differ from gc's count"
[ $((DU0 - DU1)) -ge "$FREED" ] || fail "du should drop by at least the bytes gc freed"
"$DASHI" --json gc > "$WORK/gc2.json"
[ "$(json "$WORK/gc2.json" "d['freeable_bytes']")" = 0 ] || fail "a second gc should find nothing"
# The kept jobs' outputs are all there and verify.
for n in 1 51 99; do
  h=$(json "$WORK/j$n.json" "d['id']")
  "$DASHI" --json show "$h" > "$WORK/k.json"
  zf=$(json "$WORK/k.json" "d['outputs']['z_final']")
  "$DASHI" get "$zf" -o "$WORK/k$n.npy" || fail "output of kept job $h"
done
ok "gc --apply reclaimed $((DU0 - DU1)) bytes; kept outputs verify"

"$PY" tests/e2e/gc_ops.py "$DASHI_SOCKET" "$DASHI" "$WORK" || fail "gc_ops.py"

# Partial files: those of a finished, a removed and an unknown job go at start; those of an
# interrupted job stay for its resume.
submit_endless_rollout "$WORK/i.json"
I=$(json "$WORK/i.json" "d['id']")
wait_state "$I" running
stop_daemon
TMP="$DASHI_STATE_DIR/blobs/tmp"
for j in "$(json "$WORK/j1.json" "d['id']")" "$LAST" 999999 "$I"; do
  head -c 4096 /dev/zero > "$TMP/part-job-$j-traj"
done
start_shared_daemon "gc_upload_grace_s = 0"
"$DASHI" --json status "$I" > "$WORK/is.json"
[ "$(json "$WORK/is.json" "d['state']")" = interrupted ] || fail "job $I should be interrupted"
[ -e "$TMP/part-job-$I-traj" ] || fail "the interrupted job's partial file was removed"
for j in "$(json "$WORK/j1.json" "d['id']")" "$LAST" 999999; do
  [ ! -e "$TMP/part-job-$j-traj" ] || fail "partial file of job $j left at start"
done
"$DASHI" --json rm "$I" > /dev/null || fail "rm of an interrupted job"
[ ! -e "$TMP/part-job-$I-traj" ] || fail "rm of an interrupted job should remove its partial files"
ok "partial files of finished, removed and unknown jobs removed at start; an interrupted job's kept until rm"

"$DASHI" --json fsck > "$WORK/fsck.json" || fail "fsck after everything: $(cat "$WORK/fsck.json")"
ok "fsck clean after rm and gc"
stop_daemon
