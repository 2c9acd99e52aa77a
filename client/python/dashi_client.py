"""A small Python client for dashid (docs/protocol.md): connect, submit, wait, get, put,
metrics. Needs only the standard library and msgpack (Debian: python3-msgpack); with
numpy present, `get` and `metrics` return numpy arrays and `put`/`submit` accept them.
docs/python.md describes each method.

    import dashi_client
    c = dashi_client.connect()
    rec = c.submit("rollout", op="A.npy", z0=z0_array, steps=300)   # files/arrays are uploaded
    rec = c.wait(rec["id"], on_progress=print)
    z = c.output(rec, "z_final")                                       # numpy array
    series, summary = c.metrics(rec["id"])
"""
import hashlib
import io
import os
import pwd
import socket
import struct

import msgpack

try:
    import numpy
except ImportError:  # numpy is optional: arrays then come back as .npy bytes
    numpy = None

FRAME_MAX = 8 << 20
CHUNK = 4 << 20  # the largest bin the daemon accepts in one put_chunk
SYSTEM_SOCKET = "/run/dashid/dashid.sock"

__all__ = ["connect", "Client", "DashiError", "default_socket", "user_socket"]



BLOB_CHUNK = 4 << 20  # C of the blob address (docs/storage.md "Blob addresses")


def blob_address(data):
    """The chunk-tree address of a blob's bytes (version 1, docs/storage.md), as the
    daemon names it: the leaves hash each 4 MiB chunk with its index, the root hashes
    the size, the chunk size and the leaves."""
    data = memoryview(data)
    n = max(1, -(-len(data) // BLOB_CHUNK))
    root = hashlib.blake2b(b"\x01\x01" + struct.pack("<QQ", len(data), BLOB_CHUNK), digest_size=32)
    for i in range(n):
        leaf = hashlib.blake2b(b"\x00" + struct.pack("<Q", i), digest_size=32)
        leaf.update(data[i * BLOB_CHUNK:(i + 1) * BLOB_CHUNK])
        root.update(leaf.digest())
    return root.hexdigest()

class DashiError(Exception):
    """An error answered by the daemon (or E_CONNECT when none could be reached)."""

    def __init__(self, code, message, field=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.field = code, message, field


def user_socket():
    """The per-user socket: $XDG_RUNTIME_DIR/dashid.sock, else /tmp/dashid-UID/dashid.sock."""
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    if run.startswith("/"):
        return os.path.join(run, "dashid.sock")
    return f"/tmp/dashid-{os.getuid()}/dashid.sock"


def default_socket():
    """The sockets dashi tries, in order (proto/paths.c, client/client.c)."""
    if os.environ.get("DASHI_SOCKET"):
        return [os.environ["DASHI_SOCKET"]]
    return [SYSTEM_SOCKET, user_socket()]


def connect(path=None):
    """Connects as dashi does: `path`, else $DASHI_SOCKET, else the system socket, else
    the per-user one. Unlike dashi it never starts a daemon."""
    tried = []
    for p in [path] if path else default_socket():
        try:
            return Client(p)
        except OSError as e:
            tried.append(f"{p}: {e.strerror or e}")
    raise DashiError("E_CONNECT", "no daemon answers on " + "; ".join(tried), "socket")


def _daemon_user_uid():
    """The uid of the system daemon's user ($DASHI_DAEMON_USER, else "dashid"), or None."""
    name = os.environ.get("DASHI_DAEMON_USER") or "dashid"
    try:
        return name, pwd.getpwnam(name).pw_uid
    except KeyError:
        return name, None


def _check_daemon_uid(sock, path):
    """Refuses a daemon that is not this user, root or the daemon user (as dashi does):
    whoever owns the socket receives our uploads and answers for our results."""
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    name, daemon_uid = _daemon_user_uid()
    if uid in (os.getuid(), 0) or uid == daemon_uid:
        return
    raise DashiError("E_CONNECT", f"refusing the daemon on {path}: it runs as uid {uid}, not as you (uid "
                     f"{os.getuid()}), root or the daemon user '{name}' (DASHI_DAEMON_USER); another user may "
                     "have put the socket there", "socket")


def _is_hash(s):
    return isinstance(s, str) and len(s) == 64 and all(c in "0123456789abcdef" for c in s)


class Client:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
            _check_daemon_uid(self.sock, path)
        except (OSError, DashiError):
            self.sock.close()
            raise
        self.next_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- framing: a big-endian uint32 length, then one msgpack map ----
    def _send(self, obj):
        payload = msgpack.packb(obj, use_bin_type=True)
        if not 0 < len(payload) <= FRAME_MAX:
            raise DashiError("E_TOO_LARGE", f"request of {len(payload)} bytes exceeds a frame")
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise DashiError("E_CONNECT", "the daemon closed the connection")
            buf += chunk
        return bytes(buf)

    def _recv(self):
        (n,) = struct.unpack(">I", self._recv_exact(4))
        if not 0 < n <= FRAME_MAX:
            raise DashiError("E_BAD_FRAME", f"bad frame length {n}")
        return msgpack.unpackb(self._recv_exact(n), raw=False, strict_map_key=True)

    def call(self, op, args=None, on_event=None):
        """Sends one request and returns its result; events go to on_event; an error
        response raises DashiError."""
        rid = self.next_id
        self.next_id += 1
        self._send({"v": 1, "id": rid, "op": op, "args": args or {}})
        while True:
            msg = self._recv()
            if msg.get("id") not in (rid, 0):
                continue  # a late answer to another request
            if "event" in msg:
                if on_event:
                    on_event(msg["event"])
                continue
            if msg.get("ok"):
                return msg.get("result")
            e = msg.get("error") or {}
            raise DashiError(e.get("code", "E_INTERNAL"), e.get("message", ""), e.get("field"))

    # ---- blobs ----
    def put(self, data):
        """Uploads an array (numpy), a path to a .npy file, or the bytes of one; returns
        the blob hash (its chunk-tree address, `blob_address`)."""
        if numpy is not None and isinstance(data, numpy.ndarray):
            buf = io.BytesIO()
            numpy.save(buf, numpy.ascontiguousarray(data), allow_pickle=False)
            data = buf.getvalue()
        elif isinstance(data, (str, os.PathLike)):
            with open(data, "rb") as f:
                data = f.read()
        data = bytes(data)
        upload = self.call("put_begin", {"size": len(data)})["upload"]
        for off in range(0, len(data), CHUNK):
            self.call("put_chunk", {"upload": upload, "offset": off, "data": data[off:off + CHUNK]})
        return self.call("put_end", {"upload": upload})["hash"]

    def get_bytes(self, blob):
        """The bytes of a blob (a .npy file)."""
        out = bytearray()
        while True:
            r = self.call("get", {"hash": blob, "offset": len(out)})
            out += r["data"]
            if len(out) >= r["total"] or not r["data"]:
                break
        # The daemon verified each chunk it served; check what arrived against the address it
        # named (the blob's own name, or the one an old name became: docs/storage.md).
        address = r.get("hash", blob)
        if blob_address(out) != address:
            raise DashiError("E_CORRUPT", f"the bytes received for {blob} do not hash to its address", "hash")
        return bytes(out)

    def get(self, blob, path=None):
        """Downloads a blob: with `path` writes the .npy file and returns path; else a
        numpy array when numpy is present, the .npy bytes otherwise."""
        data = self.get_bytes(blob)
        if path is not None:
            tmp = f"{path}.part{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
            return path
        if numpy is None:
            return data
        return numpy.load(io.BytesIO(data), allow_pickle=False)

    def get_array(self, blob):
        """A blob as a numpy array: numpy.load of its verified .npy bytes (never a pickle).
        Needs numpy, where get falls back to bytes."""
        if numpy is None:
            raise ImportError("get_array needs numpy (Debian: python3-numpy); get() returns the .npy bytes")
        return numpy.load(io.BytesIO(self.get_bytes(blob)), allow_pickle=False)

    def output(self, job, name):
        """Output `name` of a job (its id, or its record) as a numpy array. E_NOT_FOUND naming
        "output", with the outputs the job has, when it has no such output (yet)."""
        rec = job if isinstance(job, dict) else self.show(job)
        outputs = rec.get("outputs") or {}
        if name not in outputs:
            have = ", ".join(sorted(outputs)) or "none yet"
            raise DashiError("E_NOT_FOUND", f"job {rec['id']} ({rec['kind']}, {rec['state']}) has no output "
                             f"'{name}'; its outputs: {have}", "output")
        return self.get_array(outputs[name])

    # ---- jobs ----
    def _arg(self, value):
        """A job argument: arrays and existing .npy files are uploaded and become hashes."""
        if numpy is not None and isinstance(value, numpy.ndarray):
            return self.put(value)
        if isinstance(value, (str, os.PathLike)) and str(value).endswith(".npy") and os.path.isfile(value):
            return self.put(value)
        return value

    def _submission(self, kind, priority, private, args, reuse, name, tags, kwargs):
        job_args = dict(args or {})
        job_args.update(kwargs)
        req = {"kind": kind, "args": {k: self._arg(v) for k, v in job_args.items()}}
        if priority is not None:
            req["priority"] = priority
        if private is not None:
            req["private"] = bool(private)
        if reuse is not None:
            req["reuse"] = bool(reuse)
        if name is not None:
            req["name"] = str(name)
        if tags:
            req["tags"] = [tags] if isinstance(tags, str) else list(tags)
        return req

    def submit(self, kind, priority=None, private=None, args=None, reuse=None, name=None, tags=None, **kwargs):
        """Submits a job; returns its record. Arguments come as `args` (a dict) and/or
        keywords (op=..., steps=...). reuse=False runs it even when an identical job
        succeeded (otherwise the record may come back succeeded, with `reused_from`).
        name and tags (a string or a list) label the run (docs/protocol.md "Names, tags,
        notes and groups")."""
        return self.call("submit", self._submission(kind, priority, private, args, reuse, name, tags, kwargs))

    def sweep(self, kind, vary, priority=None, private=None, args=None, reuse=None, name=None, tags=None, **kwargs):
        """Submits the Cartesian product of `vary` ({param: [values...]}) as one group of
        jobs of `kind`, the other arguments shared; returns {"group", "name", "jobs"}.
        Every run is checked before any is queued: a bad value raises and queues nothing."""
        req = self._submission(kind, priority, private, args, reuse, name, tags, kwargs)
        req["vary"] = {k: list(v) for k, v in vary.items()}
        return self.call("sweep", req)

    def tag(self, job_id, *tags, remove=False):
        """Adds (remove=True: removes) tags of a job; returns its tags."""
        return self.call("tag", {"id": job_id, "tags": list(tags), "remove": remove})["tags"]

    def note(self, job_id, text):
        """Adds a note to a job (show lists them)."""
        return self.call("note", {"id": job_id, "text": text})

    def group(self, group):
        """The runs of a group (its id, or its name), oldest first."""
        return sorted(self.list(group=group), key=lambda r: r["id"])

    def table(self, runs, cols=()):
        """One dict per run, as `dashi table`: id, name, state, the parameters that differ
        between the runs, then each column of `cols` (docs/cli.md "table": KEY a summary
        scalar; KEY.T, KEY.0, KEY.min, KEY.max of the series KEY; KEY@STEP), None where a
        run has none. `runs` is a group (id or name) or a list of job ids or records."""
        if isinstance(runs, (int, str)):
            records = self.group(runs)
        else:
            records = [r if isinstance(r, dict) else self.show(r) for r in runs]
        keys = []
        for r in records:
            keys += [k for k in r["params"] if k not in keys]
        varied = [k for k in keys if len({repr(r["params"].get(k)) for r in records}) > 1]
        rows = []
        for r in records:
            row = {"id": r["id"], "name": r.get("name"), "state": r["state"]}
            row.update({k: r["params"].get(k) for k in varied})
            for col in cols:
                row[col] = self._column(r, col)
            rows.append(row)
        return rows

    def _column(self, record, col):
        if "@" in col:
            key, step = col.split("@", 1)
            series = self.metrics(record["id"], key)[0].get(key)
            if series is None:
                return None
            return next((float(v) for s, v in zip(*series) if s == float(step)), None)
        reductions = {".T": lambda v: v[-1], ".0": lambda v: v[0], ".min": min, ".max": max}
        for suffix, reduce in reductions.items():
            if col.endswith(suffix) and len(col) > len(suffix):
                key = col[: -len(suffix)]
                series = self.metrics(record["id"], key)[0].get(key)
                return None if series is None or len(series[1]) == 0 else float(reduce(list(series[1])))
        return record["metrics"].get(col)

    def wait(self, job_id, on_progress=None):
        """Waits for the job to end and returns its final record (whatever the outcome:
        check record["state"]). on_progress receives each event {state, step, total}."""
        return self.call("wait", {"id": job_id}, on_event=on_progress)

    def summary(self, job_id):
        """A job's summary scalars (its record's metrics). For a pipeline: decode's (relL2_T,
        corr_T, dE_T, ...), train's train.* and eval.*, and time.STAGE.wall_s/gpu_s."""
        return self.show(job_id)["metrics"]

    def status(self, job_id):
        return self.call("status", {"id": job_id})

    def show(self, job_id):
        """The job record (docs/protocol.md "The job record") with its state `events`."""
        return self.call("show", {"id": job_id})

    def cancel(self, job_id):
        return self.call("cancel", {"id": job_id})

    def list(self, limit=None, page=100, **filters):
        """Job records, newest first: all of them, or the first `limit`; follows the
        pages of at most `page` (≤ 100) records (docs/protocol.md "Paging"). Filters are
        the list op's (state="succeeded", kind="les", user="name" or uid); one the daemon
        does not know raises E_UNKNOWN_FIELD naming it."""
        jobs = []
        for r in self.replies("list", {**filters, "limit": min(limit or page, page)}):
            jobs += r["jobs"]
            if limit is not None and len(jobs) >= limit:
                return jobs[:limit]
        return jobs

    def ping(self):
        return self.call("ping")

    def replies(self, op, args):
        """Yields every reply of a paged op, following each one's `next` cursor
        (docs/protocol.md "Paging")."""
        cursor = None
        while True:
            r = self.call(op, {**args, **({"cursor": cursor} if cursor else {})})
            yield r
            cursor = r.get("next")
            if not cursor:
                return

    def pages(self, op, args, rows):
        """Yields the rows (the list under key `rows`) of every page of a paged op."""
        for r in self.replies(op, args):
            yield from r[rows]

    def hashes(self, job_id):
        return list(self.pages("hashes", {"id": job_id}, "hashes"))

    def metrics(self, job_id, key=None):
        """{key: (steps, values)} of the job's metric series (numpy arrays when numpy is
        present) and {key: value} of its summary scalars (stored at step -1)."""
        rows = {}  # a key's series may continue on the next page
        for r in self.replies("metrics", {"id": job_id, **({"key": key} if key else {})}):
            for name, s in r["metrics"].items():
                rows.setdefault(name, []).extend(zip(s["steps"], s["values"]))
        series, summary = {}, {}
        for name, pairs in rows.items():
            summary.update({name: v for st, v in pairs if st < 0})
            pairs = [(st, v) for st, v in pairs if st >= 0]
            if pairs:
                steps, values = [p[0] for p in pairs], [p[1] for p in pairs]
                if numpy is not None:
                    steps, values = numpy.asarray(steps, dtype=numpy.int64), numpy.asarray(values, dtype=numpy.float64)
                series[name] = (steps, values)
        return series, summary
