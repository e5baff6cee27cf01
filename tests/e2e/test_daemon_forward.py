"""
Forwarding: what upstream receives.  Path and query byte-exact, a target
URL with a path prefix, every method, which headers pass, which are
dropped and which are added, bodies of every size and framing, and
Expect: 100-continue.
"""

import functools
import hashlib
import json
import time

import pytest

from conftest import (MASTER_KEY, assert_error_response, bearer,
                      build_request, chunk_encode)
from stub_upstream import TAGS_BODY, pattern_bytes

MiB = 1024 * 1024


@functools.lru_cache(maxsize=None)
def body_of(n):
    return pattern_bytes(n)


@functools.lru_cache(maxsize=None)
def sha_of(n):
    return hashlib.sha256(body_of(n)).hexdigest()


TARGETS = [
    "/api/tags?x=1&y=2",
    "/a%2Fb",
    "/a%2fb",
    "/%7Euser/x",
    "/~user",
    "/a+b?q=a+b&r=%2B",
    "/a;b=c;d",
    "//double//slash",
    "/a/../b",
    "/a/./b/.",
    "/api/../../x",
    "/x/y/",
    "/",
    "/x?",
    "/?",
    "/x?a=b?c/d",
    "/x?a=1&a=2&a=3",
    "/x?q=%20%25%00%22",
    "/%E2%9C%93?%e2%9c%93",
    "/p:1@h!$&'()*,=",
    "/UPPER/Case?Q=V",
    "/api/chat" + "/x" * 200,
]


def test_path_and_query_forwarded_byte_exact(daemon, stub):
    c = daemon.connect()
    wrong = []
    for t in TARGETS:
        r = c.get(t, daemon.auth())
        assert r.status == 200, f"{t!r}: {r!r}"
        got = stub.last_request().target
        if got != t:
            wrong.append(f"sent {t!r}, upstream got {got!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("suffix", ["/ollama", "/ollama/"])
def test_target_url_path_prefix(daemon_factory, stub, suffix):
    d = daemon_factory(target_url=stub.url + suffix)
    c = d.connect()
    r = c.get("/api/tags", d.auth())
    assert r.status == 200 and r.body == TAGS_BODY, r
    assert stub.last_request().target == "/ollama/api/tags"
    r = c.get("/api/show?name=a%2Fb", d.auth())
    assert r.status == 200, r
    assert stub.last_request().target == "/ollama/api/show?name=a%2Fb"
    r = c.get("/", d.auth())
    assert r.status == 200, r
    assert stub.last_request().target == "/ollama/"


def test_target_url_deep_prefix(daemon_factory, stub):
    d = daemon_factory(target_url=stub.url + "/a/b%20c")
    r = d.get("/api/tags?q=1")
    assert r.status == 200, r
    assert stub.last_request().target == "/a/b%20c/api/tags?q=1"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH",
                                    "OPTIONS"])
def test_methods_forwarded(daemon, stub, method):
    body = b'{"model":"llama3"}' if method in ("POST", "PUT", "PATCH",
                                              "DELETE") else None
    c = daemon.connect()
    r = c.request(method, "/api/echo-me", daemon.auth(), body)
    assert r.status == 200, r
    echo = r.json()
    assert echo["method"] == method and echo["target"] == "/api/echo-me"
    req = stub.last_request()
    assert req.method == method
    assert req.body == (body or b"")
    # the connection goes on
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


def test_head_gets_no_body(daemon, stub):
    c = daemon.connect()
    r = c.request("HEAD", "/echo", daemon.auth())
    assert r.status == 200 and r.body == b"", r
    assert stub.last_request().method == "HEAD"
    # no stray body bytes arrive, and the connection goes on
    c.send(build_request("GET", "/api/tags", daemon.auth()))
    r = c.read_response()
    assert r.status == 200 and r.body == TAGS_BODY, \
        f"after HEAD: {r!r} (a body was sent for HEAD?)"


def test_head_of_big_download(daemon, stub):
    c = daemon.connect()
    r = c.request("HEAD", f"/big-download?bytes={8 * MiB}", daemon.auth())
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == str(8 * MiB)
    r = c.get("/api/tags", daemon.auth())
    assert r.body == TAGS_BODY, r


def test_request_headers(daemon, stub):
    body = b'{"model":"llama3","prompt":"hi"}'
    c = daemon.connect()
    c.send(build_request("POST", "/echo", [
        ("Host", "client.example:8443"),
        ("Authorization", f"Bearer {MASTER_KEY}"),
        ("Connection", "keep-alive, X-Conn-Named"),
        ("X-Conn-Named", "drop-me"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Foo"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Foo", "bar"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Custom", "value with  inner  spaces"),
        ("X-Dup", "a"),
        ("X-Dup", "b"),
        ("User-Agent", "e2e-client/1.0"),
        ("Accept", "application/x-ndjson"),
        ("Content-Type", "application/json"),
        ("X-Empty", ""),
    ], body, host=None))
    r = c.read_response("POST")
    assert r.status == 200, r
    req = stub.last_request()
    names = req.header_names()

    assert req.header_all("Host") == [stub.hostport]
    for gone in ("authorization", "x-conn-named", "keep-alive", "te",
                 "trailer", "proxy-authorization", "proxy-connection",
                 "proxy-foo", "expect", "upgrade", "transfer-encoding"):
        assert gone not in names, f"{gone} reached upstream: {req.headers}"
    conn = ",".join(req.header_all("Connection")).lower()
    assert "x-conn-named" not in conn

    assert req.header_all("X-Forwarded-For") == ["127.0.0.1"]
    assert req.header_all("X-Forwarded-Proto") == ["http"]
    assert req.header_all("X-Forwarded-Host") == ["client.example:8443"]

    assert req.header_all("X-Custom") == ["value with  inner  spaces"]
    assert req.header_all("X-Dup") in (["a", "b"], ["a, b"]), req.headers
    assert req.header_all("User-Agent") == ["e2e-client/1.0"]
    assert req.header_all("Accept") == ["application/x-ndjson"]
    assert req.header_all("Content-Type") == ["application/json"]
    assert req.header_all("X-Empty") == [""]
    assert req.body == body
    assert req.header_all("Content-Length") == [str(len(body))]


def test_x_forwarded_host_is_client_host(daemon, stub):
    r = daemon.get("/echo")  # build_request sends Host: localhost
    assert r.status == 200
    req = stub.last_request()
    assert req.header_all("X-Forwarded-Host") == ["localhost"]
    assert req.header_all("X-Forwarded-For") == ["127.0.0.1"]


def test_several_x_forwarded_for_replaced(daemon, stub):
    r = daemon.get("/echo", headers=[("X-Forwarded-For", "1.2.3.4"),
                                     ("x-forwarded-for", "5.6.7.8, 9.9.9.9")])
    assert r.status == 200
    assert stub.last_request().header_all("X-Forwarded-For") == ["127.0.0.1"]


def test_non_ascii_header_value_passes_byte_exact(daemon, stub):
    value = "caf\xc3\xa9 \xe2\x9c\x93"  # UTF-8 bytes as latin-1 text
    r = daemon.get("/echo", headers=[("X-Utf8", value)])
    assert r.status == 200, r
    assert stub.last_request().header_all("X-Utf8") == [value]


def test_host_header_does_not_choose_upstream(daemon, stub, evil_stub):
    r = daemon.get("/api/tags", headers=[("Host", evil_stub.hostport)])
    assert r.status == 200 and r.body == TAGS_BODY, r
    assert stub.last_request().header("Host") == stub.hostport
    time.sleep(0.1)
    assert evil_stub.connections == []


@pytest.mark.parametrize("size", [0, 1, MiB, 64 * MiB],
                         ids=["0B", "1B", "1MiB", "64MiB"])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_request_body_arrives_intact(daemon, stub, size, chunked):
    body = body_of(size)
    c = daemon.connect(timeout=30)
    r = c.request("POST", "/echo", daemon.auth(), body, chunked=chunked,
                  chunk_size=100_000)
    assert r.status == 200, r
    echo = r.json()
    assert (echo["body_len"], echo["body_sha256"]) == (size, sha_of(size))
    req = stub.last_request()
    assert req.body_complete and req.body_len == size
    assert req.body_sha256 == sha_of(size)
    assert req.header("Expect") is None, "Expect reached upstream"
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


@pytest.mark.parametrize("size", [0, 5, MiB], ids=["0B", "5B", "1MiB"])
def test_content_length_body_keeps_content_length(daemon, stub, size):
    """A request with Content-Length reaches upstream with the same
    Content-Length, not re-framed as chunked."""
    r = daemon.request("POST", "/echo", body=body_of(size), timeout=15)
    assert r.status == 200, r
    req = stub.last_request()
    assert not req.chunked, "re-framed as chunked"
    if size:
        assert req.header_all("Content-Length") == [str(size)]
    else:
        assert req.header_all("Content-Length") in ([], ["0"])


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_expect_100_continue(daemon, stub, chunked):
    body = body_of(100_000)
    framing = ("Transfer-Encoding", "chunked") if chunked else \
        ("Content-Length", str(len(body)))
    c = daemon.connect()
    c.send(build_request("POST", "/echo", daemon.auth() + [
        ("Expect", "100-continue"), framing]))
    r = c.read_head("POST", interim=True)
    assert r.status == 100, f"expected 100 Continue first, got {r!r}"
    assert stub.requests == [] or not stub.requests[0].body_complete
    c.send(chunk_encode(body, 7000) if chunked else body)
    r = c.read_response("POST")
    assert r.status == 200, r
    req = stub.last_request()
    assert req.body_sha256 == sha_of(100_000) and req.body_complete
    assert req.header("Expect") is None
    assert c.get("/api/tags", daemon.auth()).body == TAGS_BODY


def test_expect_100_continue_bad_key_401_without_reading_body(daemon, stub):
    c = daemon.connect(timeout=3)
    c.send(build_request("POST", "/api/generate", bearer("wrong") + [
        ("Expect", "100-continue"), ("Content-Length", "10000000")]))
    r = c.read_head("POST", interim=True)
    assert r.status != 100, "100 Continue sent to a request with a bad key"
    c.read_body(r, deadline=3)
    assert_error_response(r, 401)
    assert stub.requests == []


def test_expect_100_continue_no_key_401(daemon, stub):
    c = daemon.connect(timeout=3)
    c.send(build_request("PUT", "/api/x", [
        ("Expect", "100-continue"), ("Transfer-Encoding", "chunked")]))
    r = c.read_head("PUT", interim=True)
    assert r.status != 100
    c.read_body(r, deadline=3)
    assert_error_response(r, 401)
    assert stub.requests == []


def test_big_download_through_proxy(daemon, stub):
    n = 64 * MiB
    for q in ("", "&chunked=1"):
        c = daemon.connect(timeout=30)
        r = c.get(f"/big-download?bytes={n}{q}", daemon.auth())
        assert r.status == 200 and r.complete, r
        assert len(r.body) == n
        assert hashlib.sha256(r.body).hexdigest() == sha_of(n)
        c.close()


def test_json_body_echo_roundtrip(daemon, stub):
    payload = {"model": "llama3", "prompt": "naïve ☃", "stream": False}
    body = json.dumps(payload, ensure_ascii=False).encode()
    r = daemon.request("POST", "/echo", body=body,
                       headers=[("Content-Type", "application/json")])
    assert r.status == 200
    assert json.loads(stub.last_request().body) == payload
