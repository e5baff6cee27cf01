"""
Keep-alive: many requests per client connection, pipelining, upstream
connection reuse, Connection: close and HTTP/1.0, the idle timeout, and
workers not starved by idle clients.
"""

import hashlib
import time

from conftest import assert_error_response, build_request
from stub_upstream import (GZIP_BODY, NDJSON_LINES, TAGS_BODY, TRUNCATE_PART,
                           pattern_sha256)


def test_many_requests_on_one_connection_reuse_upstream(daemon, stub):
    n = 30
    c = daemon.connect()
    for i in range(n):
        if i % 3 == 2:
            r = c.request("POST", f"/echo?i={i}", daemon.auth(), b"x" * i)
            assert r.status == 200 and r.json()["body_len"] == i, r
        else:
            r = c.get(f"/api/tags?i={i}", daemon.auth())
            assert r.status == 200 and r.body == TAGS_BODY, r
    assert len(stub.requests) == n
    assert [q.target.split("?i=")[1] for q in stub.requests] == \
        [str(i) for i in range(n)]
    assert len(stub.connections) < n, \
        f"{len(stub.connections)} upstream connections for {n} requests"
    assert len(stub.connections) <= 2, \
        f"upstream connections not reused: {len(stub.connections)}"


def test_upstream_reused_across_client_connections(daemon_factory, stub):
    d = daemon_factory(workers=2)
    n = 10
    for i in range(n):
        r = d.get(f"/api/tags?c={i}")
        assert r.status == 200, r
    assert len(stub.connections) < n, \
        f"{len(stub.connections)} upstream connections for {n} clients"


def test_pipelined_requests_answered_in_order(daemon, stub):
    c = daemon.connect()
    data = b"".join([
        build_request("GET", "/api/tags?p=1", daemon.auth()),
        build_request("POST", "/echo?p=2", daemon.auth(), b"hello"),
        build_request("GET", "/status?code=404&p=3", daemon.auth()),
        build_request("GET", "/api/tags?p=4", daemon.auth()),
    ])
    c.send(data)
    r1 = c.read_response()
    r2 = c.read_response("POST")
    r3 = c.read_response()
    r4 = c.read_response()
    assert r1.status == 200 and r1.body == TAGS_BODY, r1
    assert r2.status == 200 and r2.json()["target"] == "/echo?p=2", r2
    assert r2.json()["body_len"] == 5
    assert r3.status == 404, r3
    assert r4.status == 200 and r4.body == TAGS_BODY, r4
    assert [q.target for q in stub.requests] == [
        "/api/tags?p=1", "/echo?p=2", "/status?code=404&p=3",
        "/api/tags?p=4"]


def test_pipelined_after_401(daemon, stub):
    c = daemon.connect()
    c.send(build_request("GET", "/api/tags?p=1") +
           build_request("GET", "/api/tags?p=2", daemon.auth()))
    assert_error_response(c.read_response(), 401)
    r = c.read_response()
    assert r.status == 200 and r.body == TAGS_BODY, r
    assert [q.target for q in stub.requests] == ["/api/tags?p=2"]


def test_mixed_responses_on_one_connection(daemon, stub):
    """Every kind of response framing, one after another: if any one is
    framed wrong, the next response is garbled."""
    stub.release("ndjson")
    c = daemon.connect(timeout=10)
    a = daemon.auth()
    r = c.request("HEAD", "/echo", a)
    assert r.status == 200 and r.body == b""
    r = c.get("/status?code=204", a)
    assert r.status == 204 and r.body == b""
    r = c.get("/status?code=304", a)
    assert r.status == 304 and r.body == b""
    r = c.get("/stream/ndjson", a)
    assert r.body == b"".join(NDJSON_LINES)
    r = c.get("/close-delimited", a)
    assert r.body == TRUNCATE_PART + b"-and-the-end" and r.complete
    r = c.get("/gzip", a)
    assert r.body == GZIP_BODY
    r = c.get("/gzip?chunked=1", a)
    assert r.body == GZIP_BODY
    r = c.get("/big-download?bytes=300000", a)
    assert hashlib.sha256(r.body).hexdigest() == pattern_sha256(300000)
    r = c.request("POST", "/key/generate", a, b"{}")
    assert r.status == 200
    r = c.get("/nope", [])
    assert r.status == 401
    r = c.get("/api/tags", a)
    assert r.status == 200 and r.body == TAGS_BODY, r


def test_connection_close_from_client(daemon, stub):
    c = daemon.connect()
    r = c.get("/api/tags", daemon.auth() + [("Connection", "close")])
    assert r.status == 200 and r.body == TAGS_BODY
    assert c.wait_closed(2), "connection left open after Connection: close"


def test_http10_request(daemon, stub):
    c = daemon.connect()
    r = c.get("/api/tags", daemon.auth(), version="HTTP/1.0", host=None)
    assert r.status == 200 and r.body == TAGS_BODY, r
    assert c.wait_closed(2), "HTTP/1.0 connection left open"
    assert stub.last_request().target == "/api/tags"


def test_http10_post(daemon, stub):
    c = daemon.connect()
    r = c.request("POST", "/echo", daemon.auth(), b"ten bytes!",
                  version="HTTP/1.0", host=None)
    assert r.status == 200 and r.json()["body_len"] == 10, r
    assert c.wait_closed(2)


def test_idle_connection_closed_after_keepalive_timeout(daemon_factory):
    d = daemon_factory(keepalive_timeout=1)
    c = d.connect()
    assert c.get("/api/tags", d.auth()).status == 200
    t0 = time.monotonic()
    assert not c.wait_closed(0.5), "closed well before the idle timeout"
    assert c.wait_closed(3), "idle connection still open 3.5 s later"
    elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed <= 3.5
    assert c.buf == b"", f"unexpected bytes on an idle close: {c.buf!r}"


def test_silent_new_connection_closed(daemon_factory):
    """A connection that never sends a byte does not hold a worker."""
    d = daemon_factory(keepalive_timeout=1, timeout=3,
                       extra_args=("--header-timeout", "2"))
    c = d.connect()
    assert c.wait_closed(6), "silent connection still open after 6 s"
    if c.buf:
        r = c.read_response()
        assert_error_response(r, 408)


def test_stalled_head_closed(daemon_factory):
    """Half a head and then nothing: the worker is freed, with a 408 or
    a plain close."""
    d = daemon_factory(keepalive_timeout=1, timeout=3,
                       extra_args=("--header-timeout", "2"))
    c = d.connect()
    c.send(b"GET /api/tags HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert c.wait_closed(8), "stalled head still open after 8 s"
    if c.buf:
        r = c.read_response()
        assert_error_response(r, 408)


def test_idle_client_does_not_block_others(daemon_factory):
    d = daemon_factory(workers=2, keepalive_timeout=30)
    idle = d.connect()
    assert idle.get("/api/tags", d.auth()).status == 200
    t0 = time.monotonic()
    r = d.get("/api/tags")
    assert r.status == 200
    assert time.monotonic() - t0 < 1, "second client waited for the first"


def test_more_clients_than_workers_are_served(daemon_factory):
    """With both workers held by idle keep-alive clients a third client
    is served once the idle timeout frees one."""
    d = daemon_factory(workers=2, keepalive_timeout=1)
    held = [d.connect(), d.connect()]
    for c in held:
        assert c.get("/api/tags", d.auth()).status == 200
    t0 = time.monotonic()
    r = d.request("GET", "/api/tags", timeout=6)
    assert r.status == 200, r
    assert time.monotonic() - t0 < 4


def test_keepalive_survives_large_bodies(daemon, stub):
    c = daemon.connect(timeout=20)
    for i in range(3):
        body = bytes([i]) * (3 * 1024 * 1024)
        r = c.request("PUT", "/echo", daemon.auth(), body, chunked=(i == 1))
        assert r.status == 200, r
        assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert len(stub.connections) <= 2
