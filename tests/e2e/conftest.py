"""
Fixtures and helpers for the end-to-end tests of ollaguardd.

Binaries come from $OLLAGUARD_BUILD (default <repo>/build).  If
ollaguardd is missing the daemon tests are skipped with a message, or
fail when OLLAGUARD_BUILD was set explicitly (as `make e2e` does): there
the build is supposed to have made it.

Fixtures
  stub            a started StubUpstream (stub_upstream.py), stopped after
  daemon          an ollaguardd in front of stub with the master key
                  MASTER_KEY, 4 workers, --timeout 5, a fresh db
  daemon_factory  daemon_factory(**options) starts more (see
                  DaemonFactory.__call__); .spawn() runs one with exactly
                  the argv/env given; .run() runs one to completion
                  (--help, bad config)
  evil_stub       a second StubUpstream that must never be contacted

Helpers (import them: `from conftest import HttpConn, ...`)
  HttpConn        a raw-socket HTTP/1.1 client: send bytes, read
                  responses incrementally, check the connection closed
  Response        status, headers in order, body, framing, complete
  build_request   exact request bytes
  bearer(key)     [("Authorization", "Bearer " + key)]
  assert_error_response(resp, status)
                  a response the daemon made itself: JSON {"error": ...}
  keyctl(db, ...) / keyctl_add(db, ...)

Every process started here is stopped in teardown: SIGTERM, then after
5 s SIGKILL to its process group; the test errors if the daemon needed
SIGKILL, left workers behind, exited badly, or a sanitizer complained.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from stub_upstream import StubUpstream, wait_until  # noqa: F401 (re-exported)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_EXPLICIT = "OLLAGUARD_BUILD" in os.environ
BUILD = os.path.abspath(os.environ.get("OLLAGUARD_BUILD",
                                       os.path.join(REPO, "build")))
DAEMON = os.path.join(BUILD, "ollaguardd")
KEYCTL = os.path.join(BUILD, "ollaguard-keyctl")

MASTER_KEY = "mk-e2e-0123456789abcdefghijklmnopqrstuvwxyz"
LOG_LEVEL = os.environ.get("OLLAGUARD_TEST_LOG_LEVEL", "debug")
START_TIMEOUT = float(os.environ.get("OLLAGUARD_TEST_START_TIMEOUT", "5"))
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 5.0

# Every variable the daemon reads; none leaks in from the caller's shell.
DAEMON_ENV_VARS = (
    "OLLAGUARD_HOST", "OLLAGUARD_PORT", "TARGET_URL", "MASTER_KEY",
    "MASTER_KEY_FILE", "OLLAGUARD_PREFIX", "OLLAGUARD_TIMEOUT", "OLLAGUARD_DB",
    "OLLAGUARD_WORKERS", "OLLAGUARD_CONFIG", "OLLAGUARD_BACKLOG",
    "OLLAGUARD_KEEPALIVE_TIMEOUT", "OLLAGUARD_LOG_LEVEL",
    "OLLAGUARD_MIN_SPARE", "OLLAGUARD_MAX_SPARE", "OLLAGUARD_MAX_WORKERS",
    "OLLAGUARD_MAX_REQUESTS", "OLLAGUARD_SHUTDOWN_TIMEOUT",
    "OLLAGUARD_DAEMON", "OLLAGUARD_PIDFILE", "OLLAGUARD_USER",
    "OLLAGUARD_GROUP", "OLLAGUARD_CHECK_CONFIG", "OLLAGUARD_SYSLOG",
    "OLLAGUARD_SYSLOG_FACILITY", "OLLAGUARD_ACCESS_LOG",
    "OLLAGUARD_ACCESS_LOG_FORMAT", "OLLAGUARD_HEADER_TIMEOUT",
    "OLLAGUARD_BODY_TIMEOUT", "OLLAGUARD_SEND_TIMEOUT",
    "OLLAGUARD_MAX_CONNS_PER_IP", "OLLAGUARD_AUTH_FAIL_LIMIT",
    "OLLAGUARD_MANAGE_TIMEOUT",
    "OLLAGUARD_ADMIN", "OLLAGUARD_ADMIN_ALLOW",
    "OLLAGUARD_TLS_CERT", "OLLAGUARD_TLS_KEY", "OLLAGUARD_TARGET_CA",
    "OLLAGUARD_TARGET_INSECURE", "OLLAGUARD_TRUSTED_PROXIES",
    "OLLAGUARD_PROXY_PROTOCOL",
)
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer",
                   "ERROR: MemorySanitizer")
KEY_RE = r"[0-9A-Za-z]{43}"

# Default: the master key (Daemon.request and friends).
MASTER = object()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

# ---------------------------------------------------------------------------
# Processes (the daemon's pool), shared by the ops and hardening tests


def proc_state(pid):
    """The state letter of pid ("R", "S", "Z" ...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()[0]


def children(pid):
    """The live (not zombie) children of pid, sorted."""
    kids = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return sorted(k for k in kids if proc_state(k) not in (None, "Z"))

def log_line(d, pattern, timeout=3.0):
    """The first line of the daemon's stderr matching pattern (waiting
    up to timeout for it), or None."""
    rx = re.compile(pattern)

    def find():
        for line in d.stderr_text().splitlines():
            if rx.search(line):
                return line
        return None
    return wait_until(find, timeout, 0.05)


def warnings(d):
    """The daemon's own log lines (not the access log), for messages."""
    return "\n".join(l for l in d.stderr_text().splitlines()
                     if "ollaguardd[" in l)




def require_binary(path, what):
    if os.access(path, os.X_OK):
        return
    msg = (f"{what} not found at {path} (build it with `make`, or point "
           f"OLLAGUARD_BUILD at the build directory)")
    if BUILD_EXPLICIT:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def bearer(key, scheme="Bearer"):
    return [("Authorization", f"{scheme} {key}")]


def daemon_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in DAEMON_ENV_VARS}
    # Started as root, the daemon refuses to serve unless told which user
    # to serve as; the tests run as root in CI, so they say "root".
    if os.geteuid() == 0:
        env["OLLAGUARD_USER"] = "root"
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------
# The HTTP client


class Eof(Exception):
    """The server closed the connection before the thing asked for."""


class ProtocolError(Exception):
    """The server sent something that is not HTTP/1.1."""


def build_request(method, target, headers=(), body=None, *,
                  version="HTTP/1.1", host="localhost", chunked=False,
                  chunk_size=64 * 1024):
    """Request bytes.  Host goes first unless host is None or headers has
    one; Content-Length is added for a body unless headers frame it or
    chunked is set (then the body is sent chunked, chunk_size a piece)."""
    headers = list(headers)
    names = {n.lower() for n, _ in headers}
    lines = [f"{method} {target} {version}"]
    if host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    lines += [f"{n}: {v}" for n, v in headers]
    payload = b""
    if body is not None:
        if chunked:
            if "transfer-encoding" not in names:
                lines.append("Transfer-Encoding: chunked")
            payload = chunk_encode(body, chunk_size)
        else:
            if "content-length" not in names and \
                    "transfer-encoding" not in names:
                lines.append(f"Content-Length: {len(body)}")
            payload = body
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + payload


def chunk_encode(body, chunk_size=64 * 1024):
    parts = []
    for i in range(0, len(body), chunk_size):
        piece = body[i:i + chunk_size]
        parts.append(b"%x\r\n" % len(piece))
        parts.append(piece)
        parts.append(b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list  # [(name, value)] in order
    raw_head: bytes
    method: str = "GET"
    framing: str = ""  # "length", "chunked", "close" or "none"
    bodybuf: bytearray = field(default_factory=bytearray)
    complete: bool = False  # the framing said the body ended
    closed: bool = False  # the connection closed while reading the body
    chunk_sizes: list = field(default_factory=list)
    _left: int = 0
    _need_crlf: bool = False
    _done: bool = False

    @property
    def body(self):
        return bytes(self.bodybuf)

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has_header(self, name):
        return self.header(name) is not None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return (f"<Response {self.status} {self.reason!r} {self.headers} "
                f"body={bytes(self.bodybuf[:300])!r}"
                f"{'...' if len(self.bodybuf) > 300 else ''}"
                f" framing={self.framing} complete={self.complete}>")


class HttpConn:
    """One client connection on a raw socket."""

    RAW_KEEP = 4 * 1024 * 1024

    def __init__(self, host, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = bytearray()
        self.raw = bytearray()  # the first RAW_KEEP bytes received
        self.eof = False

    # -- plumbing ---------------------------------------------------------

    def settimeout(self, t):
        self.timeout = t
        self.sock.settimeout(t)

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a RST instead of a FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv(self):
        """One recv into buf; False at EOF or reset.  socket.timeout
        propagates."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        if len(self.raw) < self.RAW_KEEP:
            self.raw += data
        return True

    def _read_line(self, limit=64 * 1024):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise ProtocolError(f"line longer than {limit}")
            if not self._recv():
                raise Eof(f"EOF in a line; have {bytes(self.buf)[:200]!r}")

    def _take_some(self, n):
        if not self.buf and not self._recv():
            return b""
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    # -- requests ---------------------------------------------------------

    def send_request(self, method, target, headers=(), body=None, **kw):
        self.send(build_request(method, target, headers, body, **kw))

    def request(self, method, target, headers=(), body=None, **kw):
        """Sends one request and reads its whole response."""
        self.send_request(method, target, headers, body, **kw)
        return self.read_response(method)

    def get(self, target, headers=(), **kw):
        return self.request("GET", target, headers, **kw)

    # -- responses --------------------------------------------------------

    def read_head(self, method="GET", interim=False, limit=1024 * 1024):
        """The next response head.  1xx responses are skipped unless
        interim is set."""
        while True:
            while True:
                i = self.buf.find(b"\r\n\r\n")
                if i >= 0:
                    break
                if len(self.buf) > limit:
                    raise ProtocolError("response head too long")
                if not self._recv():
                    raise Eof("connection closed before a response head; "
                              f"got {bytes(self.buf)[:300]!r}")
            raw = bytes(self.buf[:i + 4])
            del self.buf[:i + 4]
            resp = self._parse_head(raw, method)
            if 100 <= resp.status < 200 and not interim:
                continue
            return resp

    @staticmethod
    def _parse_head(raw, method):
        lines = raw[:-4].split(b"\r\n")
        m = re.fullmatch(rb"(HTTP/1\.[01]) (\d{3}) ?(.*)", lines[0])
        if not m:
            raise ProtocolError(f"bad status line {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or name != name.strip() or not name:
                raise ProtocolError(f"bad header line {line!r}")
            headers.append((name, value.strip(" \t")))
        resp = Response(m.group(1).decode(), int(m.group(2)),
                        m.group(3).decode("latin-1"), headers, raw, method)
        te = ",".join(resp.header_all("Transfer-Encoding")).lower()
        cls = resp.header_all("Content-Length")
        if method == "HEAD" or 100 <= resp.status < 200 or \
                resp.status in (204, 304):
            resp.framing = "none"
        elif te:
            if te.split(",")[-1].strip() == "chunked":
                resp.framing = "chunked"
            else:
                resp.framing = "close"
        elif cls:
            if len(set(cls)) != 1 or not cls[0].isdigit():
                raise ProtocolError(f"bad Content-Length {cls}")
            resp.framing = "length"
            resp._left = int(cls[0])
        else:
            resp.framing = "close"
        if resp.framing == "none" or \
                (resp.framing == "length" and resp._left == 0):
            resp.complete = resp._done = True
        return resp

    def read_body_part(self, resp, timeout=None):
        """The next body bytes as they arrive (b"" once the body is over:
        see resp.complete and resp.closed).  socket.timeout if nothing
        came within timeout."""
        if resp._done:
            return b""
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            return self._body_part(resp)
        except Eof:
            resp.closed = resp._done = True
            return b""
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)

    def _body_part(self, resp):
        if resp.framing == "length":
            data = self._take_some(resp._left)
            if not data:
                resp.closed = resp._done = True
                return b""
            resp._left -= len(data)
            if resp._left == 0:
                resp.complete = resp._done = True
        elif resp.framing == "close":
            data = self._take_some(1 << 20)
            if not data:
                resp.closed = resp.complete = resp._done = True
                return b""
        else:  # chunked
            if resp._left == 0:
                if resp._need_crlf:
                    if self._read_line() != b"":
                        raise ProtocolError("no CRLF after chunk data")
                    resp._need_crlf = False
                line = self._read_line()
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line {line!r}")
                if size == 0:
                    while self._read_line() != b"":
                        pass
                    resp.complete = resp._done = True
                    return b""
                resp.chunk_sizes.append(size)
                resp._left = size
                resp._need_crlf = True
            data = self._take_some(resp._left)
            if not data:
                resp.closed = resp._done = True
                return b""
            resp._left -= len(data)
        resp.bodybuf += data
        return data

    def read_body(self, resp, deadline=60.0):
        """Reads the rest of the body (bounded by deadline seconds)."""
        end = time.monotonic() + deadline
        while not resp._done:
            if time.monotonic() > end:
                raise TimeoutError(f"body not over after {deadline}s")
            self.read_body_part(resp)
        return resp

    def read_body_until(self, resp, needle, timeout):
        """Reads body bytes until needle is in the body; returns True, or
        False if timeout passed or the body ended without it."""
        end = time.monotonic() + timeout
        while needle not in resp.bodybuf:
            left = end - time.monotonic()
            if left <= 0 or resp._done:
                return False
            try:
                self.read_body_part(resp, timeout=left)
            except (socket.timeout, TimeoutError):
                return False
        return True

    def read_response(self, method="GET", interim=False):
        resp = self.read_head(method, interim)
        return self.read_body(resp)

    def read_until_close(self, timeout=IO_TIMEOUT):
        """Everything until EOF (buffered bytes first); raises
        TimeoutError if the connection stays open past timeout."""
        if not self.wait_closed(timeout):
            raise TimeoutError(f"connection still open after {timeout}s")
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def wait_closed(self, timeout):
        """True if the server closes (or resets) the connection within
        timeout; bytes arriving meanwhile stay in buf."""
        end = time.monotonic() + timeout
        try:
            while not self.eof:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    self._recv()
                except socket.timeout:
                    pass
            return True
        finally:
            self.sock.settimeout(self.timeout)


def assert_error_response(resp, status):
    """A response the daemon made itself: the status, Content-Type
    application/json and the body {"error": "<non-empty text>"}."""
    assert resp.status == status, f"expected {status}, got {resp!r}"
    ct = resp.header("Content-Type")
    assert ct is not None and ct.split(";")[0].strip().lower() == \
        "application/json", f"Content-Type {ct!r} in {resp!r}"
    assert resp.complete, f"error body not complete: {resp!r}"
    try:
        obj = resp.json()
    except ValueError as e:
        raise AssertionError(f"error body is not JSON ({e}): {resp!r}")
    assert isinstance(obj, dict) and set(obj) == {"error"}, \
        f"error body is not {{\"error\": ...}}: {obj!r}"
    assert isinstance(obj["error"], str) and obj["error"].strip(), \
        f"empty error text: {obj!r}"
    return obj["error"]


# ---------------------------------------------------------------------------
# keyctl


def keyctl(db, *args, check=True, timeout=15):
    require_binary(KEYCTL, "ollaguard-keyctl")
    p = subprocess.run([KEYCTL, "--db", str(db), *map(str, args)],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env=daemon_env())
    if check and p.returncode != 0:
        raise AssertionError(f"ollaguard-keyctl {' '.join(map(str, args))} "
                             f"exited {p.returncode}: {p.stderr.strip()}")
    return p


def keyctl_add(db, name=None, prefix=None, expires=None):
    """Adds a key with keyctl; returns the key."""
    args = ["add"]
    if name is not None:
        args += ["--name", name]
    if prefix is not None:
        args += ["--prefix", prefix]
    if expires is not None:
        args += ["--expires", expires]
    out = keyctl(db, *args).stdout
    key = out.strip()
    assert key and "\n" not in key and " " not in key, \
        f"keyctl add printed {out!r}, not a key alone"
    return key


# ---------------------------------------------------------------------------
# The daemon


class Daemon:
    """One ollaguardd process."""

    def __init__(self, workdir, argv, env, port, *, master_key=None,
                 prefix="", db=None, name="ollaguardd"):
        self.workdir = workdir
        self.argv = argv
        self.env = env
        self.port = port
        self.master_key = master_key
        self.prefix = prefix
        self.db = db
        self.name = name
        self.proc = None
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.conns = []
        self.stopped = False
        self.problems = []

    @property
    def hostport(self):
        return f"127.0.0.1:{self.port}"

    def start(self, wait=True):
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                env=self.env, cwd=self.workdir, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        end = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                pytest.fail(f"{self.name} exited with {rc} before listening "
                            f"on port {self.port}; argv {self.argv}\n"
                            f"stderr:\n{self.stderr_text()}", pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.2):
                    return
            except OSError:
                pass
            if time.monotonic() > end:
                pytest.fail(f"{self.name} not listening on port {self.port} "
                            f"after {timeout}s; stderr:\n"
                            f"{self.stderr_text()}", pytrace=False)
            time.sleep(0.02)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no stderr file)"

    # -- clients ----------------------------------------------------------

    def connect(self, timeout=IO_TIMEOUT):
        c = HttpConn("127.0.0.1", self.port, timeout)
        self.conns.append(c)
        return c

    def auth(self, key=MASTER, scheme="Bearer"):
        if key is MASTER:
            key = self.master_key
        if key is None:
            return []
        return bearer(key, scheme)

    def request(self, method, target, *, key=MASTER, headers=(), body=None,
                timeout=IO_TIMEOUT, **kw):
        """One request on a fresh connection (closed afterwards)."""
        with self.connect(timeout) as c:
            return c.request(method, target, self.auth(key) + list(headers),
                             body, **kw)

    def get(self, target, *, key=MASTER, **kw):
        return self.request("GET", target, key=key, **kw)

    def generate(self, body=None, *, key=MASTER, conn=None):
        """POST /key/generate; body is a dict (sent as JSON) or bytes."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        headers = self.auth(key) + [("Content-Type", "application/json")]
        if body is None:
            body = b""
        if conn is not None:
            return conn.request("POST", "/key/generate", headers, body)
        return self.request("POST", "/key/generate", key=None,
                            headers=headers, body=body)

    def keyctl(self, *args, **kw):
        return keyctl(self.db, *args, **kw)

    def add_key(self, **kw):
        return keyctl_add(self.db, **kw)

    # -- stopping ---------------------------------------------------------

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait, SIGKILL the group if needed.  Problems are
        collected in self.problems for the fixture to report."""
        if self.stopped or self.proc is None:
            return
        self.stopped = True
        for c in self.conns:
            c.close()
        pgid = self.proc.pid
        killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                killed = True
                _killpg(pgid)
                self.proc.wait(5)
        else:
            self.problems.append(f"{self.name} had exited by itself with "
                                 f"{self.proc.returncode} before teardown")
        if killed:
            self.problems.append(f"{self.name} did not exit within "
                                 f"{STOP_TIMEOUT}s of SIGTERM: killed")
        elif self.proc.returncode not in (0, -signal.SIGTERM):
            self.problems.append(f"{self.name} exited with "
                                 f"{self.proc.returncode} after SIGTERM")
        # Workers must not outlive the master.
        end = time.monotonic() + 3
        left = _group_members(pgid)
        while left and time.monotonic() < end:
            time.sleep(0.05)
            left = _group_members(pgid)
        if left:
            _killpg(pgid)
            self.problems.append(f"{self.name}: processes {left} still alive "
                                 f"3s after the master exited: killed")
        text = self.stderr_text()
        for mark in SANITIZER_MARKS:
            if mark in text:
                self.problems.append(f"{self.name}: sanitizer report "
                                     f"({mark!r}) in stderr")
                break


def _killpg(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_members(pgid):
    """Live (not zombie) processes in process group pgid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        # rest[0] is the state, rest[2] the process group
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] != "Z":
            out.append(int(entry))
    return out


class DaemonFactory:
    def __init__(self, tmp_path, stub, node):
        self.tmp_path = tmp_path
        self.stub = stub
        self.node = node
        self.daemons = []

    def __call__(self, *, master_key=MASTER_KEY, target_url=None,
                 prefix=None, timeout=5, workers=4, keepalive_timeout=None,
                 db=None, extra_args=(), env=None, wait=True):
        """Starts ollaguardd on a free port in front of the stub (or
        target_url).  master_key=None runs without one."""
        require_binary(DAEMON, "ollaguardd")
        n = len(self.daemons) + 1
        port = free_port()
        db = str(db or self.tmp_path / f"keys{n}.db")
        target_url = target_url or self.stub.url
        argv = [DAEMON, "--host", "127.0.0.1", "--port", str(port),
                "--target-url", target_url, "--db", db,
                "--workers", str(workers), "--timeout", str(timeout),
                "--log-level", LOG_LEVEL]
        if master_key is not None:
            argv += ["--master-key", master_key]
        if prefix is not None:
            argv += ["--prefix", prefix]
        if keepalive_timeout is not None:
            argv += ["--keepalive-timeout", str(keepalive_timeout)]
        argv += list(extra_args)
        return self.spawn(argv, env=env, port=port, master_key=master_key,
                          prefix=prefix or "", db=db, wait=wait)

    def spawn(self, argv, *, env=None, port, master_key=None, prefix="",
              db=None, wait=True):
        """Starts the daemon with exactly argv (argv[0] may be omitted)
        and the cleaned environment plus env; waits for port."""
        require_binary(DAEMON, "ollaguardd")
        if not argv or argv[0] != DAEMON:
            argv = [DAEMON, *argv]
        n = len(self.daemons) + 1
        d = Daemon(str(self.tmp_path), argv, daemon_env(env), port,
                   master_key=master_key, prefix=prefix, db=db,
                   name=f"ollaguardd-{n}")
        self.daemons.append(d)
        return d.start(wait=wait)

    def run(self, args, *, env=None, timeout=10):
        """Runs the daemon to completion (--help, bad configs)."""
        require_binary(DAEMON, "ollaguardd")
        try:
            return subprocess.run([DAEMON, *args], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  timeout=timeout, env=daemon_env(env),
                                  cwd=str(self.tmp_path),
                                  start_new_session=True)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"ollaguardd {args} still running after {timeout}s "
                        f"(expected it to exit): {e.stderr!r}", pytrace=False)

    def stop_all(self):
        problems = []
        for d in self.daemons:
            d.stop()
            problems += d.problems
        return problems


# ---------------------------------------------------------------------------
# Fixtures


def _register(node, attr, obj):
    lst = getattr(node, attr, None)
    if lst is None:
        lst = []
        setattr(node, attr, lst)
    lst.append(obj)


@pytest.fixture
def stub(request):
    s = StubUpstream().start()
    _register(request.node, "_og_stubs", s)
    yield s
    s.stop()


@pytest.fixture
def evil_stub(request):
    """A second upstream nothing may ever reach."""
    s = StubUpstream().start()
    _register(request.node, "_og_stubs", s)
    yield s
    s.stop()


@pytest.fixture
def daemon_factory(tmp_path, stub, request):
    f = DaemonFactory(tmp_path, stub, request.node)
    _register(request.node, "_og_factories", f)
    yield f
    problems = f.stop_all()
    if problems:
        pytest.fail("daemon teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for f in getattr(item, "_og_factories", []):
        for d in f.daemons:
            text = d.stderr_text()
            if len(text) > 30000:
                text = "...\n" + text[-30000:]
            rep.sections.append((f"{d.name} stderr (argv {d.argv[1:]})",
                                 text))
    for s in getattr(item, "_og_stubs", []):
        text = s.describe()
        if len(text) > 20000:
            text = text[:20000] + "\n..."
        rep.sections.append((f"stub upstream {s.url}", text))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds or installs packages "
                            "(part of the suite; -m 'not slow' skips)")
