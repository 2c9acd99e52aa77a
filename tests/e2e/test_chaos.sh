# End to end, chaos (issue 14): honest users of two uids submit and wait while a hostile
# third uid pipelines unread requests, opens many connections, sends slow and malformed
# frames, and the daemon is killed with -9 and restarted twice (tests/e2e/chaos.py).
# Needs root (three uids); CI runs as root.
. tests/e2e/lib.sh
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to act as three users"; exit 0; }
command -v setpriv > /dev/null || fail "setpriv (util-linux) is needed to act as other users"
cat > "$WORK/dashid.conf" <<CONF
socket_mode = 0666
checkpoint_every_s = 0.3
CONF
# The bound on what the attacker may make the daemon hold, from the limits above
# (docs/protocol.md, "Limits"), plus what the honest jobs themselves allocate.
export CHAOS_RSS_BOUND=$((512 << 20))
timeout 300 "$PY" -u tests/e2e/chaos.py run "$WORK" "$DASHID" "$DASHI" "$WORK/dashid.conf" \
  || { tail -n 40 "$WORK/dashid.log"; fail "chaos"; }
