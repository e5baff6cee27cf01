"""
Upstream failures (refused, silent, garbage, gone) and a client that
goes away: the daemon answers 502/504 itself, and aborts the upstream
request when the client leaves so Ollama stops generating.
"""

import time

import pytest

from conftest import assert_error_response, build_request, free_port
from stub_upstream import TAGS_BODY


def assert_still_serving(daemon):
    r = daemon.get("/api/tags")
    assert r.status == 200 and r.body == TAGS_BODY, \
        f"daemon not serving after the failure: {r!r}"


def test_upstream_refused_502_fast(daemon_factory):
    d = daemon_factory(target_url=f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        t0 = time.monotonic()
        r = d.get("/api/tags")
        elapsed = time.monotonic() - t0
        assert_error_response(r, 502)
        assert elapsed < 1.5, f"502 took {elapsed:.2f}s"


def test_upstream_refused_generate_still_works(daemon_factory):
    """/key/generate does not need upstream."""
    d = daemon_factory(target_url=f"http://127.0.0.1:{free_port()}")
    r = d.generate({})
    assert r.status == 200, r


def test_upstream_silent_before_headers_504(daemon_factory, stub):
    d = daemon_factory(timeout=2)
    t0 = time.monotonic()
    r = d.request("POST", "/slow-headers?secs=30", body=b'{"stream":false}',
                  timeout=10)
    elapsed = time.monotonic() - t0
    assert_error_response(r, 504)
    assert 1.5 <= elapsed <= 4.5, f"504 after {elapsed:.2f}s, --timeout 2"
    # the upstream request was given up, not left running
    conn = stub.connections[0]
    assert conn.closed.wait(2), "upstream connection still open after 504"
    assert conn.closed_by == "peer"
    assert_still_serving(d)


def test_upstream_silent_mid_body_aborts(daemon_factory, stub):
    """Head sent, then silence past --timeout: the client connection is
    closed short of the announced length (a 504 is too late)."""
    d = daemon_factory(timeout=2)
    c = d.connect(timeout=10)
    t0 = time.monotonic()
    c.send(build_request("GET", "/gated-headers", d.auth()))
    r = c.read_head()
    assert r.status == 200
    c.read_body(r, deadline=8)
    elapsed = time.monotonic() - t0
    assert r.closed and not r.complete, r
    assert elapsed <= 5, f"connection closed after {elapsed:.2f}s"
    conn = stub.connections[0]
    assert conn.closed.wait(2) and conn.closed_by == "peer"


def test_garbage_from_upstream_502(daemon, stub):
    r = daemon.get("/garbage")
    assert_error_response(r, 502)
    assert_still_serving(daemon)


def test_upstream_closes_without_answer_502(daemon, stub):
    r = daemon.get("/close-immediately")
    assert_error_response(r, 502)
    assert_still_serving(daemon)


def test_client_hangs_up_mid_stream_aborts_upstream(daemon, stub):
    c = daemon.connect()
    c.send(build_request("POST", "/stream/endless", daemon.auth(), b"{}"))
    r = c.read_head("POST")
    assert r.status == 200
    assert c.read_body_until(r, b"tok2", 3), r
    t0 = time.time()
    c.close()
    assert stub.wait_for(lambda: stub.connections and
                         stub.connections[0].closed_at is not None, 4), \
        "upstream still streaming 4s after the client hung up"
    conn = stub.connections[0]
    assert conn.closed_by == "peer"
    assert conn.closed_at - t0 <= 2.0, \
        f"upstream closed {conn.closed_at - t0:.2f}s after the client left"
    assert_still_serving(daemon)


def test_client_hangs_up_while_upstream_silent(daemon_factory, stub):
    """Like a "stream": false generation: nothing comes for a long time.
    The client leaves after 1 s; upstream must be told within ~3 s."""
    d = daemon_factory(timeout=30)
    c = d.connect()
    c.send(build_request("POST", "/slow-headers?secs=30", d.auth(),
                         b'{"stream":false}'))
    assert stub.wait_requests(1, 3), "request never reached upstream"
    time.sleep(1)
    t0 = time.time()
    c.close()
    assert stub.wait_for(lambda: stub.connections[0].closed_at is not None,
                         5), "upstream still waiting 5s after the client left"
    conn = stub.connections[0]
    assert conn.closed_by == "peer"
    assert conn.closed_at - t0 <= 3.0, \
        f"upstream closed {conn.closed_at - t0:.2f}s after the client left"
    assert_still_serving(d)


@pytest.mark.parametrize("target", ["/truncate-chunked", "/truncate-cl",
                                    "/garbage", "/close-immediately"])
def test_failures_do_not_poison_upstream_reuse(daemon, stub, target):
    """After an upstream failure on a kept-alive client connection the
    next request works (on that connection if it stayed open)."""
    c = daemon.connect()
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY
    r = c.get(target, daemon.auth())
    if r.closed or c.wait_closed(0.2):
        c = daemon.connect()
    r = c.get("/api/tags", daemon.auth())
    assert r.status == 200 and r.body == TAGS_BODY, r
