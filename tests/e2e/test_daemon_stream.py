"""
Responses: status and headers passed on as soon as upstream's head ends,
body bytes as they come (NDJSON and SSE streams), framing towards
HTTP/1.1 and HTTP/1.0 clients, gzip untouched, and an upstream that dies
mid-body.
"""

import gzip
import socket

import pytest

from conftest import build_request
from stub_upstream import (GZIP_BODY, GZIP_PLAIN, NDJSON_LINES, SSE_EVENTS,
                           TAGS_BODY, TRUNCATE_PART)

# How long a read may wait for bytes the proxy should already have sent.
PROMPT = 3.0


def start_stream(daemon, target, method="POST", body=b'{"stream":true}'):
    c = daemon.connect()
    c.send(build_request(method, target, daemon.auth(),
                         body if method == "POST" else None))
    c.settimeout(PROMPT)
    try:
        r = c.read_head(method)
    except socket.timeout:
        pytest.fail(f"no response head within {PROMPT}s: the proxy holds "
                    "the head back until the body is done")
    return c, r


@pytest.mark.parametrize("target,gate,parts,ctype", [
    ("/stream/ndjson", "ndjson", NDJSON_LINES, "application/x-ndjson"),
    ("/stream/sse", "sse", SSE_EVENTS, "text/event-stream"),
], ids=["ndjson", "sse"])
def test_stream_first_part_arrives_before_the_rest_exists(daemon, stub,
                                                          target, gate,
                                                          parts, ctype):
    c, r = start_stream(daemon, target)
    assert r.status == 200, r
    assert r.header("Content-Type") == ctype
    first = parts[0]
    got = c.read_body_until(r, first, PROMPT)
    assert got, (f"first part not received within {PROMPT}s while upstream "
                 f"held the rest back (buffering proxy?); got {r.body!r}")
    assert r.body == first
    assert not stub.gate(gate).is_set()
    stub.release(gate)
    c.read_body(r, deadline=10)
    assert r.complete, r
    assert r.body == b"".join(parts)
    assert r.framing == "chunked"
    # the connection goes on
    c.settimeout(5)
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


def test_head_passed_on_before_body(daemon, stub):
    c, r = start_stream(daemon, "/gated-headers", method="GET")
    assert r.status == 200 and r.header("Content-Length") == "13"
    stub.release("headers")
    c.read_body(r, deadline=5)
    assert r.complete and r.body == b'{"done":true}'


def test_content_length_passed_through(daemon, stub):
    r = daemon.get("/api/tags")
    assert r.status == 200 and r.body == TAGS_BODY
    assert r.header_all("Content-Length") == [str(len(TAGS_BODY))]
    assert r.header("Transfer-Encoding") is None
    assert r.header("Content-Type") == "application/json; charset=utf-8"


def test_close_delimited_upstream_chunked_to_http11(daemon, stub):
    c = daemon.connect()
    r = c.get("/close-delimited", daemon.auth())
    assert r.status == 200, r
    assert r.framing == "chunked", f"expected chunked framing: {r!r}"
    assert r.complete and not r.closed
    assert r.body == TRUNCATE_PART + b"-and-the-end"
    assert r.header("Content-Type") == "text/plain"
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


@pytest.mark.parametrize("target", ["/close-delimited", "/stream/ndjson"])
def test_no_length_upstream_close_delimited_to_http10(daemon, stub, target):
    stub.release("ndjson")
    c = daemon.connect()
    r = c.get(target, daemon.auth(), version="HTTP/1.0", host=None)
    assert r.status == 200, r
    assert r.version in ("HTTP/1.0", "HTTP/1.1")
    assert r.header("Transfer-Encoding") is None, \
        "chunked sent to an HTTP/1.0 client"
    assert r.framing in ("close", "length")
    assert r.complete
    expected = {"/close-delimited": TRUNCATE_PART + b"-and-the-end",
                "/stream/ndjson": b"".join(NDJSON_LINES)}[target]
    assert r.body == expected
    assert c.wait_closed(2), "HTTP/1.0 connection left open"


def test_length_upstream_to_http10(daemon, stub):
    c = daemon.connect()
    r = c.get("/api/tags", daemon.auth(), version="HTTP/1.0", host=None)
    assert r.status == 200 and r.body == TAGS_BODY
    assert r.header("Transfer-Encoding") is None
    assert c.wait_closed(2), "HTTP/1.0 connection left open"


@pytest.mark.parametrize("target", ["/gzip", "/gzip?chunked=1"])
@pytest.mark.parametrize("accept", [None, "gzip", "gzip, deflate, br"])
def test_gzip_passes_untouched(daemon, stub, target, accept):
    headers = [("Accept-Encoding", accept)] if accept else []
    r = daemon.get(target, headers=headers)
    assert r.status == 200, r
    assert r.header("Content-Encoding") == "gzip"
    assert r.body == GZIP_BODY, "the gzip bytes were changed"
    assert gzip.decompress(r.body) == GZIP_PLAIN
    if target == "/gzip":
        assert r.header("Content-Length") == str(len(GZIP_BODY))
    req = stub.last_request()
    assert req.header_all("Accept-Encoding") == ([accept] if accept else [])


def test_upstream_dies_mid_chunked_body(daemon, stub):
    c = daemon.connect()
    c.send(build_request("GET", "/truncate-chunked", daemon.auth()))
    r = c.read_head()
    assert r.status == 200 and r.framing == "chunked", r
    c.read_body(r, deadline=5)
    assert r.closed, "connection not closed after upstream died"
    assert not r.complete, "the proxy ended the cut body with a last chunk"
    raw_body = bytes(c.raw)[len(r.raw_head):]
    assert b"0\r\n\r\n" not in raw_body, raw_body
    assert r.body == TRUNCATE_PART + b"more-", \
        f"client did not get what upstream sent before dying: {r.body!r}"


def test_upstream_dies_short_of_content_length(daemon, stub):
    c = daemon.connect()
    r = c.get("/truncate-cl", daemon.auth())
    assert r.status == 200, r
    assert r.header("Content-Length") == "1000"
    assert r.closed and not r.complete
    assert r.body == TRUNCATE_PART


def test_upstream_dies_mid_body_to_http10(daemon, stub):
    """To an HTTP/1.0 client too the cut body stays short of the
    Content-Length upstream announced."""
    c = daemon.connect()
    r = c.get("/truncate-cl", daemon.auth(), version="HTTP/1.0", host=None)
    assert r.header("Content-Length") == "1000"
    assert r.closed and not r.complete and r.body == TRUNCATE_PART


def test_hop_by_hop_response_headers_dropped(daemon, stub):
    c = daemon.connect()
    r = c.get("/hop-headers", daemon.auth())
    assert r.status == 200 and r.body == b'{"ok":true}', r
    names = [n.lower() for n, _ in r.headers]
    for gone in ("x-hop-resp", "keep-alive", "proxy-connection", "upgrade"):
        assert gone not in names, f"{gone} passed to the client: {r.headers}"
    assert "x-hop-resp" not in ",".join(r.header_all("Connection")).lower()
    assert r.header_all("X-End-To-End") == ["kept"]
    assert r.header_all("X-Multi") in (["one", "two"], ["one, two"])
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


@pytest.mark.parametrize("code", [201, 204, 304, 400, 404, 500, 503])
def test_upstream_status_passed_through(daemon, stub, code):
    c = daemon.connect()
    r = c.get(f"/status?code={code}", daemon.auth())
    assert r.status == code, r
    if code in (204, 304):
        assert r.body == b""
        assert r.header("Transfer-Encoding") is None
    else:
        assert r.body == f'{{"status":{code}}}'.encode()
        assert r.header("Content-Type") == "application/json"
    # framing was right: the next response on the connection is intact
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY
