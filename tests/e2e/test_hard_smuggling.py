"""
Request smuggling, tested differentially: each row of a table is raw
bytes sent through ollaguardd to the stub upstream, and the test checks
both sides of the proxy.

  the client side   the status of each response, in order, and whether
                    the connection was closed after the last one;
  the upstream side exactly which well-framed requests the stub read
                    (method, target, body bytes), in order; and, for
                    bodies that break only after forwarding began, that
                    the started request was cut (its body never complete,
                    its connection closed by the proxy).

Every request carries the master key, so authentication is never what
refuses a row.  Many rows hide a complete second request, GET /smuggled
with the master key, where a parser that framed the message differently
would find it: the stub must never see it.

A row may list more than one acceptable outcome where the RFCs leave a
choice (RFC 9112 6.3 lets a recipient either refuse a Content-Length
list of identical values or read it as one value, for instance); the
status of the first response picks the outcome, and that outcome is
then checked exactly.
"""

import time
from dataclasses import dataclass, field

import pytest

from conftest import MASTER_KEY, assert_error_response

AUTH = f"Authorization: Bearer {MASTER_KEY}\r\n".encode()
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
HEADER_TIMEOUT = 2

# The daemon's own error statuses: they come with a JSON error body.
DAEMON_ERRORS = {400, 405, 408, 413, 414, 417, 431, 501, 505}


def raw(start, lines=(), body=b"", host=True, auth=True):
    """A request head from a start line and header lines (bytes, without
    CRLF), with Host and the master key first unless told otherwise."""
    out = start + b"\r\n"
    if host:
        out += b"Host: x\r\n"
    if auth:
        out += AUTH
    for line in lines:
        out += line + b"\r\n"
    return out + b"\r\n" + body


def post(lines=(), body=b"", target=b"/echo"):
    return raw(b"POST " + target + b" HTTP/1.1", lines, body)


def chunked(body_wire, target=b"/echo", lines=()):
    return post([b"Transfer-Encoding: chunked", *lines], body_wire, target)


def get(target=b"/echo", lines=()):
    return raw(b"GET " + target + b" HTTP/1.1", lines)


@dataclass
class Outcome:
    statuses: list           # one set of allowed statuses per response
    closes: object           # closed after the last response: True,
                             # False, or None (either is right)
    upstream: list           # [(method, target, body)] complete, in order
    partial_ok: bool = False  # a started request may be cut off upstream


def refused(*statuses, partial_ok=False):
    """Answered by the daemon with an error and closed; nothing (or, with
    partial_ok, only a request cut short) upstream."""
    return Outcome([set(statuses or (400,))], True, [], partial_ok)


def served(*upstream, closes=False):
    """Each request forwarded and answered 200, in order; closes=None:
    the connection may be closed after the last one, or kept."""
    return Outcome([{200}] * len(upstream), closes, list(upstream))


@dataclass
class Row:
    id: str
    data: object             # bytes, or a function of the evil stub
    outcomes: list = field(default_factory=list)
    method: str = "GET"      # of the first response (HEAD has no body)
    why: str = ""


def R(id, data, *outcomes, method="GET", why=""):
    return Row(id, data, list(outcomes), method, why)


ROWS = [
    # -- Content-Length against Transfer-Encoding ---------------------------
    R("cl-te", post([b"Content-Length: %d" % (5 + len(SMUGGLED)),
                     b"Transfer-Encoding: chunked"],
                    b"0\r\n\r\n" + SMUGGLED),
      refused(), why="RFC 9112 6.3: both is an attack; refuse and close"),
    R("te-cl", post([b"Transfer-Encoding: chunked", b"Content-Length: 4"],
                    b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
      refused()),
    R("cl-te-http10", raw(b"POST /echo HTTP/1.0",
                          [b"Transfer-Encoding: chunked",
                           b"Content-Length: 5"], b"0\r\n\r\n" + SMUGGLED),
      refused()),
    # -- Transfer-Encoding obfuscations --------------------------------------
    R("te-xchunked", post([b"Transfer-Encoding: xchunked"],
                          b"0\r\n\r\n" + SMUGGLED), refused(400, 501)),
    R("te-chunked-identity", post([b"Transfer-Encoding: chunked, identity"],
                                  b"0\r\n\r\n" + SMUGGLED),
      refused(400, 501), why="chunked must be the last coding"),
    R("te-identity-chunked", post([b"Transfer-Encoding: identity, chunked"],
                                  b"0\r\n\r\n" + SMUGGLED),
      refused(400, 501), why="identity is no coding (RFC 9112 7)"),
    R("te-chunked-chunked", post([b"Transfer-Encoding: chunked, chunked"],
                                 b"0\r\n\r\n" + SMUGGLED), refused(400, 501)),
    R("te-space-before-colon", post([b"Transfer-Encoding : chunked"],
                                    b"0\r\n\r\n" + SMUGGLED), refused()),
    R("te-tab-before-colon", post([b"Transfer-Encoding\t: chunked"],
                                  b"0\r\n\r\n" + SMUGGLED), refused()),
    R("te-vtab-in-value", post([b"Transfer-Encoding: \x0bchunked"],
                               b"0\r\n\r\n" + SMUGGLED), refused()),
    R("te-quoted", post([b'Transfer-Encoding: "chunked"'],
                        b"0\r\n\r\n" + SMUGGLED), refused(400, 501)),
    R("te-obs-text", post([b"Transfer-Encoding: chunked\xa0"],
                          b"0\r\n\r\n" + SMUGGLED), refused(400, 501)),
    R("te-obs-fold", post([b"Transfer-Encoding: identity", b" chunked"],
                          b"0\r\n\r\n" + SMUGGLED), refused()),
    R("te-twice", post([b"Transfer-Encoding: chunked",
                        b"Transfer-Encoding: chunked"],
                       b"0\r\n\r\n" + SMUGGLED), refused(400, 501)),
    R("te-http10", raw(b"POST /echo HTTP/1.0", [b"Transfer-Encoding: chunked"],
                       b"0\r\n\r\n" + SMUGGLED), refused(),
      why="RFC 9112 6.1: TE in an HTTP/1.0 request is faulty framing"),
    # Valid spellings are served, framed the same way on both sides.
    R("te-uppercase", post([b"Transfer-Encoding: CHUNKED"],
                           b"5\r\nhello\r\n0\r\n\r\n"),
      served(("POST", "/echo", b"hello"))),
    R("te-ows", post([b"transfer-encoding:   chunked  "],
                     b"5\r\nhello\r\n0\r\n\r\n"),
      served(("POST", "/echo", b"hello"))),
    # -- Content-Length ------------------------------------------------------
    R("cl-dup-same", post([b"Content-Length: 5", b"Content-Length: 5"],
                          b"hello" + SMUGGLED),
      refused(), served(("POST", "/echo", b"hello"), ("GET", "/smuggled",
                                                      b"")),
      why="RFC 9112 6.3: refuse, or read identical values as one"),
    R("cl-dup-diff", post([b"Content-Length: 5", b"Content-Length: 6"],
                          b"hello!" + SMUGGLED), refused()),
    R("cl-list-same", post([b"Content-Length: 5, 5"], b"hello"),
      refused(), served(("POST", "/echo", b"hello"))),
    R("cl-list-diff", post([b"Content-Length: 5, 6"], b"hello!"), refused()),
    R("cl-plus", post([b"Content-Length: +5"], b"hello"), refused()),
    R("cl-minus", post([b"Content-Length: -5"], b"hello"), refused()),
    R("cl-hex", post([b"Content-Length: 0x5"], b"hello"), refused()),
    R("cl-inner-space", post([b"Content-Length: 5 5"], b"hello"), refused()),
    R("cl-space-before-colon", post([b"Content-Length : 5"], b"hello"),
      refused()),
    R("cl-overflow", post([b"Content-Length: 18446744073709551621"],
                          b"hello"), refused(400, 413)),
    R("cl-leading-spaces", post([b"Content-Length:    5   "], b"hello"),
      served(("POST", "/echo", b"hello")), why="spaces there are OWS"),
    R("cl-leading-zeros", post([b"Content-Length: 0005"], b"hello"),
      served(("POST", "/echo", b"hello"))),
    R("cl-named-by-connection", post([b"Connection: Content-Length",
                                      b"Content-Length: 5"],
                                     b"hello" + SMUGGLED),
      served(("POST", "/echo", b"hello"), ("GET", "/smuggled", b"")),
      why="a hop-by-hop listing must not unframe the body: the bytes "
      "after it are the client's own second request"),
    # -- chunked bodies (the head went upstream before the body broke) ------
    R("chunk-size-overflow", chunked(b"ffffffffffffffffff\r\nhello\r\n"
                                     b"0\r\n\r\n" + SMUGGLED),
      refused(400, 413, partial_ok=True)),
    R("chunk-size-2-64", chunked(b"10000000000000000\r\nhello\r\n"
                                 b"0\r\n\r\n" + SMUGGLED),
      refused(400, 413, partial_ok=True)),
    R("chunk-size-negative", chunked(b"-5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
      refused(partial_ok=True)),
    R("chunk-size-0x", chunked(b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
      refused(partial_ok=True)),
    R("chunk-size-trailing-space", chunked(b"5 \r\nhello\r\n0\r\n\r\n"),
      refused(partial_ok=True),
      why="RFC 9112 7.1: only BWS before ';' may follow the size"),
    R("chunk-data-too-long", chunked(b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
      refused(partial_ok=True)),
    R("chunk-bare-lf", chunked(b"5\nhello\n0\n\n" + SMUGGLED),
      refused(partial_ok=True)),
    R("chunk-last-missing", chunked(b"5\r\nhello\r\n" + SMUGGLED),
      refused(partial_ok=True),
      why="the request line is no chunk size"),
    R("chunk-ext-valid", chunked(b"5;name=value\r\nhello\r\n0;x=y\r\n\r\n"),
      served(("POST", "/echo", b"hello"))),
    R("chunk-ext-quoted", chunked(b'5;a="x;y"\r\nhello\r\n0\r\n\r\n'),
      served(("POST", "/echo", b"hello")), refused(partial_ok=True)),
    R("chunk-ext-long", chunked(b"5;" + b"e" * 60000 + b"\r\nhello\r\n"
                                b"0\r\n\r\n"),
      served(("POST", "/echo", b"hello")),
      refused(400, 413, partial_ok=True),
      why="extension bytes are never body bytes"),
    R("chunk-ext-many", chunked(b"".join(b"1;ext-%d=vvvvvvvvvvvv\r\n%c\r\n"
                                         % (i, 97 + i % 26)
                                         for i in range(500)) +
                                b"0\r\n\r\n"),
      served(("POST", "/echo", bytes(97 + i % 26 for i in range(500)))),
      refused(400, 413, partial_ok=True)),
    R("chunk-ext-crlf-in-quotes", chunked(b'5;a="x\r\n0\r\n\r\n' + SMUGGLED +
                                          b'"\r\nhello\r\n0\r\n\r\n'),
      refused(partial_ok=True), why="a quoted-string holds no CR or LF"),
    R("chunk-ext-bare-lf", chunked(b"5;a=b\nc\r\nhello\r\n0\r\n\r\n"),
      refused(partial_ok=True)),
    R("chunk-ext-no-name", chunked(b"5;\r\nhello\r\n0\r\n\r\n"),
      refused(partial_ok=True), served(("POST", "/echo", b"hello"))),
    R("chunk-trailer-valid", chunked(b"5\r\nhello\r\n0\r\nX-Trailer: a\r\n"
                                     b"\r\n"),
      served(("POST", "/echo", b"hello"))),
    R("chunk-trailer-request-line", chunked(b"5\r\nhello\r\n0\r\n" +
                                            SMUGGLED),
      refused(partial_ok=True)),
    # -- line endings and bytes with no place in a head ----------------------
    R("bare-lf-head", b"GET /echo HTTP/1.1\nHost: x\n" + AUTH[:-2] + b"\n\n",
      refused()),
    R("bare-lf-one-line", get(lines=[b"X-A: a\nContent-Length: 5"]),
      refused()),
    R("bare-cr", get(lines=[b"X-A: a\rContent-Length: 5"]), refused()),
    R("obs-fold", get(lines=[b"X-A: a", b" folded"]), refused()),
    R("obs-fold-tab", get(lines=[b"X-A: a", b"\tContent-Length: 5"]),
      refused()),
    R("nul-in-value", get(lines=[b"X-A: a\x00b"]), refused()),
    R("nul-in-name", get(lines=[b"X-\x00A: b"]), refused()),
    R("nul-after-cl", post([b"Content-Length: 5\x00" + b"0"],
                           b"hello" + SMUGGLED), refused()),
    R("high-byte-in-name", get(lines=[b"X-\xffA: b"]), refused()),
    # -- pipelining ------------------------------------------------------------
    R("pipeline-cl-then-get", post([b"Content-Length: 5"], b"hello",
                                   b"/echo?n=1") + get(b"/echo?n=2"),
      served(("POST", "/echo?n=1", b"hello"), ("GET", "/echo?n=2", b""))),
    R("pipeline-chunked-then-get", chunked(b"5\r\nhello\r\n0\r\n\r\n",
                                           b"/echo?n=1") + get(b"/echo?n=2"),
      served(("POST", "/echo?n=1", b"hello"), ("GET", "/echo?n=2", b""))),
    R("pipeline-three", get(b"/echo?n=1") +
      post([b"Content-Length: 3"], b"abc", b"/echo?n=2") +
      chunked(b"2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", b"/echo?n=3"),
      served(("GET", "/echo?n=1", b""), ("POST", "/echo?n=2", b"abc"),
             ("POST", "/echo?n=3", b"def"))),
    R("pipeline-cl0-then-get", post([b"Content-Length: 0"], b"",
                                    b"/echo?n=1") + get(b"/echo?n=2"),
      served(("POST", "/echo?n=1", b""), ("GET", "/echo?n=2", b""))),
    R("pipeline-after-connection-close",
      get(b"/echo?n=1", [b"Connection: close"]) + SMUGGLED,
      served(("GET", "/echo?n=1", b""), closes=True)),
    R("pipeline-after-http10", raw(b"GET /echo?n=1 HTTP/1.0") + SMUGGLED,
      served(("GET", "/echo?n=1", b""), closes=True)),
    R("pipeline-then-malformed", get(b"/echo?n=1") +
      post([b"Content-Length: 5", b"Transfer-Encoding: chunked"],
           b"0\r\n\r\n" + SMUGGLED),
      Outcome([{200}, {400}], True, [("GET", "/echo?n=1", b"")])),
    R("body-is-a-request", post([b"Content-Length: %d" % len(SMUGGLED)],
                                SMUGGLED),
      served(("POST", "/echo", SMUGGLED))),
    R("chunked-body-is-a-request",
      chunked(b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
      served(("POST", "/echo", SMUGGLED))),
    # -- bodies on methods that usually have none ------------------------------
    R("get-with-body", raw(b"GET /echo?n=1 HTTP/1.1", [b"Content-Length: 5"],
                           b"hello") + get(b"/echo?n=2"),
      served(("GET", "/echo?n=1", b"hello"), ("GET", "/echo?n=2", b""))),
    R("get-with-body-a-request", raw(b"GET /echo HTTP/1.1",
                                     [b"Content-Length: %d" % len(SMUGGLED)],
                                     SMUGGLED),
      served(("GET", "/echo", SMUGGLED))),
    R("head-with-body-a-request", raw(b"HEAD /echo HTTP/1.1",
                                      [b"Content-Length: %d" % len(SMUGGLED)],
                                      SMUGGLED),
      served(("HEAD", "/echo", b""), closes=None), method="HEAD",
      why="a HEAD body is not forwarded, but it is read as a body (or the "
      "connection closed), never read as the next request"),
    # -- request lines ---------------------------------------------------------
    R("http09", b"GET /echo\r\n", refused(400, 408, 505)),
    R("http09-blank-line", b"GET /echo\r\n\r\n", refused(400, 505)),
    R("http20", raw(b"GET /echo HTTP/2.0"), refused(400, 505)),
    R("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", refused(400, 505)),
    R("http12", raw(b"GET /echo HTTP/1.2"), refused(400, 505)),
    R("http-lowercase", raw(b"GET /echo http/1.1"), refused(400, 505)),
    R("method-lowercase", raw(b"get /echo HTTP/1.1"), refused(400, 501)),
    R("authority-form", raw(b"GET evil.example:80 HTTP/1.1"), refused()),
    R("absolute-form-other-host",
      lambda evil: raw(b"GET http://%s/echo?a=1 HTTP/1.1" %
                       evil.hostport.encode()),
      served(("GET", "/echo?a=1", b"")),
      why="the target's authority never picks the upstream"),
    R("absolute-form-userinfo",
      lambda evil: raw(b"GET http://u:p@%s/echo HTTP/1.1" %
                       evil.hostport.encode()),
      served(("GET", "/echo", b""))),
    # -- Host ------------------------------------------------------------------
    R("host-with-at", raw(b"GET /echo HTTP/1.1", [b"Host: evil@x"],
                          host=False), refused(),
      why="RFC 9112 3.2: a Host with an invalid value MUST get 400"),
    R("host-with-space", raw(b"GET /echo HTTP/1.1", [b"Host: a b"],
                             host=False), refused(),
      why="RFC 9112 3.2: a Host with an invalid value MUST get 400"),
    R("host-twice", raw(b"GET /echo HTTP/1.1", [b"Host: y"]), refused()),
    R("host-missing", raw(b"GET /echo HTTP/1.1", host=False), refused()),
]


def row_bytes(row, evil):
    return row.data(evil) if callable(row.data) else row.data


def send_row(d, data):
    c = d.connect(timeout=HEADER_TIMEOUT + 3)
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the answer may be on its way already: read it
    return c


def read_one(c, method, what):
    try:
        return c.read_response(method)
    except Exception as e:  # Eof, a reset, a timeout, bad framing
        pytest.fail(f"{what}: no complete response ({type(e).__name__}: "
                    f"{e}); got {bytes(c.raw)[:400]!r}", pytrace=False)


def pick_outcome(row, first):
    for o in row.outcomes:
        if first.status in o.statuses[0]:
            return o
    pytest.fail(f"{row.id}: first response {first!r}; expected a status "
                f"in {[sorted(o.statuses[0]) for o in row.outcomes]}"
                + (f" ({row.why})" if row.why else ""), pytrace=False)


def upstream_requests(stub):
    """(complete well-framed, cut short) requests the stub read, leaving
    out the follow-up probes."""
    done, cut = [], []
    for q in list(stub.requests):
        if q.target == "/after":
            continue
        (done if q.body_complete and not q.error else cut).append(q)
    return done, cut


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_smuggling_row(daemon_factory, stub, evil_stub, row):
    d = daemon_factory(extra_args=("--header-timeout", str(HEADER_TIMEOUT)))
    c = send_row(d, row_bytes(row, evil_stub))
    first = read_one(c, row.method, row.id)
    o = pick_outcome(row, first)
    note = f" ({row.why})" if row.why else ""
    resps = [first]
    for i in range(1, len(o.statuses)):
        resps.append(read_one(c, "GET", f"{row.id}: response {i + 1}"))

    # The client's side.
    for i, (r, allowed) in enumerate(zip(resps, o.statuses)):
        assert r.status in allowed, \
            f"response {i + 1}: {r!r}; expected {sorted(allowed)}{note}"
        if r.status in DAEMON_ERRORS:
            assert_error_response(r, r.status)
    if o.closes:
        assert c.wait_closed(2), f"connection left open after {resps[-1]!r}"
        assert (resps[-1].header("Connection") or "").lower() == "close", \
            f"closed without saying so: {resps[-1]!r}"
    elif c.wait_closed(0.2):
        assert o.closes is None, "connection closed after a good row"
    else:
        after = c.request("GET", "/after", [("Authorization",
                                             f"Bearer {MASTER_KEY}")])
        assert after.status == 200 and after.json()["target"] == "/after", \
            f"the connection is out of step after the row: {after!r}"
    assert c.buf == b"", f"bytes after the last response: {bytes(c.buf)!r}"

    # The upstream's side.
    time.sleep(0.2)
    done, cut = upstream_requests(stub)
    got = [(q.method, q.target, q.body) for q in done]
    assert got == o.upstream, (f"upstream read {got!r}, expected "
                               f"{o.upstream!r}{note}")
    for q in done:
        # Framed one way only, and by the proxy (curl), for the upstream.
        framing = len(q.header_all("Content-Length")) + \
            len(q.header_all("Transfer-Encoding"))
        assert framing <= 1 and (framing == 1 or not q.body), \
            f"upstream request framed ambiguously: {stub.describe()}"
        assert q.header("Host") == stub.hostport, \
            f"upstream Host {q.header('Host')!r}"
    # Each 200 is the stub's echo of the request it answers: the order
    # of responses is the order of requests.
    for r, (method, target, body) in zip(resps, o.upstream):
        if r.status == 200 and method != "HEAD":
            echo = r.json()
            assert (echo["method"], echo["target"], echo["body_len"]) == \
                (method, target, len(body)), f"response out of order: {echo}"
    if o.partial_ok:
        for q in cut:
            assert not q.body_complete, q
            conn = stub.connection(q.conn_id)
            assert conn.closed.wait(2) and conn.closed_by == "peer", \
                f"upstream request cut short but its connection was not " \
                f"closed by the proxy: {stub.describe()}"
    else:
        assert cut == [], f"a request reached upstream: {stub.describe()}"
    assert stub.errors == [], f"upstream read broken HTTP: {stub.errors}"
    assert evil_stub.connections == [], "a request reached another host"
