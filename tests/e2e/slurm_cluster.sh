# A real 3-node Slurm 22.05 on this machine for the e2e tests (docs/cluster.md, TOOLCHAIN):
# a munged of its own (its own socket), one slurmctld and slurmd n1..n3 on free ports, all
# state under $SLURM_DIR. Sourced after lib.sh; slurm_stop stops what slurm_start started,
# by the PIDs in their pid files.
SLURM_DIR="$WORK/slurm"
SLURM_CONF="$SLURM_DIR/slurm.conf"
export SLURM_CONF
MUNGED_STARTED=

free_ports() { # N: N free TCP ports
  "$PY" -c "
import socket
ss = [socket.socket() for _ in range($1)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))"
}

slurm_start() {
  mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/log" "$SLURM_DIR/spool"
  # A munged of our own on its own socket (AuthInfo below): tests running side by side
  # never share one, so stopping ours cannot break another's cluster.
  [ -f /etc/munge/munge.key ] || { mungekey --create 2>/dev/null || create-munge-key; chown munge /etc/munge/munge.key; }
  mkdir -p "$SLURM_DIR/munge" && chown munge "$SLURM_DIR/munge" # munged writes its files as munge
  runuser -u munge -- /usr/sbin/munged --force --socket="$SLURM_DIR/munge/munge.sock" \
    --pid-file="$SLURM_DIR/munge/munged.pid" --log-file="$SLURM_DIR/munge/munged.log" \
    --seed-file="$SLURM_DIR/munge/munged.seed" || fail "munged did not start"
  MUNGED_STARTED=1
  set -- $(free_ports 4)
  {
    echo "ClusterName=dashitest"
    echo "SlurmctldHost=localhost"
    echo "SlurmctldPort=$1"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$SLURM_DIR/munge/munge.sock"
    echo "StateSaveLocation=$SLURM_DIR/state"
    echo "SlurmdSpoolDir=$SLURM_DIR/spool/%n"
    echo "SlurmctldPidFile=$SLURM_DIR/slurmctld.pid"
    echo "SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid"
    echo "SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log"
    echo "SelectType=select/cons_tres"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "MpiDefault=none"
    echo "GresTypes=gpu"
    echo "ReturnToService=2"
    echo "SlurmdTimeout=10"
    echo "KillWait=15"
    echo "MinJobAge=600"
    echo "NodeName=n1 NodeHostname=localhost Port=$2 CPUs=1 Gres=gpu:1 State=UNKNOWN"
    echo "NodeName=n2 NodeHostname=localhost Port=$3 CPUs=1 Gres=gpu:1 State=UNKNOWN"
    echo "NodeName=n3 NodeHostname=localhost Port=$4 CPUs=1 Gres=gpu:1 State=UNKNOWN"
    echo "PartitionName=test Nodes=n[1-3] Default=YES MaxTime=INFINITE State=UP"
  } > "$SLURM_CONF"
  : > "$SLURM_DIR/gpu"
  for n in n1 n2 n3; do echo "NodeName=$n Name=gpu File=$SLURM_DIR/gpu"; done > "$SLURM_DIR/gres.conf"
  /usr/sbin/slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
  for n in n1 n2 n3; do /usr/sbin/slurmd -f "$SLURM_CONF" -N $n || fail "slurmd $n did not start"; done
  i=0
  until [ "$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)" -eq 3 ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { sinfo -N; tail "$SLURM_DIR"/log/*; fail "the 3 nodes never became idle"; }
    sleep 0.2
  done
}

stop_pidfile() { # FILE: SIGTERM the daemon whose pid is in FILE, wait up to 10 s, then SIGKILL
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null || true
}

slurm_stop() {
  for n in n1 n2 n3; do stop_pidfile "$SLURM_DIR/slurmd-$n.pid"; done
  stop_pidfile "$SLURM_DIR/slurmctld.pid"
  [ -z "$MUNGED_STARTED" ] || stop_pidfile "$SLURM_DIR/munge/munged.pid"
}
