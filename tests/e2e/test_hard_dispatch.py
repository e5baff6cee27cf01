"""
Round 2 of the hostile-client tests, for the dispatch of a request:
a refused request is answered at once and never holds a worker; a stop
or reload never cuts a request that arrives on a kept-alive connection;
no response to HEAD carries a body; a preflight with a body is not
forwarded without a key.
"""

import signal
import threading
import time

from conftest import HttpConn, build_request, wait_until
from test_ops_helpers import log_has, wait_workers

WRONG = [("Authorization", "Bearer sk-not-a-key-at-all")]


def test_wrong_key_with_a_trickled_body_is_answered_at_once(daemon_factory):
    """Hole 1: a wrong key with Content-Length: 1000000 and one body byte
    every second got no 401 for 40 s, holding a worker all along."""
    d = daemon_factory(workers=2, extra_args=[
        "--max-workers", "2", "--min-spare", "0", "--max-spare", "2",
        "--auth-fail-limit", "0", "--header-timeout", "3"])
    evil = []
    for _ in range(4):
        c = d.connect(timeout=5)
        c.send(build_request("POST", "/api/chat",
                             WRONG + [("Content-Length", "1000000")]))
        c.send(b"x")
        evil.append(c)
    start = time.monotonic()
    for c in evil:
        resp = c.read_response("POST")
        assert resp.status == 401, resp
        assert resp.header("Connection") == "close", resp
    assert time.monotonic() - start < 2.0, "a refused request waited"
    # The refused clients keep trickling; none holds a worker past the
    # lingering close, so a valid request is served at once.
    for c in evil:
        try:
            c.send(b"y")
        except OSError:
            pass
    t = time.monotonic()
    assert d.get("/api/tags").status == 200
    assert time.monotonic() - t < 2.5
    for c in evil:
        assert c.wait_closed(2.5), "a refused connection stayed open"


def test_refused_small_body_keeps_the_connection(daemon):
    """A body that has fully arrived is dropped and the connection
    serves the next request, as before."""
    with daemon.connect() as c:
        r = c.request("POST", "/api/chat", WRONG, b'{"model":"x"}')
        assert r.status == 401 and r.header("Connection") is None, r
        r = c.request("GET", "/api/tags", daemon.auth())
        assert r.status == 200


def test_head_of_a_daemon_response_has_no_body(daemon):
    """Hole 7: 401/404/405 and friends to HEAD carried their JSON body."""
    with daemon.connect() as c:
        for target, key in (("/api/tags", None), ("/key/generate", "m")):
            hdrs = daemon.auth() if key else []
            c.send(build_request("HEAD", target, hdrs))
            r = c.read_response("HEAD")
            assert r.status in (401, 405), r
            assert int(r.header("Content-Length")) > 0
            assert r.body == b""
        # Nothing was left behind on the connection: the next answer is
        # read from its first byte.
        r = c.request("GET", "/api/tags", daemon.auth())
        assert r.status == 200, r


def test_preflight_with_a_body_is_not_forwarded(daemon, stub):
    hdrs = [("Origin", "http://x.example"),
            ("Access-Control-Request-Method", "POST")]
    r = daemon.request("OPTIONS", "/api/chat", key=None, headers=hdrs,
                       body=b'{"model":"x"}')
    assert r.status == 400, r
    assert not stub.requests_to("/api/chat")
    r = daemon.request("OPTIONS", "/cors", key=None, headers=hdrs)
    assert r.status == 204, r


def _keepalive_then_stream(d, results, i, go):
    c = HttpConn("127.0.0.1", d.port, 10)
    try:
        r = c.request("GET", "/api/tags", d.auth())
        assert r.status == 200
        go.wait(10)
        c.send(build_request("POST", "/stream/ndjson?gate=sighup",
                             d.auth(), b"{}"))
        try:
            resp = c.read_head("POST")
        except Exception:
            # Closed before any byte of a response: an idle keep-alive
            # connection the server closed; the client sends it again.
            results[i] = "retry"
            return
        c.read_body(resp, 15)
        results[i] = "ok" if resp.complete else "cut"
    except Exception as e:  # noqa: BLE001
        results[i] = f"error {e!r}"
    finally:
        c.close()


def test_reload_never_cuts_a_request_on_a_kept_alive_connection(
        daemon_factory, stub):
    """Hole 2: a reload shut the read side of idle keep-alive connections
    while a request was arriving on them; it was read, served and cut
    ~250 ms in.  Now it is either not read at all or served whole."""
    d = daemon_factory(workers=34, timeout=30, extra_args=[
        "--max-spare", "40", "--min-spare", "2"])
    wait_workers(d, 30, timeout=10)
    n = 30
    results = [None] * n
    go = threading.Event()
    ts = [threading.Thread(target=_keepalive_then_stream,
                           args=(d, results, i, go)) for i in range(n)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    go.set()
    d.proc.send_signal(signal.SIGHUP)
    assert log_has(d, r"reloaded: generation 1\b", 5)
    time.sleep(1.0)
    stub.release("sighup")
    for t in ts:
        t.join(30)
    bad = [r for r in results if r not in ("ok", "retry")]
    assert not bad, f"streams cut or failed: {results}"
    assert wait_until(lambda: d.get("/api/tags").status == 200, 5)
