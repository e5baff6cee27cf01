"""
A stand-in for Ollama: a small threaded HTTP/1.1 server on raw sockets.

It runs inside the pytest process, one thread per connection, with
keep-alive, and records everything the proxy sends it:

  * every request: method, raw target, headers in order, body length and
    SHA-256, whether the body came chunked, which connection it came on;
  * every connection: when it opened, when it closed and who closed it.

What it answers depends on the path (see the @route handlers below).  A
path no route claims is echoed back as JSON, so any path works for
"what did upstream receive" tests.  A route matches the end of the path,
so /ollama/api/tags (a target URL with a path prefix) still reaches the
/api/tags handler.

Adding a misbehaviour is one function:

    @route("/my-misbehaviour")
    def _my_misbehaviour(ex):
        ex.send_raw(b"HTTP/1.1 200 OK\\r\\n...")
        ex.close()

The Exchange passed in has the request (ex.req), the query (ex.query),
helpers to answer (respond, send_head, send_chunk, end_chunks, send_raw,
close) and to wait (gate, wait_peer_close).

Tests hold a gated response back with stub.gate(name) / stub.release(name):
the streaming routes send their first part, then wait for the gate, so a
test can prove the first part reached the client before the rest existed.
"""

import gzip
import hashlib
import json
import select
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

HEAD_MAX = 256 * 1024
KEEP_BODY_MAX = 1024 * 1024  # bodies up to this size are kept in memory
IDLE_MAX = 60.0  # an idle upstream connection is dropped after this
GATE_MAX = 15.0  # a gated route goes on by itself after this

PS_EMPTY_BODY = b'{"models":[]}'
TAGS_BODY = (b'{"models":[{"name":"llama3:8b","model":"llama3:8b",'
             b'"size":4661224676,"digest":"365c0bd3c000"}]}')
# Model lists with several models, for the filtered lists of key policy.
PS_BODY = (b'{"models":[{"name":"llama3:latest","model":"llama3:latest"},'
           b'{"name":"qwen2:7b","model":"qwen2:7b"},'
           b'{"name":"team/private:1","model":"team/private:1"}]}')
OAI_MODELS_BODY = (b'{"object":"list","data":[{"id":"llama3:latest",'
                   b'"object":"model"},{"id":"qwen2:7b","object":"model"},'
                   b'{"id":"mistral:latest","object":"model"}]}')
NDJSON_LINES = [
    b'{"model":"llama3","response":"Hel","done":false}\n',
    b'{"model":"llama3","response":"lo","done":false}\n',
    b'{"model":"llama3","response":"!","done":true}\n',
]
SSE_EVENTS = [
    b'data: {"id":1,"delta":"Hel"}\n\n',
    b'data: {"id":2,"delta":"lo"}\n\n',
    b"data: [DONE]\n\n",
]
GZIP_PLAIN = b'{"message":"' + b"compress me " * 200 + b'"}'
GZIP_BODY = gzip.compress(GZIP_PLAIN, mtime=0)
TRUNCATE_PART = b"partial-body-" * 8  # 104 bytes, never "0\r\n\r\n"


def _make_pattern_block():
    h = hashlib.sha256
    return b"".join(h(i.to_bytes(4, "big")).digest() for i in range(32768))


PATTERN_BLOCK = _make_pattern_block()  # 1 MiB of deterministic bytes


def pattern_iter(n, piece=len(PATTERN_BLOCK)):
    """Yields the first n pattern bytes (byte i is PATTERN_BLOCK[i mod
    1 MiB]) in pieces of at most piece bytes (no n-byte buffer)."""
    size = len(PATTERN_BLOCK)
    pos = 0
    while pos < n:
        off = pos % size
        take = min(n - pos, piece, size - off)
        yield PATTERN_BLOCK[off:off + take]
        pos += take


def pattern_bytes(n):
    return b"".join(pattern_iter(n))


def pattern_sha256(n):
    h = hashlib.sha256()
    for piece in pattern_iter(n):
        h.update(piece)
    return h.hexdigest()



def wait_until(pred, timeout, interval=0.02):
    """Polls pred() until it is true or timeout passes; returns its last
    value.  Shared by every test module (conftest re-exports it)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)

class StubProtocolError(Exception):
    """What the proxy sent the stub is not HTTP the stub can read."""


class PeerClosed(Exception):
    """The proxy closed (or reset) the connection."""


@dataclass(eq=False)
class StubRequest:
    conn_id: int
    seq: int  # 1 for the first request on its connection
    method: str
    target: str
    version: str
    headers: list  # [(name, value)] as received, in order
    received_at: float
    chunked: bool = False
    content_length: object = None  # int, or None without the header
    body_len: int = 0
    body_sha256: str = hashlib.sha256(b"").hexdigest()
    body: bytes = b""  # kept only up to KEEP_BODY_MAX
    body_complete: bool = False
    error: str = ""  # what was wrong with the request, if anything

    def header(self, name):
        """The first value of header name, or None."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def header_names(self):
        return [n.lower() for n, _ in self.headers]

    def as_json(self):
        return {
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": [[n, v] for n, v in self.headers],
            "chunked": self.chunked,
            "body_len": self.body_len,
            "body_sha256": self.body_sha256,
            "conn_id": self.conn_id,
            "seq": self.seq,
        }


@dataclass(eq=False)
class StubConnection:
    id: int
    peer: tuple
    opened_at: float
    closed_at: object = None  # float once closed
    closed_by: str = ""  # "peer", "stub" or "shutdown"
    requests: int = 0
    closed: threading.Event = field(default_factory=threading.Event)


class Exchange:
    """One request being answered; what a route handler works with."""

    def __init__(self, stub, conn, req, sock, reader):
        self.stub = stub
        self.conn = conn
        self.req = req
        self.sock = sock
        self.reader = reader
        self.keep_alive = _wants_keep_alive(req)
        parts = urllib.parse.urlsplit(req.target)
        self.path = parts.path
        self.query = dict(urllib.parse.parse_qsl(parts.query))

    # -- answering --------------------------------------------------------

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise PeerClosed(str(e)) from e

    def send_head(self, status, headers, reason=None):
        reason = reason or _REASONS.get(status, "Whatever")
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{n}: {v}" for n, v in headers]
        if not self.keep_alive:
            lines.append("Connection: close")
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, status, body=b"", headers=(), content_type=None):
        """A complete response with Content-Length (none for HEAD)."""
        hdrs = list(headers)
        if content_type:
            hdrs.append(("Content-Type", content_type))
        if status not in (204, 304) and not (100 <= status < 200):
            hdrs.append(("Content-Length", str(len(body))))
        self.send_head(status, hdrs)
        if self.req.method != "HEAD" and status not in (204, 304):
            self.send_raw(body)

    def respond_json(self, status, obj, headers=()):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.respond(status, body, headers, "application/json")

    def send_chunk(self, data):
        if data:
            self.send_raw(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self):
        self.send_raw(b"0\r\n\r\n")

    def close(self):
        """Closes the connection now (whatever was sent is all there is)."""
        self.keep_alive = False
        self.stub._close_conn(self.conn, self.sock, "stub")

    # -- waiting ----------------------------------------------------------

    def gate(self, name):
        return self.stub.gate(name)

    def wait_gate(self, name, timeout=GATE_MAX):
        """Waits for the test to release the gate; True if it did, False
        after timeout.  Raises PeerClosed (recording the close) if the
        proxy hangs up meanwhile."""
        gate = self.stub.gate(name)
        deadline = time.monotonic() + timeout
        while not gate.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.wait_peer_close(min(left, 0.05)):
                raise PeerClosed("proxy hung up while the stub waited")
        return True

    def wait_peer_close(self, timeout):
        """Waits up to timeout for the proxy to close this connection.
        Returns True (and records the close) if it did."""
        deadline = time.monotonic() + timeout
        while not self.stub._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.reader.peer_closed(min(left, 0.05)):
                self.stub._close_conn(self.conn, self.sock, "peer")
                return True
        return False


class _Reader:
    """Buffered reads from one upstream-side socket."""

    def __init__(self, sock, stopping):
        self.sock = sock
        self.buf = bytearray()
        self.stopping = stopping

    def fill(self, timeout=0.2):
        """One recv; returns False at EOF/reset, None on timeout."""
        try:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return None
            data = self.sock.recv(256 * 1024)
        except (OSError, ValueError):
            return False
        if not data:
            return False
        self.buf += data
        return True

    def peer_closed(self, timeout):
        """True if the peer closed; bytes it sent meanwhile are kept."""
        return self.fill(timeout) is False

    def _fill_blocking(self, idle_max):
        deadline = time.monotonic() + idle_max
        while True:
            if self.stopping.is_set():
                raise PeerClosed("stub stopping")
            r = self.fill(0.2)
            if r:
                return
            if r is False:
                raise PeerClosed("eof")
            if time.monotonic() > deadline:
                raise PeerClosed("idle too long")

    def read_head(self):
        """The bytes of one request head (without the blank line), or None
        if the peer closed cleanly between requests."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + 4]
                return head
            if len(self.buf) > HEAD_MAX:
                raise StubProtocolError("request head too large")
            try:
                self._fill_blocking(IDLE_MAX)
            except PeerClosed:
                if self.buf:
                    raise
                return None

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > 64 * 1024:
                raise StubProtocolError("line too long")
            self._fill_blocking(30)

    def read_some(self, n):
        """Up to n bytes (at least one)."""
        if not self.buf:
            self._fill_blocking(30)
        take = bytes(self.buf[:n])
        del self.buf[:n]
        return take


def _wants_keep_alive(req):
    conn = ",".join(req.header_all("Connection")).lower()
    tokens = {t.strip() for t in conn.split(",")}
    if req.version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


_REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content",
    304: "Not Modified", 400: "Bad Request", 404: "Not Found",
    500: "Internal Server Error", 503: "Service Unavailable",
}

ROUTES = {}


def route(path):
    """Registers a handler for requests whose path ends with path."""
    def deco(fn):
        ROUTES[path] = fn
        return fn
    return deco


def find_route(path):
    if path in ROUTES:
        return ROUTES[path]
    best = None
    for key in ROUTES:
        if path.endswith(key) and (best is None or len(key) > len(best)):
            best = key
    return ROUTES[best] if best else _echo


class StubUpstream:
    """The server.  start() it, point the proxy at .url, stop() it."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = None
        self.requests = []
        self.connections = []
        self.errors = []  # protocol errors the stub hit
        # What /api/tags and /api/ps answer; a test may set them.
        self.tags_body = TAGS_BODY
        self.ps_body = PS_BODY
        # Per-stub handlers by exact path, before the routes below.
        self.handlers = {}
        self._lock = threading.Lock()
        self._gates = {}
        self._stopping = threading.Event()
        self._threads = []
        self._socks = {}
        self._lsock = None
        self._next_conn = 1

    # -- life -------------------------------------------------------------

    def start(self, port=0):
        """port: 0 for any free one, or the port of a stub that stopped
        (a box that comes back)."""
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((self.host, port))
        self._lsock.listen(128)
        self.port = self._lsock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name=f"stub-accept-{self.port}")
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping.set()
        for g in list(self._gates.values()):
            g.set()
        try:
            self._lsock.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks.items())
        for conn, sock in socks:
            self._close_conn(conn, sock, "shutdown")
        for t in self._threads:
            t.join(timeout=3)

    def kill(self):
        """Dies like a crashed box: no more connections, and those open
        close at once, in the middle of any response (gates stay shut:
        stop() later releases the threads)."""
        try:
            self._lsock.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks.values())
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def hostport(self):
        return f"{self.host}:{self.port}"

    # -- what the tests use -----------------------------------------------

    def gate(self, name):
        with self._lock:
            if name not in self._gates:
                self._gates[name] = threading.Event()
            return self._gates[name]

    def release(self, name):
        self.gate(name).set()

    def requests_to(self, path_suffix):
        with self._lock:
            return [r for r in self.requests
                    if r.target.split("?")[0].endswith(path_suffix)]

    def last_request(self):
        with self._lock:
            return self.requests[-1] if self.requests else None

    def connection(self, conn_id):
        with self._lock:
            for c in self.connections:
                if c.id == conn_id:
                    return c
        return None

    def wait_for(self, pred, timeout=5.0, interval=0.01):
        return wait_until(pred, timeout, interval)

    def wait_requests(self, n, timeout=5.0):
        return self.wait_for(lambda: len(self.requests) >= n, timeout)

    def describe(self):
        """A readable log of what the stub saw, for failure reports."""
        with self._lock:
            lines = [f"stub {self.url}: {len(self.connections)} "
                     f"connection(s), {len(self.requests)} request(s)"]
            for c in self.connections:
                lines.append(
                    f"  conn {c.id} from {c.peer} open {c.opened_at:.3f} "
                    f"closed {c.closed_at} by {c.closed_by or '-'} "
                    f"requests {c.requests}")
            for r in self.requests:
                lines.append(
                    f"  req conn {r.conn_id}#{r.seq} {r.method} {r.target!r} "
                    f"{r.version} body {r.body_len}B chunked={r.chunked} "
                    f"complete={r.body_complete} {r.error}")
                for n, v in r.headers:
                    lines.append(f"      {n}: {v}")
            for e in self.errors:
                lines.append(f"  error: {e}")
        return "\n".join(lines)

    # -- the server -------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                r, _, _ = select.select([self._lsock], [], [], 0.1)
                if not r:
                    continue
                sock, peer = self._lsock.accept()
            except (OSError, ValueError):
                return
            with self._lock:
                conn = StubConnection(self._next_conn, peer, time.time())
                self._next_conn += 1
                self.connections.append(conn)
                self._socks[conn] = sock
            t = threading.Thread(target=self._serve, args=(conn, sock),
                                 daemon=True, name=f"stub-conn-{conn.id}")
            t.start()
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)

    def _close_conn(self, conn, sock, by):
        with self._lock:
            if conn.closed_at is not None:
                return
            conn.closed_at = time.time()
            conn.closed_by = by
            self._socks.pop(conn, None)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        conn.closed.set()

    def _serve(self, conn, sock):
        reader = _Reader(sock, self._stopping)
        by = "peer"
        try:
            while not self._stopping.is_set():
                head = reader.read_head()
                if head is None:
                    break
                req = self._parse_head(conn, head)
                ex = Exchange(self, conn, req, sock, reader)
                if (req.header("Expect") or "").lower() == "100-continue":
                    ex.send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
                self._read_body(reader, req)
                (self.handlers.get(ex.path) or find_route(ex.path))(ex)
                if not ex.keep_alive or conn.closed_at is not None:
                    by = "stub"
                    break
        except PeerClosed:
            by = "peer"
        except StubProtocolError as e:
            self.errors.append(f"conn {conn.id}: {e}")
            by = "stub"
        except Exception as e:  # a bug in a handler: say so, do not hang
            self.errors.append(f"conn {conn.id}: {type(e).__name__}: {e}")
            by = "stub"
        if self._stopping.is_set() and conn.closed_at is None:
            by = "shutdown"
        self._close_conn(conn, sock, by)

    def _parse_head(self, conn, head):
        lines = head.split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            raise StubProtocolError(f"bad request line {lines[0]!r}")
        headers, bad = [], []
        for raw in lines[1:]:
            # Recorded as they came, however broken, so a test can see
            # what the proxy let through; header() will not find a name
            # with stray spaces in it.
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip() or \
                    any(ch in name for ch in " \t\r\n\0"):
                bad.append(raw)
            headers.append((name, value.strip(" \t")))
        with self._lock:
            conn.requests += 1
            req = StubRequest(conn.id, conn.requests, method, target,
                              version, headers, time.time())
            if bad:
                req.error = f"malformed header lines {bad!r}"
            self.requests.append(req)
        return req

    def _read_body(self, reader, req):
        te = req.header_all("Transfer-Encoding")
        cl = req.header_all("Content-Length")
        h = hashlib.sha256()
        kept = bytearray()

        def take(data):
            h.update(data)
            req.body_len += len(data)
            if len(kept) + len(data) <= KEEP_BODY_MAX:
                kept.extend(data)

        try:
            if te:
                if [t.strip().lower() for t in ",".join(te).split(",")] \
                        != ["chunked"]:
                    raise StubProtocolError(f"Transfer-Encoding {te}")
                req.chunked = True
                while True:
                    size_line = reader.read_line()
                    size_txt = size_line.split(b";")[0].strip()
                    try:
                        size = int(size_txt, 16)
                    except ValueError:
                        raise StubProtocolError(f"chunk size {size_line!r}")
                    if size == 0:
                        while reader.read_line():
                            pass  # trailers
                        break
                    while size > 0:
                        data = reader.read_some(size)
                        take(data)
                        size -= len(data)
                    if reader.read_line() != b"":
                        raise StubProtocolError("no CRLF after chunk data")
            elif cl:
                if len(cl) != 1 or not cl[0].isdigit():
                    raise StubProtocolError(f"Content-Length {cl}")
                req.content_length = left = int(cl[0])
                while left > 0:
                    data = reader.read_some(min(left, 256 * 1024))
                    take(data)
                    left -= len(data)
            req.body_complete = True
        except (PeerClosed, StubProtocolError) as e:
            req.error = f"body: {e}"
            raise
        finally:
            req.body_sha256 = h.hexdigest()
            req.body = bytes(kept)


# ---------------------------------------------------------------------------
# Routes.  Each takes an Exchange.  Query parameters tune some of them.


def _echo(ex):
    """Default: a JSON account of what arrived.  ?silent=SECS first says
    nothing that long, as /slow-headers does, on any path."""
    if "silent" in ex.query:
        if ex.wait_peer_close(float(ex.query["silent"])):
            return
    obj = ex.req.as_json()
    if ex.req.body_len <= 64 * 1024:
        obj["body"] = ex.req.body.decode("latin-1")
    ex.respond_json(200, obj)


route("/echo")(_echo)


@route("/api/tags")
def _tags(ex):
    ex.respond(200, ex.stub.tags_body,
               content_type="application/json; charset=utf-8")


@route("/api/ps")
def _ps(ex):
    ex.respond(200, ex.stub.ps_body,
               content_type="application/json; charset=utf-8")


@route("/api/version")
def _version(ex):
    ex.respond(200, b'{"version":"0.5.7"}',
               content_type="application/json; charset=utf-8")


@route("/v1/models")
def _oai_models(ex):
    ex.respond(200, OAI_MODELS_BODY, content_type="application/json")


@route("/status")
def _status(ex):
    """/status?code=N: answers N with a small body (none for 204/304)."""
    code = int(ex.query.get("code", "200"))
    ex.respond(code, f'{{"status":{code}}}'.encode(),
               content_type="application/json")


@route("/cors")
def _cors(ex):
    """A CORS preflight answer as Ollama gives it."""
    ex.respond(204, headers=[
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
    ])


@route("/hop-headers")
def _hop_headers(ex):
    """A response carrying hop-by-hop headers the proxy must drop."""
    body = b'{"ok":true}'
    ex.send_head(200, [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "X-Hop-Resp"),
        ("X-Hop-Resp", "must-not-pass"),
        ("Keep-Alive", "timeout=5, max=100"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "h2c"),
        ("X-End-To-End", "kept"),
        ("X-Multi", "one"),
        ("X-Multi", "two"),
    ])
    ex.send_raw(body)


@route("/gzip")
def _gzip(ex):
    """Gzip-encoded JSON; ?chunked=1 sends it chunked without length."""
    hdrs = [("Content-Type", "application/json"),
            ("Content-Encoding", "gzip")]
    if ex.query.get("chunked"):
        ex.send_head(200, hdrs + [("Transfer-Encoding", "chunked")])
        for i in range(0, len(GZIP_BODY), 100):
            ex.send_chunk(GZIP_BODY[i:i + 100])
        ex.end_chunks()
    else:
        ex.respond(200, GZIP_BODY, headers=hdrs)


@route("/big-download")
def _big_download(ex):
    """/big-download?bytes=N[&chunked=1]: N pattern bytes."""
    n = int(ex.query.get("bytes", "1048576"))
    if ex.query.get("chunked"):
        ex.send_head(200, [("Content-Type", "application/octet-stream"),
                           ("Transfer-Encoding", "chunked")])
        for piece in pattern_iter(n, 256 * 1024):
            ex.send_chunk(piece)
        ex.end_chunks()
    else:
        ex.send_head(200, [("Content-Type", "application/octet-stream"),
                           ("Content-Length", str(n))])
        if ex.req.method != "HEAD":
            for piece in pattern_iter(n, 256 * 1024):
                ex.send_raw(piece)


def _gated_stream(ex, content_type, parts, gate):
    """Sends parts[0], waits for the gate, then sends the rest, chunked."""
    ex.send_head(200, [("Content-Type", content_type),
                       ("Transfer-Encoding", "chunked")])
    ex.send_chunk(parts[0])
    ex.wait_gate(ex.query.get("gate", gate))
    for p in parts[1:]:
        ex.send_chunk(p)
    ex.end_chunks()


@route("/stream/ndjson")
def _stream_ndjson(ex):
    _gated_stream(ex, "application/x-ndjson", NDJSON_LINES, "ndjson")


@route("/stream/sse")
def _stream_sse(ex):
    _gated_stream(ex, "text/event-stream", SSE_EVENTS, "sse")


@route("/gated-headers")
def _gated_headers(ex):
    """The head, then nothing until gate "headers" is released."""
    body = b'{"done":true}'
    ex.send_head(200, [("Content-Type", "application/json"),
                       ("Content-Length", str(len(body)))])
    ex.wait_gate(ex.query.get("gate", "headers"))
    ex.send_raw(body)


@route("/stream/endless")
def _stream_endless(ex):
    """A chunk every 50 ms until the proxy hangs up (bounded to 20 s)."""
    ex.send_head(200, [("Content-Type", "application/x-ndjson"),
                       ("Transfer-Encoding", "chunked")])
    deadline = time.monotonic() + 20
    i = 0
    while time.monotonic() < deadline:
        ex.send_chunk(b'{"response":"tok%d","done":false}\n' % i)
        i += 1
        if ex.wait_peer_close(0.05):
            return
    ex.end_chunks()


@route("/slow-headers")
def _slow_headers(ex):
    """Says nothing for ?secs= seconds (default 30), like a generation
    with "stream": false; notes if the proxy hangs up meanwhile."""
    secs = float(ex.query.get("secs", "30"))
    if ex.wait_peer_close(secs):
        return
    ex.respond_json(200, {"done": True, "late": True})


@route("/close-delimited")
def _close_delimited(ex):
    """A complete body without Content-Length or chunking, ended by close."""
    ex.keep_alive = False
    ex.send_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                b"Connection: close\r\n\r\n")
    ex.send_raw(TRUNCATE_PART)
    time.sleep(0.05)
    ex.send_raw(b"-and-the-end")
    ex.close()


@route("/truncate-chunked")
def _truncate_chunked(ex):
    """Chunked: two chunks, then the connection dies (no last chunk)."""
    ex.send_head(200, [("Content-Type", "application/x-ndjson"),
                       ("Transfer-Encoding", "chunked")])
    ex.send_chunk(TRUNCATE_PART)
    time.sleep(0.05)
    ex.send_chunk(b"more-")
    time.sleep(0.05)
    ex.close()


@route("/truncate-cl")
def _truncate_cl(ex):
    """Content-Length 1000, then 104 bytes, then the connection dies."""
    ex.send_head(200, [("Content-Type", "application/octet-stream"),
                       ("Content-Length", "1000")])
    ex.send_raw(TRUNCATE_PART)
    time.sleep(0.05)
    ex.close()


@route("/garbage")
def _garbage(ex):
    """Not HTTP at all."""
    ex.send_raw(b"SSH-2.0-OpenSSH_9.2 this is not http\r\n\r\n")
    ex.close()


@route("/close-immediately")
def _close_immediately(ex):
    """Reads the request, answers nothing, closes."""
    ex.close()


# ---------------------------------------------------------------------------
# Metered answers (issue 12): known token counts in every form Ollama and
# its OpenAI-compatible API send them.  /api/chat, /api/generate,
# /api/embed and /v1/chat/completions answer this way when the query has
# usage=FORM; otherwise they echo as before.  USAGE_FORMS gives, per
# form, the model and the (prompt, completion) counts the answer reports
# (None: the answer carries no counts).

USAGE_FORMS = {
    "ndjson": ("m-ndjson", (11, 22)),
    "json": ("m-json", (7, 13)),
    "embed": ("m-embed", (5, 0)),
    "oai-json": ("m-oai", (3, 4)),
    "sse": ("m-sse", (9, 10)),          # counts only if asked for
    "sse-none": ("m-sse", None),        # never any counts
}
SSE_USAGE_EVENTS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"m-sse",'
    b'"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"m-sse",'
    b'"choices":[{"index":0,"delta":{"content":"lo"},'
    b'"finish_reason":"stop"}]}\n\n',
]
SSE_USAGE_CHUNK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","model":"m-sse",'
    b'"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":10,'
    b'"total_tokens":19}}\n\n')
SSE_DONE = b"data: [DONE]\n\n"


def _asked_usage(ex):
    try:
        body = json.loads(ex.req.body or b"{}")
        return bool(body.get("stream_options", {}).get("include_usage"))
    except (ValueError, AttributeError):
        return False


def _metered(ex):
    form = ex.query.get("usage")
    if form == "json-gzip":     # counts inside, but compressed
        ex.respond(200, gzip.compress(json.dumps({
            "model": "m-json", "done": True, "prompt_eval_count": 7,
            "eval_count": 13}).encode(), mtime=0),
            [("Content-Encoding", "gzip")], "application/json")
        return
    if form not in USAGE_FORMS:
        return _echo(ex)
    model, counts = USAGE_FORMS[form]
    if form == "ndjson":
        p, c = counts
        ex.send_head(200, [("Content-Type", "application/x-ndjson"),
                           ("Transfer-Encoding", "chunked")])
        for w in ("Hel", "lo"):
            ex.send_chunk(json.dumps({"model": model, "response": w,
                                      "done": False}).encode() + b"\n")
        ex.send_chunk(json.dumps({
            "model": model, "response": "", "done": True,
            "total_duration": 1000, "load_duration": 2500000,
            "prompt_eval_count": p, "eval_count": c}).encode() + b"\n")
        ex.end_chunks()
    elif form == "json":
        p, c = counts
        ex.respond_json(200, {"model": model, "response": "Hello",
                              "done": True, "prompt_eval_count": p,
                              "eval_count": c, "load_duration": 1500000})
    elif form == "embed":
        ex.respond_json(200, {"model": model, "embeddings": [[0.1, 0.2]],
                              "prompt_eval_count": counts[0]})
    elif form == "oai-json":
        p, c = counts
        ex.respond_json(200, {
            "id": "x", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": "Hi"}}],
            "usage": {"prompt_tokens": p, "completion_tokens": c,
                      "total_tokens": p + c}})
    else:
        ex.send_head(200, [("Content-Type", "text/event-stream"),
                           ("Transfer-Encoding", "chunked")])
        for e in SSE_USAGE_EVENTS:
            ex.send_chunk(e)
        if form == "sse" and _asked_usage(ex):
            ex.send_chunk(SSE_USAGE_CHUNK)
        ex.send_chunk(SSE_DONE)
        ex.end_chunks()


for _p in ("/api/chat", "/api/generate", "/api/embed",
           "/v1/chat/completions"):
    route(_p)(_metered)
