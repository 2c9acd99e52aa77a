# End to end: the catalogue daemon runs jobs through a real Slurm 22.05 (docs/cluster.md,
# tests/e2e/slurm_cluster.sh: 3 nodes on this machine) with --executor slurm. A sweep of
# 6 small pipelines goes to sbatch as one --array; each result is imported into its own
# job id with its Slurm job id and node, and `dashi table` reads them like local jobs.
# `dashi cancel` runs scancel (Slurm shows CANCELLED, the record ends cancelled); a node
# whose slurmd is killed mid-job is noticed by Slurm (NODE_FAIL) and the job is recorded
# failed with that reason, by a daemon restarted meanwhile (it follows its Slurm jobs
# again); with sbatch missing, submit fails with E_SLURM and nothing runs locally.
. tests/e2e/lib.sh
for b in slurmctld slurmd munged; do
  [ -x /usr/sbin/$b ] || { echo "SKIP: $b is not installed (make deps installs slurmctld slurmd slurm-client munge)"; exit 0; }
done
. tests/e2e/slurm_cluster.sh
ORPHANS=
stop_orphans() { # the job processes a killed slurmd left behind, by their PIDs
  for p in $ORPHANS; do kill -KILL "$p" 2>/dev/null || true; done
}
trap 'stop_orphans; slurm_stop; cleanup' EXIT
slurm_start
WD="$WORK/slurmwork"
# The Slurm commands through the config keys: wrappers that drop the sanitizer preload the
# test daemon runs with (sbatch under libasan reports its own leaks and exits 1).
mkdir "$WORK/bin"
for c in sbatch squeue sacct scancel; do
  printf '#!/bin/sh\nexec env -u LD_PRELOAD /usr/bin/%s "$@"\n' $c > "$WORK/bin/$c"; chmod +x "$WORK/bin/$c"
done
conf() { # the config, sbatch at $1
  printf 'slurm_workdir = %s\nslurm_poll_s = 1\nsbatch = %s\n' "$WD" "$1"
  for c in squeue sacct scancel; do echo "$c = $WORK/bin/$c"; done
}
conf "$WORK/bin/sbatch" > "$WORK/dashid.conf"
start_daemon --config "$WORK/dashid.conf"

# until_state ID STATE... : waits (at most ~150 s) until job ID is in one of the states.
until_state() {
  id=$1; shift
  i=0
  while :; do
    s=$("$DASHI" --json show "$id" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['state'])")
    for want in "$@"; do [ "$s" != "$want" ] || return 0; done
    i=$((i + 1)); [ $i -lt 600 ] || { "$DASHI" show "$id"; squeue; tail -20 "$WORK/dashid.log"; fail "job $id is $s, not $*"; }
    sleep 0.25
  done
}

# ---- a sweep of 6 pipelines as one array ----
"$DASHI" --json sweep pipeline --executor slurm --vary seed=0,1,2,3,4,5 --N 32 --steps 10 --decode-every 5 \
  --observer snapshots > "$WORK/sweep.json" || { cat "$WORK/sweep.json"; fail "the sweep was refused"; }
IDS=$(json "$WORK/sweep.json" "' '.join(str(j) for j in d['jobs'])")
GROUP=$(json "$WORK/sweep.json" "d['group']")
for id in $IDS; do until_state "$id" succeeded failed cancelled interrupted; done
ARRAY=
NODES=
k=0
for id in $IDS; do
  "$DASHI" --json show "$id" > "$WORK/p$k.json"
  [ "$(json "$WORK/p$k.json" "d['state'], d['executor'], d['params']['seed']")" = "succeeded slurm $k" ] \
    || { cat "$WD"/jobs/*/bundle-$k.out; fail "run $k: $(cat "$WORK/p$k.json")"; }
  sid=$(json "$WORK/p$k.json" "d['slurm_job_id']")
  [ -n "$ARRAY" ] || ARRAY=${sid%_*}
  [ "$sid" = "${ARRAY}_$k" ] || fail "run $k has Slurm job id $sid, not ${ARRAY}_$k (one array)"
  NODES="$NODES $(json "$WORK/p$k.json" "d['node']")"
  k=$((k + 1))
done
for n in $NODES; do case $n in n[1-3]) ;; *) fail "a node that is not n1..n3: $n" ;; esac; done
[ "$(echo "$NODES" | tr ' ' '\n' | grep '^n' | sort -u | wc -l)" -ge 2 ] || fail "the sweep ran on one node only:$NODES"
"$DASHI" table "group:$GROUP" --csv > "$WORK/table.csv" || { cat "$WORK/table.csv"; fail "dashi table of the Slurm sweep"; }
[ "$(grep -c . "$WORK/table.csv")" -eq 7 ] || { cat "$WORK/table.csv"; fail "table: want a header and 6 rows"; }
"$DASHI" list > "$WORK/list.txt"
grep -q "slurm ${ARRAY}_0 on n" "$WORK/list.txt" || { cat "$WORK/list.txt"; fail "list does not say where run 0 ran"; }
ok "a sweep of 6 pipelines ran as Slurm array $ARRAY on$NODES, each imported into its own job, table and list read them"
# Once imported, a bundle's copy on the shared filesystem is removed (its blobs are in the
# store); the spec and the Slurm output stay.
for k in 0 1 2 3 4 5; do
  ls -d "$WD"/jobs/*/bundle-$k.out "$WD"/jobs/*/spec-$k.msgpack > /dev/null || fail "run $k: spec or output removed"
  set -- "$WD"/jobs/*/bundle-$k
  [ ! -e "$1" ] || fail "run $k: the imported bundle $1 is still in the work directory"
done
ok "imported bundles removed from the work directory; spec and Slurm output kept"

# ---- dashi cancel runs scancel ----
"$DASHI" put tests/data/A.npy > /dev/null; "$DASHI" put tests/data/z_t0000.npy > /dev/null
long() { "$DASHI" --json submit rollout --op tests/data/A.npy --z0 tests/data/z_t0000.npy --steps 1000000000 \
  --hash-every 1000000 --executor slurm "$@"; }
long > "$WORK/c.json" || { cat "$WORK/c.json"; fail "the long rollout was refused"; }
C=$(json "$WORK/c.json" "d['id']")
until_state "$C" running
CS=$(json "$WORK/c.json" "d['slurm_job_id']")
"$DASHI" cancel "$C" > /dev/null
until_state "$C" cancelled failed interrupted succeeded
scontrol show job "$CS" | grep -q "JobState=CANCELLED" || { scontrol show job "$CS"; fail "Slurm does not show job $CS cancelled"; }
"$DASHI" --json show "$C" > "$WORK/c.json"
[ "$(json "$WORK/c.json" "d['state'], d['error']['code']")" = "cancelled E_CANCELLED" ] || fail "the cancelled job: $(cat "$WORK/c.json")"
[ ! -e "$WD/jobs/$C/bundle-0" ] || fail "the cancelled job's imported bundle is still in the work directory"
CK=$(json "$WORK/c.json" "(d['checkpoint'] or {}).get('hash', '') if isinstance(d['checkpoint'], dict) else (d['checkpoint'] or '')")
[ -z "$CK" ] || "$DASHI" get "$CK" -o "$WORK/ck.npy" > /dev/null || fail "the imported checkpoint $CK does not download"
ok "dashi cancel: scancel'd (Slurm shows CANCELLED), the record ends cancelled${CK:+ with its checkpoint}"

# ---- a node lost mid-job, the catalogue restarted meanwhile ----
long --slurm-arg=--no-requeue > "$WORK/f.json" || { cat "$WORK/f.json"; fail "the second rollout was refused"; }
F=$(json "$WORK/f.json" "d['id']")
FS=$(json "$WORK/f.json" "d['slurm_job_id']")
until_state "$F" running
"$DASHI" --json show "$F" > "$WORK/f.json"
FN=$(json "$WORK/f.json" "d['node']")
case $FN in n[1-3]) ;; *) fail "the running job names no node: $(cat "$WORK/f.json")" ;; esac
for r in "$WD"/jobs/"$F"/bundle-0.run-*; do [ -d "$r" ] && ORPHANS="$ORPHANS ${r##*.run-}"; done
kill -KILL "$(cat "$SLURM_DIR/slurmd-$FN.pid")"
stop_daemon
conf "$WORK/no/sbatch" > "$WORK/dashid.conf"
start_daemon --config "$WORK/dashid.conf"
until_state "$F" failed interrupted
"$DASHI" --json show "$F" > "$WORK/f.json"
json "$WORK/f.json" "d['error']['code'], d['error']['message']" | grep -q "E_SLURM.*NODE_FAIL" \
  || fail "the lost node's job: $(cat "$WORK/f.json")"
grep -q "following 1 Slurm job(s) again" "$WORK/dashid.log" || fail "the restarted daemon did not follow its Slurm job"
/usr/sbin/slurmd -f "$SLURM_CONF" -N "$FN" || fail "slurmd $FN did not restart"
ok "slurmd of $FN killed: Slurm's NODE_FAIL recorded as failed with the reason, by a restarted catalogue"

# ---- sbatch missing: a clear error, nothing run here ----
rc=0; long > "$WORK/m.json" || rc=$?
[ $rc -eq 6 ] || fail "submit with a missing sbatch: exit $rc, want 6: $(cat "$WORK/m.json")"
[ "$(json "$WORK/m.json" "d['error']['code'], d['error']['field']")" = "E_SLURM executor" ] || fail "$(cat "$WORK/m.json")"
grep -q "cannot run $WORK/no/sbatch: no such file or directory" "$WORK/m.json" || fail "the error does not say why: $(cat "$WORK/m.json")"
M=$("$DASHI" --json list --limit 1 | "$PY" -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])")
"$DASHI" --json show "$M" > "$WORK/m.json"
[ "$(json "$WORK/m.json" "d['state'], d['started_at'], d['executor'], [e['state'] for e in d['events']]")" = \
  "failed None slurm ['queued', 'failed']" ] || fail "the refused job ran or is not recorded failed: $(cat "$WORK/m.json")"
ok "sbatch missing: E_SLURM naming it at submit; the job recorded failed, never run locally"
stop_daemon
