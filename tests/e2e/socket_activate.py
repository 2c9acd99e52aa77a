#!/usr/bin/env python3
"""Plays systemd's part in socket activation for tests/e2e/test_socket_activation.sh.

socket_activate.py SOCKET PIDFILE RUNS [--wrong-pid] -- COMMAND...
Creates a listening Unix socket at SOCKET, then RUNS times: forks a child that moves
the socket to fd 3, sets LISTEN_FDS=1 and LISTEN_PID to its own pid (as sd_listen_fds(3)
expects) and execs COMMAND; writes the child's pid to PIDFILE and waits for it. The
socket stays open here between runs, as systemd keeps it between service starts.
Exits 0 only if every run exited 0. --wrong-pid sets LISTEN_PID to another pid, so the
daemon must ignore the socket."""
import os
import socket
import sys

def main():
    args = sys.argv[1:]
    sep = args.index("--")
    path, pidfile, runs = args[0], args[1], int(args[2])
    wrong_pid = "--wrong-pid" in args[3:sep]
    command = args[sep + 1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(16)
    status = 0
    for run in range(runs):
        pid = os.fork()
        if pid == 0:
            try:
                if sock.fileno() == 3:    # dup2 onto itself would keep close-on-exec
                    os.set_inheritable(3, True)
                else:
                    os.dup2(sock.fileno(), 3, inheritable=True)
                env = dict(os.environ)
                env["LISTEN_FDS"] = "1"
                env["LISTEN_PID"] = str(os.getppid() if wrong_pid else os.getpid())
                preload = os.environ.get("DASHI_TEST_PRELOAD", "")
                if preload:
                    env["LD_PRELOAD"] = preload
                os.execve(command[0], command, env)
            finally:
                os._exit(127)
        with open(pidfile + ".tmp", "w") as f:
            f.write(f"{pid}\n")
        os.rename(pidfile + ".tmp", pidfile)
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        print(f"run {run + 1}: exit {code}", flush=True)
        status |= code != 0
    return status

if __name__ == "__main__":
    sys.exit(main())
