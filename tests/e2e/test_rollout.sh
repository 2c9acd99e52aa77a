# End to end: daemon + client over a socket; upload, rollout, wait, show, get, hashes,
# determinism across runs, and bad parameters rejected with nothing queued.
. tests/e2e/lib.sh

# z_final of two finished jobs (their JSON): the same shape, and a relative L2 distance
# in [LOW, HIGH). usage: near JOB_JSON EXACT_JSON SHAPE LOW HIGH
near() {
  "$DASHI" get "$(json "$1" "d['outputs']['z_final']")" -o "$1.npy" > /dev/null
  "$DASHI" get "$(json "$2" "d['outputs']['z_final']")" -o "$2.npy" > /dev/null
  "$PY" - "$1.npy" "$2.npy" "$3" "$4" "$5" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert list(a.shape) == list(b.shape) == [int(x) for x in sys.argv[3].split('x')], a.shape
rel = np.linalg.norm(a - b) / np.linalg.norm(b)
assert float(sys.argv[4]) <= rel < float(sys.argv[5]), rel
print("%.3g relative to exact mode" % rel)
PY
}

start_daemon

"$DASHI" --json ping > "$WORK/ping.json"
[ "$(json "$WORK/ping.json" "d['protocol']")" = 1 ] || fail "ping: protocol"
[ -n "$(json "$WORK/ping.json" "d['device']")" ] || fail "ping: device"
json "$WORK/ping.json" "d['int8_matrix'] is False" | grep -qx True || fail "ping: lavapipe has no int8 matrices"
ok "ping"

put_reference_rollout
T=$("$DASHI" --json put tests/data/zhat_T.npy | "$PY" -c "import json,sys; print(json.load(sys.stdin)['hash'])")
[ ${#A} -eq 64 ] && [ ${#Z} -eq 64 ] && [ ${#T} -eq 64 ] || fail "put did not print 64-hex hashes"
[ "$(blob_address tests/data/A.npy)" = "$A" ] || fail "blob name is not the chunk-tree address of the file"
ok "put (content-addressed)"

"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --truth "$T" --steps 300 --wait > "$WORK/r1.json" \
  || { cat "$WORK/r1.json"; fail "rollout job failed"; }
json "$WORK/r1.json" "d['state']" | grep -qx succeeded || fail "state"
json "$WORK/r1.json" "d['metrics']['proxy_error_final'] < 1e-10" | grep -qx True || fail "proxy error vs zhat_T"
json "$WORK/r1.json" "d['device'] is not None and d['precision']=='f64' and d['mode']=='exact'" | grep -qx True \
  || fail "record lacks device/precision/mode"
json "$WORK/r1.json" "all(k in d for k in ['id','kind','state','user','submitted_at','started_at','ended_at','params','device','precision','mode','outputs','metrics','error'])" \
  | grep -qx True || fail "record fields"
ID1=$(json "$WORK/r1.json" "d['id']")
ok "rollout 300 steps matches zhat_T"

ZF=$(json "$WORK/r1.json" "d['outputs']['z_final']")
"$DASHI" get "$ZF" -o "$WORK/zf.npy" > /dev/null
"$PY" - "$WORK/zf.npy" tests/data/zhat_T.npy <<'PY' || fail "downloaded z_final differs from zhat_T"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == b.shape == (654,), a.shape
rel = np.linalg.norm(a - b) / np.linalg.norm(b)
assert rel < 1e-10, rel
PY
ok "get z_final"

"$DASHI" --json show "$ID1" > "$WORK/show.json"
json "$WORK/show.json" "[e['state'] for e in d['events']]" | grep -qx "\['queued', 'running', 'succeeded'\]" \
  || fail "events: $(json "$WORK/show.json" "d['events']")"
ok "show with state events"

"$DASHI" --json hashes "$ID1" > "$WORK/h1.json"
json "$WORK/h1.json" "len(d['hashes'])" | grep -qx 300 || fail "300 hashes expected"
"$DASHI" --json submit rollout --op "$A" --z0 "$Z" --steps 300 --wait > "$WORK/r2.json"
ID2=$(json "$WORK/r2.json" "d['id']")
"$DASHI" --json hashes "$ID2" > "$WORK/h2.json"
json "$WORK/h1.json" "[h['hash'] for h in d['hashes']]" > "$WORK/h1.txt"
json "$WORK/h2.json" "[h['hash'] for h in d['hashes']]" > "$WORK/h2.txt"
cmp -s "$WORK/h1.txt" "$WORK/h2.txt" || fail "two identical rollouts gave different hashes"
ok "hashes identical across runs"

# Bad parameters: a clear error naming the field, nothing queued.
"$DASHI" --json list --limit 1000 > "$WORK/before.json"
"$PY" -c "import numpy as np; a=np.load('tests/data/A.npy'); a[3,5]=np.nan; np.save('$WORK/A_nan.npy', a); np.save('$WORK/z653.npy', np.zeros(653))"
expect_error() { # code field args...
  code=$1; field=$2; shift 2
  rc=0; "$DASHI" --json submit rollout "$@" > "$WORK/err.json" 2>/dev/null || rc=$?
  [ $rc -ne 0 ] || fail "submit $* should fail"
  [ "$(json "$WORK/err.json" "d['error']['code']")" = "$code" ] || fail "expected $code for $*: $(cat "$WORK/err.json")"
  [ "$(json "$WORK/err.json" "d['error']['field']")" = "$field" ] || fail "expected field $field for $*"
}
expect_error E_BAD_VALUE steps --op "$A" --z0 "$Z" --steps 0
expect_error E_BAD_VALUE steps --op "$A" --z0 "$Z" --steps -5
expect_error E_BAD_VALUE z0 --op "$A" --z0 "$WORK/z653.npy" --steps 10
expect_error E_BAD_VALUE op --op "$WORK/A_nan.npy" --z0 "$Z" --steps 10
expect_error E_MISSING_FIELD op --z0 "$Z" --steps 10
expect_error E_UNKNOWN_FIELD stepz --op "$A" --z0 "$Z" --stepz 10
expect_error E_NOT_FOUND op --op 0000000000000000000000000000000000000000000000000000000000000000 --z0 "$Z" --steps 1
expect_error E_BAD_TYPE steps --op "$A" --z0 "$Z" --steps ten
"$DASHI" --json list --limit 1000 > "$WORK/after.json"
[ "$(json "$WORK/before.json" "len(d['jobs'])")" = "$(json "$WORK/after.json" "len(d['jobs'])")" ] \
  || fail "a rejected submit queued a job"
ok "bad parameters rejected, nothing queued"

json "$WORK/r1.json" "d['metrics']['split_digits'] == 0" | grep -qx True || fail "IEEE rollout should record split_digits 0"

# A batch of 8 in exact f64, and again in fast f64 on a daemon told to use the split
# product (lavapipe: the portable integer kernel): recorded as such, and close to exact
# mode (measured 1.3e-13 after these 20 steps; the fast f64 GEMM gives 1.3e-15 here,
# docs/numerics.md says why the split product is coarser on this operator).
"$PY" -c "import numpy as np; z=np.load('tests/data/z_t0000.npy'); np.save('$WORK/z8.npy', np.stack([z*(1+0.1*i) for i in range(8)]))"
Z8=$("$DASHI" put "$WORK/z8.npy")
"$DASHI" --json submit rollout --op "$A" --z0 "$Z8" --steps 20 --hash-every 0 --wait > "$WORK/b_exact.json" || fail "batch exact"
stop_daemon
ok "clean shutdown"
DASHI_ROLLOUT_SPLIT=on; export DASHI_ROLLOUT_SPLIT
start_daemon
unset DASHI_ROLLOUT_SPLIT
"$DASHI" --json submit rollout --op "$A" --z0 "$Z8" --steps 20 --hash-every 0 --mode fast --wait > "$WORK/b_split.json" \
  || { cat "$WORK/b_split.json"; fail "batch on the split product"; }
json "$WORK/b_split.json" "d['metrics']['split_digits'] == 8" | grep -qx True || fail "split product not recorded: $(cat "$WORK/b_split.json")"
near "$WORK/b_split.json" "$WORK/b_exact.json" 8x654 1e-300 1e-12 || fail "split product far from exact mode"
ok "fast f64 batch on the split product (recorded, within 1e-12 of exact)"
stop_daemon
ok "clean shutdown"

# Blocks of steps (fast batches, docs/numerics.md): a stable 64×64 operator, 8
# trajectories, 2600 steps: long enough to repay the powers, so the job runs in blocks
# (recorded as block_steps) and ends within 1e-12 of exact mode. 100 steps would not
# repay them: step by step, recorded as 1.
start_daemon
"$PY" - "$WORK" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
q, _ = np.linalg.qr(rng.standard_normal((64, 64)))
np.save(sys.argv[1] + '/a64.npy', 0.999 * q)
np.save(sys.argv[1] + '/z64.npy', rng.standard_normal((8, 64)))
PY
A64=$("$DASHI" put "$WORK/a64.npy")
Z64=$("$DASHI" put "$WORK/z64.npy")
"$DASHI" --json submit rollout --op "$A64" --z0 "$Z64" --steps 2600 --hash-every 0 --wait > "$WORK/k_exact.json" \
  || fail "exact batch of 2600 steps"
"$DASHI" --json submit rollout --op "$A64" --z0 "$Z64" --steps 2600 --hash-every 0 --mode fast --wait \
  > "$WORK/k_fast.json" || fail "fast batch of 2600 steps"
json "$WORK/k_exact.json" "d['metrics']['block_steps'] == 1" | grep -qx True || fail "exact mode went in blocks"
json "$WORK/k_fast.json" "d['metrics']['block_steps'] > 1" | grep -qx True \
  || fail "fast batch not in blocks: $(cat "$WORK/k_fast.json")"
near "$WORK/k_fast.json" "$WORK/k_exact.json" 8x64 0 1e-12 || fail "blocks of steps far from exact mode"
"$DASHI" --json submit rollout --op "$A64" --z0 "$Z64" --steps 100 --hash-every 0 --mode fast --wait \
  > "$WORK/k_short.json" || fail "fast batch of 100 steps"
json "$WORK/k_short.json" "d['metrics']['block_steps'] == 1" | grep -qx True \
  || fail "a short run went in blocks: $(cat "$WORK/k_short.json")"
ok "fast batch in blocks of steps (recorded, within 1e-12 of exact); a short one step by step"
stop_daemon
ok "clean shutdown"
