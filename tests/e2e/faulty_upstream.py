"""
A misbehaving upstream for the hard tests: a raw-socket server in the
pytest process whose every connection follows a script the test picks.

The stub in stub_upstream.py chooses its behaviour by path and stays a
well-behaved HTTP server underneath.  Here the unit of behaviour is the
connection: a test lines up what the next connections will do, and
anything beyond that is served normally.

    up = FaultyUpstream().start()
    up.plan(answer_raw(b"HTTP/1.1 2OO OK\\r\\n\\r\\n"))   # connection 1
    up.plan(serve_then_drop(1, "drop-next"))          # connection 2
    ...                                               # later: serve()
    up.stop()

A behaviour is a function taking a FaultyConn; the ready-made ones below
are factories returning such functions (serve, read_then_close,
close_at_once, answer_raw, silent, slow_reader, serve_then_drop).  A
test may also pass its own function, built from FaultyConn's helpers:
read_request (head and body, or the head alone), read_body, send,
respond, echo, close (FIN), reset (RST), wait_peer_close.  Connections
beyond the plan follow up.default, serve() unless the test changes it.
FaultyUpstream(port=N) listens on a given port, so a test can start the
upstream only after the proxy found nothing there.

Everything is recorded for the assertions:
  * per connection (up.connections): every byte received (raw), the
    requests read from it (FaultyRequest: head, body, whether the body
    was complete by its own framing), when it opened and closed, and
    who closed it: "peer" (the proxy), "upstream" (the script closed),
    "reset" (the script sent a RST) or "shutdown" (stop()).
  * up.requests: every request in arrival order.

Every wait is bounded (a script that waits for the proxy gives up after
HOLD_MAX), and stop() closes every socket and joins every thread.
"""

import hashlib
import json
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from stub_upstream import wait_until

HOLD_MAX = 30.0      # the longest a script waits for the proxy
HEAD_MAX = 256 * 1024
IO_WAIT = 10.0       # the longest a read of a request waits for bytes


class PeerGone(Exception):
    """The proxy closed or reset the connection."""


class BadRequest(Exception):
    """What the proxy sent is not a request the upstream can read."""


@dataclass(eq=False)
class FaultyRequest:
    conn_id: int
    seq: int                      # 1 for the first on its connection
    method: str
    target: str
    version: str
    headers: list                 # [(name, value)] as received
    started_at: float             # time.monotonic() when the head was read
    chunked: bool = False
    content_length: object = None
    body: bytearray = field(default_factory=bytearray)
    body_complete: bool = False   # its framing said the body ended
    ended_at: object = None       # monotonic time the body ended (or broke)
    error: str = ""

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    @property
    def body_sha256(self):
        return hashlib.sha256(self.body).hexdigest()


@dataclass(eq=False)
class FaultyConn:
    id: int
    peer: tuple
    behaviour: str
    opened_at: float              # monotonic
    sock: object = None
    up: object = None
    received: bytearray = field(default_factory=bytearray)
    requests: list = field(default_factory=list)
    events: list = field(default_factory=list)  # [(monotonic, text)]
    closed_at: object = None      # monotonic, once closed
    closed_by: str = ""
    closed: threading.Event = field(default_factory=threading.Event)
    _buf: bytearray = field(default_factory=bytearray)
    _eof: bool = False

    # -- recording --------------------------------------------------------

    def note(self, text):
        self.events.append((time.monotonic(), text))

    # -- reading ----------------------------------------------------------

    def _fill(self, timeout, limit=256 * 1024):
        """One recv of at most limit bytes into the buffer: True if bytes
        came, False at EOF or reset (recorded), None on timeout."""
        if self._eof:
            return False
        try:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return None
            data = self.sock.recv(limit)
        except (OSError, ValueError):
            data = b""
        if not data:
            self._eof = True
            self.note("peer closed")
            return False
        self.received += data
        self._buf += data
        return True

    def _fill_or_raise(self, timeout=IO_WAIT, limit=256 * 1024):
        end = time.monotonic() + timeout
        while True:
            if self.up._stopping.is_set():
                raise PeerGone("upstream stopping")
            left = end - time.monotonic()
            if left <= 0:
                raise PeerGone(f"nothing from the proxy for {timeout}s")
            r = self._fill(min(left, 0.1), limit)
            if r:
                return
            if r is False:
                raise PeerGone("eof")

    def _line(self):
        while True:
            i = self._buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[:i + 2]
                return line
            if len(self._buf) > 64 * 1024:
                raise BadRequest("line too long")
            self._fill_or_raise()

    def _take(self, n, piece=None, interval=0.0):
        """Up to n body bytes; with piece, at most piece bytes per recv,
        each after a pause of interval seconds (a slow reader)."""
        if piece is not None and interval > 0:
            time.sleep(interval)
        if not self._buf:
            self._fill_or_raise(limit=piece or 256 * 1024)
        take = bytes(self._buf[:min(n, piece or n)])
        del self._buf[:len(take)]
        return take

    def read_request(self, piece=None, interval=0.0, idle=HOLD_MAX,
                     body=True):
        """Reads one request, head and body (by Content-Length or
        chunked).  Returns the FaultyRequest (recorded even if its body
        breaks off), or None if the proxy closed before a head began.
        piece/interval make a slow reader of the body; body=False reads
        the head only (read_body reads the rest)."""
        end = time.monotonic() + idle
        while True:
            i = self._buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self._buf) > HEAD_MAX:
                raise BadRequest("head too large")
            if time.monotonic() > end or self.up._stopping.is_set():
                return None
            r = self._fill(0.1)
            if r is False:
                if self._buf:
                    self.note(f"closed mid-head: {bytes(self._buf[:80])!r}")
                return None
        head = bytes(self._buf[:i])
        del self._buf[:i + 4]
        lines = head.split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ")
        except ValueError:
            raise BadRequest(f"bad request line {lines[0]!r}")
        headers = []
        for raw in lines[1:]:
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name, value.strip(" \t")))
        req = FaultyRequest(self.id, len(self.requests) + 1, method, target,
                            version, headers, time.monotonic())
        self.requests.append(req)
        with self.up._lock:
            self.up.requests.append(req)
        self.note(f"request {req.seq}: {method} {target}")
        if body:
            self.read_body(req, piece, interval)
        return req

    def read_body(self, req, piece=None, interval=0.0):
        """Reads the body of req (see read_request); raises PeerGone or
        BadRequest if it breaks off, after recording how."""
        try:
            self._read_body(req, piece, interval)
            req.body_complete = True
            self.note(f"request {req.seq}: body complete, "
                      f"{len(req.body)} bytes")
        except (PeerGone, BadRequest) as e:
            req.error = str(e)
            self.note(f"request {req.seq}: body broke off after "
                      f"{len(req.body)} bytes: {e}")
            raise
        finally:
            req.ended_at = time.monotonic()

    def _read_body(self, req, piece, interval):
        te = req.header("Transfer-Encoding")
        cl = [v for n, v in req.headers if n.lower() == "content-length"]
        if te is not None:
            if te.strip().lower() != "chunked":
                raise BadRequest(f"Transfer-Encoding {te!r}")
            req.chunked = True
            while True:
                line = self._line()
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadRequest(f"chunk size line {line!r}")
                if size == 0:
                    while self._line():
                        pass
                    return
                while size > 0:
                    data = self._take(size, piece, interval)
                    req.body += data
                    size -= len(data)
                if self._line() != b"":
                    raise BadRequest("no CRLF after chunk data")
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise BadRequest(f"Content-Length {cl}")
            req.content_length = left = int(cl[0])
            while left > 0:
                data = self._take(left, piece, interval)
                req.body += data
                left -= len(data)

    # -- answering --------------------------------------------------------

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise PeerGone(str(e)) from e

    def respond(self, status=200, body=b"", headers=(), reason="OK",
                content_type="application/json"):
        """A complete response with Content-Length."""
        lines = [f"HTTP/1.1 {status} {reason}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{n}: {v}" for n, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def echo(self, req, headers=()):
        """Answers req with a JSON account of it (what serve() sends)."""
        obj = {"conn": self.id, "seq": req.seq, "method": req.method,
               "target": req.target, "body_len": len(req.body),
               "body_sha256": req.body_sha256, "chunked": req.chunked}
        self.respond(200, json.dumps(obj, separators=(",", ":")).encode(),
                     headers)

    def close(self):
        """Closes with a FIN (after whatever was sent)."""
        self.up._close(self, "upstream")

    def reset(self):
        """Closes with a RST (SO_LINGER 0): unread and unsent bytes are
        dropped, and the proxy's next read fails."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.up._close(self, "reset", shutdown=False)

    def wait_peer_close(self, timeout=HOLD_MAX):
        """Reads (and records) whatever comes until the proxy closes;
        True if it closed within timeout."""
        end = time.monotonic() + timeout
        while not self.up._stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self._fill(min(left, 0.1)) is False:
                return True
        return False


# ---------------------------------------------------------------------------
# Behaviours: factories returning a function of one FaultyConn.


def _named(name, fn):
    fn.behaviour_name = name
    return fn


def serve(keep_alive=True):
    """Well-behaved: every request gets an echo (see FaultyConn.echo)
    until the proxy closes; with keep_alive False, one request is
    answered with "Connection: close" and the connection closed, so the
    next request comes on a new connection (and meets the plan)."""
    def run(c):
        while True:
            req = c.read_request()
            if req is None:
                return
            if not keep_alive:
                c.echo(req, [("Connection", "close")])
                c.close()
                return
            c.echo(req)
    return _named("serve" if keep_alive else "serve-once", run)


def close_at_once():
    """Accepts, then closes before reading a byte."""
    return _named("close-at-once", lambda c: c.close())


def read_then_close():
    """Reads the whole request, then closes without a response."""
    def run(c):
        c.read_request()
        c.close()
    return _named("read-then-close", run)


def answer_raw(data, then="close", pause=0.0, more=b""):
    """Reads the request, sends data, waits pause seconds, sends more,
    then "close" (FIN), "reset" (RST) or "hold" (until the proxy closes
    the connection, at most HOLD_MAX)."""
    def run(c):
        c.read_request()
        c.send(data)
        if pause:
            time.sleep(pause)
        if more:
            c.send(more)
        if then == "close":
            c.close()
        elif then == "reset":
            c.reset()
        else:
            c.wait_peer_close()
    return _named(f"answer-raw-{then}", run)


def silent():
    """Reads the request, then says nothing until the proxy gives up."""
    def run(c):
        c.read_request()
        c.wait_peer_close()
    return _named("silent", run)


def slow_reader(piece, interval):
    """Reads request bodies piece bytes at a time, one piece every
    interval seconds, answering each request with an echo."""
    def run(c):
        while True:
            req = c.read_request(piece=piece, interval=interval)
            if req is None:
                return
            c.echo(req)
    return _named("slow-reader", run)


def serve_then_drop(n, how, idle=0.3):
    """Serves n requests, then drops the connection without a word:
      "close-idle"  closes it (FIN) after idle seconds of keep-alive;
      "reset-idle"  the same with a RST;
      "drop-next"   waits for the next request, reads it whole, and
                    closes without answering (the race a client of a
                    kept-alive connection must retry on);
      "reset-next"  waits for the next request head and resets the
                    connection without reading the body."""
    def run(c):
        for _ in range(n):
            req = c.read_request()
            if req is None:
                return
            c.echo(req)
        if how == "drop-next":
            c.read_request()
            c.note("dropping the connection unanswered")
            c.close()
            return
        if how == "reset-next":
            if c.read_request(body=False) is not None:
                c.note("resetting the connection on a new request")
                c.reset()
            return
        if c.wait_peer_close(idle):
            return
        c.note(f"dropping the idle connection ({how})")
        if how == "reset-idle":
            c.reset()
        else:
            c.close()
    return _named(f"serve-{n}-then-{how}", run)


# ---------------------------------------------------------------------------


class FaultyUpstream:
    def __init__(self, host="127.0.0.1", port=0, rcvbuf=None):
        """port 0 picks a free one.  rcvbuf sets SO_RCVBUF on the
        listening socket (accepted ones inherit it), so a slow reader
        pushes back on the proxy sooner."""
        self.host = host
        self.port = port
        self.rcvbuf = rcvbuf
        self.connections = []
        self.requests = []
        self.errors = []       # exceptions a script raised, as text
        self.default = serve()
        self._plan = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = []
        self._lsock = None

    # -- life -------------------------------------------------------------

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.bind((self.host, self.port))
        s.listen(128)
        self._lsock = s
        self.port = s.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name=f"faulty-accept-{self.port}")
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping.set()
        try:
            self._lsock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self.connections)
        for c in conns:
            self._close(c, "shutdown")
        for t in list(self._threads):
            t.join(timeout=3)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    # -- what the tests use -----------------------------------------------

    def plan(self, *behaviours):
        """The next connections follow these behaviours, in order; later
        ones follow self.default."""
        with self._lock:
            self._plan.extend(behaviours)

    def conn(self, conn_id):
        with self._lock:
            for c in self.connections:
                if c.id == conn_id:
                    return c
        return None

    def wait_for(self, pred, timeout=5.0, interval=0.01):
        return wait_until(pred, timeout, interval)

    def wait_connections(self, n, timeout=5.0):
        return self.wait_for(lambda: len(self.connections) >= n, timeout)

    def describe(self):
        """What happened, for failure messages."""
        with self._lock:
            conns = list(self.connections)
        lines = [f"faulty upstream {self.url}: {len(conns)} connection(s)"]
        for c in conns:
            t0 = c.opened_at
            closed = (f"+{c.closed_at - t0:.3f}s by {c.closed_by}"
                      if c.closed_at is not None else "open")
            lines.append(f"  conn {c.id} [{c.behaviour}] from {c.peer}: "
                         f"{len(c.received)} bytes in, closed {closed}")
            for r in c.requests:
                lines.append(f"    req {r.seq}: {r.method} {r.target} body "
                             f"{len(r.body)}B complete={r.body_complete} "
                             f"{r.error}")
            for t, text in c.events:
                lines.append(f"    +{t - t0:.3f}s {text}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)

    # -- the server -------------------------------------------------------

    def _accept_loop(self):
        next_id = 1
        while not self._stopping.is_set():
            try:
                r, _, _ = select.select([self._lsock], [], [], 0.1)
                if not r:
                    continue
                sock, peer = self._lsock.accept()
            except (OSError, ValueError):
                return
            with self._lock:
                fn = self._plan.pop(0) if self._plan else self.default
                c = FaultyConn(next_id, peer,
                               getattr(fn, "behaviour_name", fn.__name__),
                               time.monotonic(), sock, self)
                next_id += 1
                self.connections.append(c)
            t = threading.Thread(target=self._run, args=(c, fn), daemon=True,
                                 name=f"faulty-conn-{c.id}")
            t.start()
            with self._lock:
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)

    def _run(self, c, fn):
        try:
            fn(c)
        except PeerGone:
            pass
        except BadRequest as e:
            c.note(f"bad request: {e}")
        except Exception as e:  # a bug in a script: record, do not hang
            self.errors.append(f"conn {c.id}: {type(e).__name__}: {e}")
        # After the script, the connection ends: if the proxy closed
        # first (it was at EOF) that is recorded as the peer's doing.
        self._close(c, "peer" if c._eof else "upstream")

    def _close(self, c, by, shutdown=True):
        with self._lock:
            if c.closed_at is not None:
                return
            c.closed_at = time.monotonic()
            c.closed_by = by
        c.note(f"closed by {by}")
        if shutdown:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            c.sock.close()
        except OSError:
            pass
        c.closed.set()
