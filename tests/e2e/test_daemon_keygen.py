"""
POST /key/generate: who may call it, what it accepts and answers, and
that its keys work at once on every worker, also under parallel load.
"""

import datetime
import json
import re
import threading
import time

import pytest

from conftest import (KEY_RE, MASTER_KEY, assert_error_response, bearer,
                      build_request, keyctl_add)
from stub_upstream import TAGS_BODY

ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"


def iso_to_unix(s):
    assert isinstance(s, str) and re.fullmatch(ISO_RE, s), \
        f"expires_at {s!r} is not ISO 8601 with a zone"
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")) \
        .timestamp()


def check_generated(resp, prefix=""):
    """A 200 /key/generate answer; returns its JSON."""
    assert resp.status == 200, resp
    ct = resp.header("Content-Type") or ""
    assert ct.split(";")[0].strip().lower() == "application/json", resp
    obj = resp.json()
    assert isinstance(obj, dict), obj
    assert {"key", "id", "name", "expires_at"} <= set(obj), obj
    assert isinstance(obj["key"], str) and \
        re.fullmatch(re.escape(prefix) + KEY_RE, obj["key"]), \
        f"key {obj['key']!r} is not {prefix!r} + 43 base62 characters"
    assert isinstance(obj["id"], int) and not isinstance(obj["id"], bool)
    assert obj["id"] > 0
    return obj


def assert_tags(resp):
    assert resp.status == 200 and resp.body == TAGS_BODY, resp


def test_generate_with_empty_body(daemon, stub):
    obj = check_generated(daemon.generate(b""))
    assert obj["expires_at"] is None
    assert obj["name"] in (None, ""), obj
    assert_tags(daemon.get("/api/tags", key=obj["key"]))
    assert stub.requests_to("/key/generate") == []


def test_generate_without_any_body_framing(daemon):
    c = daemon.connect()
    c.send(f"POST /key/generate HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {MASTER_KEY}\r\n\r\n".encode())
    obj = check_generated(c.read_response("POST"))
    assert_tags(c.get("/api/tags", bearer(obj["key"])))


def test_generate_with_empty_object(daemon):
    obj = check_generated(daemon.generate({}))
    assert obj["expires_at"] is None


def test_generate_with_name_and_expiry(daemon):
    t0 = time.time()
    obj = check_generated(daemon.generate({"name": "alice",
                                           "expires_in": "30d"}))
    assert obj["name"] == "alice"
    exp = iso_to_unix(obj["expires_at"])
    assert abs(exp - (t0 + 30 * 86400)) < 120, obj


@pytest.mark.parametrize("dur,secs", [("45s", 45), ("90m", 5400),
                                      ("12h", 43200), ("30d", 2592000)])
def test_generate_expiry_units(daemon, dur, secs):
    t0 = time.time()
    obj = check_generated(daemon.generate({"expires_in": dur}))
    assert abs(iso_to_unix(obj["expires_at"]) - (t0 + secs)) < 60, obj


@pytest.mark.parametrize("dur", ["9223372036854775807s", "15250284452w",
                                 "36526d", "3155760001s",
                                 "99999999999999999999999999999999999d"])
def test_generate_expiry_past_100_years_400(daemon, dur):
    """Past the limit (once an overflow stored a negative expiry and a
    key that never worked, or a time export could not write): 400,
    saying the limit, and no key."""
    r = daemon.generate({"expires_in": dur})
    assert_error_response(r, 400)
    assert "100 years" in r.body.decode(), r.body
    obj = check_generated(daemon.generate({}))
    assert obj["id"] == 1, f"a key was stored for {dur}: {obj}"


def test_generate_expiry_at_100_years(daemon):
    t0 = time.time()
    obj = check_generated(daemon.generate({"expires_in": "36525d"}))
    assert abs(iso_to_unix(obj["expires_at"]) - (t0 + 36525 * 86400)) < 60
    assert_tags(daemon.get("/api/tags", key=obj["key"]))


def test_generate_with_prefix(daemon_factory):
    d = daemon_factory(prefix="sk-og-")
    obj = check_generated(d.generate({"name": "p"}), prefix="sk-og-")
    assert_tags(d.get("/api/tags", key=obj["key"]))
    # the key without its prefix is not the key
    r = d.get("/api/tags", key=obj["key"][len("sk-og-"):])
    assert_error_response(r, 401)


def test_generate_ids_increase_and_keys_differ(daemon):
    objs = [check_generated(daemon.generate({})) for _ in range(3)]
    ids = [o["id"] for o in objs]
    assert ids == sorted(ids) and len(set(ids)) == 3, ids
    assert len({o["key"] for o in objs}) == 3


def test_generate_with_non_master_key_403(daemon, stub):
    key = check_generated(daemon.generate({}))["key"]
    ctl = daemon.add_key(name="ctl")
    for k in (key, ctl):
        assert_error_response(daemon.generate({}, key=k), 403)
    assert stub.requests == []


@pytest.mark.parametrize("key", [None, "wrong", MASTER_KEY + "x"],
                         ids=["none", "wrong", "master+x"])
def test_generate_without_valid_key_401(daemon, stub, key):
    r = daemon.generate({}, key=key)
    assert_error_response(r, 401)
    assert stub.requests == []


def test_generate_lowercase_scheme(daemon):
    r = daemon.request("POST", "/key/generate", key=None,
                       headers=bearer(MASTER_KEY, "bearer"), body=b"{}")
    check_generated(r)


BAD_BODIES = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b'{"name": "a"} trailing', id="trailing"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'"name"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"name": 5}', id="name-int"),
    pytest.param(b'{"name": ["a"]}', id="name-array"),
    pytest.param(b'{"name": {"a": 1}}', id="name-object"),
    pytest.param(b'{"expires_in": 30}', id="expires-int"),
    pytest.param(b'{"expires_in": true}', id="expires-bool"),
    pytest.param(b'{"expires_in": "bogus"}', id="expires-bogus"),
    pytest.param(b'{"expires_in": "30x"}', id="expires-unit"),
    pytest.param(b'{"expires_in": "-1d"}', id="expires-negative"),
    pytest.param(b'{"expires_in": ""}', id="expires-empty"),
    pytest.param(b'{"expires_in": "d"}', id="expires-no-number"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_generate_bad_body_400(daemon, stub, body):
    c = daemon.connect()
    r = c.request("POST", "/key/generate",
                  daemon.auth() + [("Content-Type", "application/json")],
                  body)
    assert_error_response(r, 400)
    assert stub.requests == []
    # and no key was made: the next one is the first
    obj = check_generated(daemon.generate({}))
    assert obj["id"] == 1, f"a key was stored for the bad body: {obj}"


def test_generate_huge_body_refused(daemon, stub):
    """A body far beyond any {"name", "expires_in"} is refused (413 or
    400), promptly, without a key being made."""
    body = b'{"name": "' + b"n" * (2 * 1024 * 1024) + b'"}'
    c = daemon.connect(timeout=10)
    try:
        c.send(build_request("POST", "/key/generate", daemon.auth(), body))
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.read_response("POST")
    assert r.status in (400, 413), r
    assert_error_response(r, r.status)
    assert check_generated(daemon.generate({}))["id"] == 1
    assert stub.requests == []


def test_generate_name_too_long_400(daemon):
    r = daemon.generate({"name": "n" * 129})
    assert_error_response(r, 400)


def test_generate_chunked_body(daemon):
    c = daemon.connect()
    r = c.request("POST", "/key/generate", daemon.auth(),
                  json.dumps({"name": "chunky"}).encode(), chunked=True,
                  chunk_size=3)
    assert check_generated(r)["name"] == "chunky"


def test_generate_without_master_key_configured_403(daemon_factory, stub):
    d = daemon_factory(master_key=None)
    assert_error_response(d.generate({}, key=None), 403)
    assert_error_response(d.generate({}, key="anything"), 403)
    key = d.add_key(name="ctl")
    assert_error_response(d.generate({}, key=key), 403)
    assert stub.requests == []


def test_generate_keeps_connection_open(daemon):
    c = daemon.connect()
    k1 = check_generated(daemon.generate({}, conn=c))["key"]
    k2 = check_generated(daemon.generate({}, conn=c))["key"]
    assert k1 != k2
    assert_tags(c.get("/api/tags", bearer(k1)))
    assert_tags(c.get("/api/tags", bearer(k2)))


def test_generated_key_works_on_every_worker(daemon_factory):
    """One connection per worker: the first request on each of N
    connections held open at once is served by N different workers."""
    n = 4
    d = daemon_factory(workers=n, keepalive_timeout=30)
    conns = [d.connect(timeout=10) for _ in range(n)]
    for c in conns:
        assert_tags(c.get("/api/tags", d.auth()))
    key = check_generated(d.generate({"name": "everywhere"},
                                     conn=conns[0]))["key"]
    for i, c in enumerate(conns):
        r = c.get("/api/tags", bearer(key))
        assert r.status == 200, f"connection {i}: {r!r}"
    # and a revoke reaches every worker too
    d.keyctl("revoke", key)
    for i, c in enumerate(conns):
        r = c.get("/api/tags", bearer(key))
        assert r.status == 401, f"connection {i} after revoke: {r!r}"


def test_parallel_generate_200_distinct_working_keys(daemon_factory):
    d = daemon_factory(workers=4, keepalive_timeout=30)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        try:
            with d.connect(timeout=30) as c:
                for _ in range(10):
                    r = d.generate({}, conn=c)
                    obj = check_generated(r)
                    with lock:
                        results.append(obj)
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "generate threads hung"
    assert not errors, errors[:5]
    keys = [o["key"] for o in results]
    ids = [o["id"] for o in results]
    assert len(keys) == 200 and len(set(keys)) == 200
    assert len(set(ids)) == 200

    bad = []

    def check(chunk):
        with d.connect(timeout=30) as c:
            for k in chunk:
                r = c.get("/api/tags", bearer(k))
                if r.status != 200:
                    bad.append((k[:6], r.status))

    checkers = [threading.Thread(target=check, args=(keys[i::4],))
                for i in range(4)]
    for t in checkers:
        t.start()
    for t in checkers:
        t.join(60)
    assert not any(t.is_alive() for t in checkers)
    assert not bad, bad[:10]


def test_keys_never_logged(daemon_factory):
    """At debug level the daemon's output holds no key."""
    d = daemon_factory(prefix="sk-og-")
    obj = check_generated(d.generate({"name": "secret"}), prefix="sk-og-")
    key = obj["key"]
    assert_tags(d.get("/api/tags", key=key))
    d.get("/api/tags", key=key + "x")
    d.get("/api/tags", key="sk-og-" + MASTER_KEY)
    ctl = keyctl_add(d.db)
    assert_tags(d.get("/api/tags", key=ctl))
    d.keyctl("revoke", key)
    d.get("/api/tags", key=key)
    time.sleep(0.2)
    text = d.stderr_text()
    for secret in (key, key[len("sk-og-"):], MASTER_KEY, ctl):
        assert secret not in text, "a key appears in the daemon's output"
