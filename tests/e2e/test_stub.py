"""
Self-tests of the stub upstream and of the test client, with no daemon:
if these fail, the daemon tests cannot be trusted.
"""

import gzip
import hashlib
import json
import socket
import time

import pytest

from conftest import HttpConn, chunk_encode
from stub_upstream import (GZIP_BODY, GZIP_PLAIN, NDJSON_LINES, SSE_EVENTS,
                           TAGS_BODY, TRUNCATE_PART, pattern_bytes,
                           pattern_sha256)


def connect(stub, timeout=5):
    return HttpConn("127.0.0.1", stub.port, timeout)


def test_tags(stub):
    with connect(stub) as c:
        r = c.get("/api/tags")
    assert r.status == 200
    assert r.body == TAGS_BODY
    assert r.header("Content-Length") == str(len(TAGS_BODY))
    assert r.framing == "length" and r.complete
    req = stub.last_request()
    assert (req.method, req.target, req.version) == ("GET", "/api/tags",
                                                     "HTTP/1.1")


def test_route_matches_under_a_path_prefix(stub):
    with connect(stub) as c:
        r = c.get("/ollama/api/tags")
    assert r.body == TAGS_BODY
    assert stub.last_request().target == "/ollama/api/tags"


def test_echo_records_headers_in_order_and_body(stub):
    body = b"hello \x00\xff world"
    with connect(stub) as c:
        r = c.request("POST", "/whatever/%2F?a=1+2", [
            ("X-One", "1"), ("X-Dup", "a"), ("X-Dup", "b")], body)
    assert r.status == 200
    echo = r.json()
    assert echo["target"] == "/whatever/%2F?a=1+2"
    assert echo["headers"][:4] == [["Host", "localhost"], ["X-One", "1"],
                                   ["X-Dup", "a"], ["X-Dup", "b"]]
    req = stub.last_request()
    assert req.body == body and req.body_len == len(body)
    assert req.body_sha256 == hashlib.sha256(body).hexdigest()
    assert not req.chunked and req.body_complete
    assert req.header_all("x-dup") == ["a", "b"]


def test_chunked_request_body(stub):
    body = pattern_bytes(300 * 1024)
    with connect(stub) as c:
        r = c.request("PUT", "/echo", body=body, chunked=True,
                      chunk_size=7777)
    assert r.status == 200
    req = stub.last_request()
    assert req.chunked and req.body_complete
    assert req.body_len == len(body)
    assert req.body_sha256 == hashlib.sha256(body).hexdigest()


def test_keep_alive_and_connection_records(stub):
    with connect(stub) as c:
        for _ in range(3):
            assert c.get("/api/tags").status == 200
    assert stub.wait_for(lambda: stub.connections[0].closed_at is not None)
    assert len(stub.connections) == 1
    conn = stub.connections[0]
    assert conn.requests == 3 and conn.closed_by == "peer"
    assert [r.seq for r in stub.requests] == [1, 2, 3]


def test_connection_close_honoured(stub):
    with connect(stub) as c:
        r = c.get("/api/tags", [("Connection", "close")])
        assert r.header("Connection") == "close"
        assert c.wait_closed(2)
    assert stub.connections[0].closed_by == "stub"


def test_head_has_no_body_and_keeps_connection(stub):
    with connect(stub) as c:
        r = c.request("HEAD", "/echo")
        assert r.status == 200 and r.body == b""
        assert int(r.header("Content-Length")) > 0
        assert c.get("/api/tags").body == TAGS_BODY


def test_expect_continue(stub):
    with connect(stub) as c:
        c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_head(interim=True)
        assert r.status == 100
        c.send(b"abc")
        r = c.read_response("POST")
    assert r.status == 200 and stub.last_request().body == b"abc"


def test_ndjson_is_gated(stub):
    with connect(stub) as c:
        c.send_request("POST", "/stream/ndjson", body=b"{}")
        r = c.read_head()
        assert r.framing == "chunked"
        assert c.read_body_until(r, b"\n", 2)
        assert r.body == NDJSON_LINES[0]
        with pytest.raises(socket.timeout):
            c.read_body_part(r, timeout=0.3)
        stub.release("ndjson")
        c.read_body(r)
    assert r.complete and r.body == b"".join(NDJSON_LINES)


def test_sse_is_gated(stub):
    with connect(stub) as c:
        c.send_request("GET", "/stream/sse")
        r = c.read_head()
        assert r.header("Content-Type") == "text/event-stream"
        assert c.read_body_until(r, b"\n\n", 2)
        with pytest.raises(socket.timeout):
            c.read_body_part(r, timeout=0.3)
        stub.release("sse")
        c.read_body(r)
    assert r.body == b"".join(SSE_EVENTS)


def test_gated_headers(stub):
    with connect(stub) as c:
        c.send_request("GET", "/gated-headers")
        r = c.read_head()
        with pytest.raises(socket.timeout):
            c.read_body_part(r, timeout=0.3)
        stub.release("headers")
        c.read_body(r)
    assert r.complete and r.body == b'{"done":true}'


def test_gzip(stub):
    for target in ("/gzip", "/gzip?chunked=1"):
        with connect(stub) as c:
            r = c.get(target)
        assert r.header("Content-Encoding") == "gzip"
        assert r.body == GZIP_BODY
        assert gzip.decompress(r.body) == GZIP_PLAIN


@pytest.mark.parametrize("chunked", ["", "&chunked=1"])
def test_big_download(stub, chunked):
    n = 3 * 1024 * 1024 + 17
    with connect(stub) as c:
        r = c.get(f"/big-download?bytes={n}{chunked}")
    assert r.complete and len(r.body) == n
    assert hashlib.sha256(r.body).hexdigest() == pattern_sha256(n)


def test_truncate_chunked(stub):
    with connect(stub) as c:
        r = c.get("/truncate-chunked")
        assert r.closed and not r.complete
        assert r.body == TRUNCATE_PART + b"more-"
        assert b"0\r\n\r\n" not in bytes(c.raw)


def test_truncate_cl(stub):
    with connect(stub) as c:
        r = c.get("/truncate-cl")
    assert r.header("Content-Length") == "1000"
    assert r.closed and not r.complete and r.body == TRUNCATE_PART


def test_close_delimited(stub):
    with connect(stub) as c:
        r = c.get("/close-delimited")
    assert r.framing == "close" and r.complete
    assert r.body == TRUNCATE_PART + b"-and-the-end"


def test_garbage(stub):
    with connect(stub) as c:
        c.send_request("GET", "/garbage")
        data = c.read_until_close(2)
    assert data.startswith(b"SSH-2.0")


def test_slow_headers_records_peer_close(stub):
    c = connect(stub)
    c.send_request("POST", "/slow-headers?secs=30", body=b"{}")
    assert stub.wait_requests(1)
    time.sleep(0.2)
    t0 = time.time()
    c.close()
    conn = stub.connections[0]
    assert conn.closed.wait(2)
    assert conn.closed_by == "peer" and conn.closed_at - t0 < 1


def test_endless_stream_stops_on_hangup(stub):
    c = connect(stub)
    c.send_request("GET", "/stream/endless")
    r = c.read_head()
    assert c.read_body_until(r, b"tok1", 2)
    t0 = time.time()
    c.close()
    conn = stub.connections[0]
    assert conn.closed.wait(2)
    assert conn.closed_by == "peer" and conn.closed_at - t0 < 1


def test_status_and_hop_headers(stub):
    with connect(stub) as c:
        r = c.get("/status?code=204")
        assert r.status == 204 and r.body == b""
        r = c.get("/status?code=404")
        assert r.status == 404 and json.loads(r.body) == {"status": 404}
        r = c.get("/hop-headers")
        assert r.header("X-Hop-Resp") == "must-not-pass"
        assert r.header_all("X-Multi") == ["one", "two"]


def test_chunk_encode_roundtrip():
    assert chunk_encode(b"abcde", 2) == \
        b"2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"
    assert chunk_encode(b"") == b"0\r\n\r\n"


def test_stop_ends_open_connections():
    from stub_upstream import StubUpstream
    s = StubUpstream().start()
    c = HttpConn("127.0.0.1", s.port, 5)
    c.send_request("GET", "/slow-headers?secs=30")
    assert s.wait_requests(1)
    t0 = time.monotonic()
    s.stop()
    assert time.monotonic() - t0 < 3
    assert c.wait_closed(2)
    c.close()
