# End to end, chaos (issue 14): honest users of two uids submit and wait while a hostile
# third uid pipelines unread requests, opens many connections, sends slow and malformed
# frames, and the daemon is killed with -9 and restarted twice (tests/e2e/chaos.py).
# Needs root (three uids); CI runs as root.
. tests/e2e/lib.sh
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to act as three users"; exit 0; }
command -v setpriv > /dev/null || fail "setpriv (util-linux) is needed to act as other users"
MiB=1048576
INFLIGHT=$((16 * MiB)); REPLIES=$((16 * MiB)); CONNS=16; WAITS=256
cat > "$WORK/dashid.conf" <<CONF
socket_mode = 0666
checkpoint_every_s = 0.3
max_inflight_bytes_per_uid = $INFLIGHT
max_reply_bytes_per_uid = $REPLIES
max_reply_queue_bytes = $((4 * MiB))
max_connections_per_uid = $CONNS
max_waits_per_connection = $WAITS
reply_queue_timeout_s = 5
frame_timeout_s = 3
idle_timeout_s = 10
CONF
# What one uid may make the daemon hold, by the formula of docs/protocol.md ("What a
# client may make the daemon hold"), plus 128 MiB for what the honest users' jobs and
# requests allocate (Vulkan, FFT plans, blobs being hashed) and the sanitizer's bookkeeping.
export CHAOS_RSS_BOUND=$((INFLIGHT + 65536 + REPLIES + 8 * MiB + CONNS * WAITS * 64 + 128 * MiB))
timeout 300 "$PY" -u tests/e2e/chaos.py run "$WORK" "$DASHID" "$DASHI" "$WORK/dashid.conf" \
  || { tail -n 40 "$WORK/dashid.log"; fail "chaos"; }
