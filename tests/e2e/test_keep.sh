# End to end: the rest of the store's lifecycle and of reuse (issue #16), on one daemon.
# - reuse is looked up before the quota: a job identical to a succeeded one costs no disk,
#   so a user whose disk quota the run would pass gets the reused result;
# - a job identical to one still queued or running waits for it and is reused (one run);
#   when the first is cancelled the waiter runs itself; --no-reuse runs at once;
# - rm of a finished producer is refused while a dependent still waits (on another job);
# - keep "until-consumed": the output is released once every consumer has ended (show says
#   so, the blob and its bytes go, reuse of the producer stops, a later consumer gets
#   E_NOT_FOUND naming the output and why); keep "all" stays;
# - gc walks the store in batches: `status` from another client is answered meanwhile.
. tests/e2e/lib.sh
need_second_user
start_shared_daemon "limit.nobody.max_disk_bytes = 16K"

LES="les --N 32 --steps 20 --save-every 5 --mode reference"
show_json() { "$DASHI" --json --no-autostart show "$1" > "$WORK/show-$1.json"; }

# ---- the quota comes after the reuse lookup ----
"$DASHI" --json submit $LES --wait > "$WORK/q1.json" || fail "root's les"
Q1=$(json "$WORK/q1.json" "d['id']")
as_nobody "$DASHI" --json --no-autostart submit $LES > "$WORK/q2.json" 2>&1 ||
  fail "an identical job within nobody's 16K quota should be reused, not refused: $(cat "$WORK/q2.json")"
[ "$(json "$WORK/q2.json" "d['reused_from'] == $Q1 and d['state'] == 'succeeded'")" = True ] ||
  fail "nobody's identical les not reused: $(cat "$WORK/q2.json")"
rc=0; as_nobody "$DASHI" --json --no-autostart submit $LES --seed 3 > "$WORK/q3.json" 2>/dev/null || rc=$?
[ $rc -eq 6 ] && [ "$(json "$WORK/q3.json" "d['error']['field']")" = max_disk_bytes ] ||
  fail "a les that must run is still held to the quota: $rc $(cat "$WORK/q3.json")"
ok "a reuse is not refused at the quota (a run still is)"

# ---- waiting for an identical job in flight ----
SLOW="les --N 32 --steps 400 --save-every 50 --mode reference --seed 7"
"$DASHI" --json submit $SLOW > "$WORK/w1.json"
"$DASHI" --json submit $SLOW > "$WORK/w2.json"
W1=$(json "$WORK/w1.json" "d['id']"); W2=$(json "$WORK/w2.json" "d['id']")
"$DASHI" --json wait "$W2" > "$WORK/w2d.json" || fail "the second identical les: $(cat "$WORK/w2d.json")"
show_json "$W1"
[ "$(json "$WORK/w2d.json" "d['reused_from'] == $W1 and d['gpu_seconds'] == 0 and d['state'] == 'succeeded'")" = True ] ||
  fail "an identical les submitted while the first ran computed again: $(cat "$WORK/w2d.json")"
[ "$(json "$WORK/show-$W1.json" "d['state'] == 'succeeded' and d['gpu_seconds'] > 0")" = True ] || fail "the first les"
[ "$(json "$WORK/w2d.json" "d['outputs']")" = "$(json "$WORK/show-$W1.json" "d['outputs']")" ] || fail "outputs differ"
show_json "$W2"
N_RUNNING=$(json "$WORK/show-$W2.json" "sum(1 for e in d['events'] if e['state'] == 'running')")
[ "$N_RUNNING" = 0 ] || fail "the waiting les ran ($N_RUNNING running events)"
ok "two identical les back to back compute once: $W2 waited for $W1 (reused_from, 0 GPU s, no run)"

LONG="les --N 32 --steps 100000 --save-every 0 --mode reference --seed 8"
"$DASHI" --json submit $LONG > "$WORK/c1.json"; C1=$(json "$WORK/c1.json" "d['id']")
"$DASHI" --json submit $LONG > "$WORK/c2.json"; C2=$(json "$WORK/c2.json" "d['id']")
"$DASHI" --json submit $LONG --no-reuse > "$WORK/c3.json"; C3=$(json "$WORK/c3.json" "d['id']")
wait_state "$C1" running
"$DASHI" cancel "$C1" > /dev/null
wait_state "$C1" cancelled
wait_state "$C2" running
show_json "$C3"
[ "$(json "$WORK/show-$C3.json" "d['state'] in ('running', 'queued')")" = True ] || fail "--no-reuse job: $(cat "$WORK/show-$C3.json")"
"$DASHI" cancel "$C2" > /dev/null; "$DASHI" cancel "$C3" > /dev/null
wait_state "$C2" cancelled
wait_state "$C3" cancelled
ok "the waiter runs itself when the job it waited for is cancelled; --no-reuse does not wait"

# ---- rm and a dependent that still waits ----
"$DASHI" --json submit $LES --seed 21 --wait > "$WORK/p1.json"; P1=$(json "$WORK/p1.json" "d['id']")
"$DASHI" --json submit les --N 32 --steps 100000 --save-every 1000 --mode reference --seed 22 > "$WORK/p2.json"
P2=$(json "$WORK/p2.json" "d['id']")
"$DASHI" --json submit train --traj "$P1" --eval-traj "$P2" --mode reference > "$WORK/t.json" || fail "train: $(cat "$WORK/t.json")"
T=$(json "$WORK/t.json" "d['id']")
rc=0; "$DASHI" --json rm "$P1" > "$WORK/rm.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/rm.json" "d['error']['code']")" = E_STATE ] ||
  fail "rm of a producer whose dependent $T still waits (on $P2) must be refused: rc $rc $(cat "$WORK/rm.json")"
json "$WORK/rm.json" "d['error']['message']" | grep -q "needed by job $T" || fail "the refusal names job $T"
"$DASHI" cancel "$P2" > /dev/null
wait_state "$T" failed
"$DASHI" --json rm "$T" "$P1" > /dev/null || fail "rm once nothing waits"
ok "rm of a producer is refused while a dependent waits for another job"

# ---- keep until-consumed ----
out_bytes() { "$DASHI" --json acct --user root | "$PY" -c "import json,sys; print(json.load(sys.stdin)['users'][0]['output_bytes'])"; }
"$DASHI" --json submit $LES --seed 31 --keep until-consumed --wait > "$WORK/k1.json" || fail "les keep until-consumed"
K1=$(json "$WORK/k1.json" "d['id']")
H=$(json "$WORK/k1.json" "d['outputs']['trajectory']")
[ -n "$(find "$DASHI_STATE_DIR/blobs" -name "$H.npy")" ] || fail "the unconsumed trajectory must stay"
B0=$(out_bytes)
SIZE_H=$(stat -c %s "$(find "$DASHI_STATE_DIR/blobs" -name "$H.npy")")
"$DASHI" --json submit train --traj "$K1" --mode reference --wait > "$WORK/kt.json" || fail "the consumer"
KT=$(json "$WORK/kt.json" "d['id']")
show_json "$K1"
[ "$(json "$WORK/show-$K1.json" "'trajectory' not in d['outputs'] and d['released']['trajectory'] == {'hash': '$H', 'keep': 'until-consumed', 'consumed_by': $KT}")" = True ] ||
  fail "the consumed trajectory is not recorded as released: $(json "$WORK/show-$K1.json" "d['outputs'], d['released']")"
[ "$(json "$WORK/show-$K1.json" "'omega_final' in d['outputs']")" = True ] || fail "the other outputs stay"
[ -z "$(find "$DASHI_STATE_DIR/blobs" -name "$H*")" ] || fail "the released blob file is still there"
"$DASHI" --no-autostart show "$K1" | grep -q "trajectory: released (until-consumed; consumed by job $KT)" ||
  fail "text show does not say the trajectory was released: $("$DASHI" --no-autostart show "$K1")"
B1=$(out_bytes)
SIZE_T=$(json "$WORK/kt.json" "' '.join(d['outputs'].values())" | xargs -n1 sh -c 'stat -c %s "$(find "$0" -name "$1.npy")"' "$DASHI_STATE_DIR/blobs" | paste -sd+ | bc)
[ "$B1" -eq $((B0 + SIZE_T - SIZE_H)) ] ||
  fail "acct output_bytes: $B0 + the consumer's $SIZE_T - the released $SIZE_H should be $((B0 + SIZE_T - SIZE_H)), is $B1"
ok "keep until-consumed: released once its consumer $KT ended (show, file gone, acct drops its $SIZE_H bytes)"

rc=0; "$DASHI" --json submit train --traj "$K1" --mode reference > "$WORK/late.json" 2>/dev/null || rc=$?
[ $rc -eq 2 ] && [ "$(json "$WORK/late.json" "d['error']['code'], d['error']['field']")" = "E_NOT_FOUND traj" ] ||
  fail "a later consumer of a released output: rc $rc $(cat "$WORK/late.json")"
json "$WORK/late.json" "d['error']['message']" | grep -q "trajectory' of job $K1 (les) was released (keep until-consumed; consumed by job $KT)" ||
  fail "the refusal must say why: $(json "$WORK/late.json" "d['error']['message']")"
"$DASHI" --json submit $LES --seed 31 --wait > "$WORK/k2.json" || fail "the same les again"
[ "$(json "$WORK/k2.json" "d['reused_from'] is None and d['outputs']['trajectory'] == '$H'")" = True ] ||
  fail "a job whose outputs were released must not be reused: $(cat "$WORK/k2.json")"
ok "a later consumer gets E_NOT_FOUND naming the output and why; the released job is not reused"

"$DASHI" --json submit $LES --seed 32 --wait > "$WORK/a1.json"; A1=$(json "$WORK/a1.json" "d['id']")
"$DASHI" --json submit train --traj "$A1" --mode reference --wait > /dev/null || fail "consumer of keep all"
show_json "$A1"
[ "$(json "$WORK/show-$A1.json" "'trajectory' in d['outputs'] and d['released'] == {} and d['params']['keep'] == 'all'")" = True ] ||
  fail "keep all (the default) must keep the trajectory"
ok "keep all (the default) keeps what was consumed"

# ---- gc in batches: another client is served while it walks ----
"$PY" tests/e2e/gc_latency.py "$DASHI_SOCKET" "$DASHI_STATE_DIR" 2000 || fail "status during gc"
ok "status is answered while gc walks 2000 blobs"
stop_daemon
