"""
Authentication: the master key, keys from keyctl and /key/generate,
revocation and expiry while the daemon runs, open mode, and what a
refused request looks like (401, WWW-Authenticate, JSON, kept open).
"""

import re
import time

import pytest

from conftest import MASTER_KEY, assert_error_response, bearer, keyctl_add
from stub_upstream import TAGS_BODY


def assert_tags(resp):
    assert resp.status == 200, resp
    assert resp.body == TAGS_BODY, resp


def assert_401(resp):
    assert_error_response(resp, 401)
    www = resp.header_all("WWW-Authenticate")
    assert len(www) == 1 and re.match(r"(?i)bearer\b", www[0]), \
        f"WWW-Authenticate {www!r}"


def test_master_key_passes(daemon, stub):
    assert_tags(daemon.get("/api/tags"))
    assert len(stub.requests) == 1
    assert stub.requests[0].header("Authorization") is None


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(daemon, scheme):
    assert_tags(daemon.get("/api/tags",
                           key=None, headers=bearer(MASTER_KEY, scheme)))


def test_missing_key_401_and_connection_kept(daemon, stub):
    c = daemon.connect()
    r = c.get("/api/tags")
    assert_401(r)
    assert not c.wait_closed(0.3), "connection closed after a 401"
    assert_tags(c.get("/api/tags", daemon.auth()))
    assert [r.target for r in stub.requests] == ["/api/tags"]
    assert stub.requests[0].seq == 1


BAD_AUTH = [
    pytest.param("Bearer wrong-key", id="wrong"),
    pytest.param(f"Bearer {MASTER_KEY}x", id="master+x"),
    pytest.param(f"Bearer {MASTER_KEY[:-1]}", id="master-truncated"),
    pytest.param(f"Bearer {MASTER_KEY.upper()}", id="master-upper"),
    pytest.param(MASTER_KEY, id="no-scheme"),
    pytest.param(f"Basic {MASTER_KEY}", id="basic"),
    pytest.param(f"Token {MASTER_KEY}", id="token"),
    pytest.param("Bearer", id="scheme-only"),
    pytest.param("", id="empty"),
    pytest.param(f"Bearer {MASTER_KEY} extra", id="trailing-word"),
    pytest.param(f"Bearer{MASTER_KEY}", id="no-space"),
]


@pytest.mark.parametrize("value", BAD_AUTH)
def test_bad_authorization_401_and_connection_kept(daemon, stub, value):
    c = daemon.connect()
    assert_401(c.get("/api/tags", [("Authorization", value)]))
    assert_tags(c.get("/api/tags", daemon.auth()))
    assert len(stub.requests) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_401_with_body_then_next_request_on_same_connection(daemon, stub,
                                                            chunked):
    """The refused request's body is skipped, not read as a request."""
    body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 5000
    c = daemon.connect()
    r = c.request("POST", "/api/generate", body=body, chunked=chunked)
    assert_401(r)
    if c.wait_closed(0.2):
        pytest.fail("the daemon closed the connection after a 401 with a "
                    "body instead of skipping the body")
    assert_tags(c.get("/api/tags", daemon.auth()))
    assert [r.target for r in stub.requests] == ["/api/tags"]


def test_prefix_plus_master_key_passes(daemon_factory, stub):
    d = daemon_factory(prefix="sk-og-")
    assert_tags(d.get("/api/tags", key="sk-og-" + MASTER_KEY))
    assert_tags(d.get("/api/tags", key=MASTER_KEY))
    assert_401(d.get("/api/tags", key="sk-og-"))
    assert_401(d.get("/api/tags", key="sk-og-wrong"))
    assert_401(d.get("/api/tags", key="sk-xx-" + MASTER_KEY))
    assert len(stub.requests) == 2


def test_keyctl_key_added_while_running_passes(daemon, stub):
    assert_401(daemon.get("/api/tags", key="not-yet"))
    key = daemon.add_key(name="added-live")
    assert_tags(daemon.get("/api/tags", key=key))
    assert_401(daemon.get("/api/tags", key=key + "x"))
    assert_401(daemon.get("/api/tags", key=key[:-1]))


def test_keyctl_key_added_before_start_passes(daemon_factory, tmp_path):
    db = tmp_path / "pre.db"
    key = keyctl_add(db, name="before")
    d = daemon_factory(db=db)
    assert_tags(d.get("/api/tags", key=key))


def test_generated_key_passes(daemon, stub):
    r = daemon.generate({"name": "gen"})
    assert r.status == 200, r
    key = r.json()["key"]
    assert_tags(daemon.get("/api/tags", key=key))
    assert stub.last_request().header("Authorization") is None


@pytest.mark.parametrize("how", ["key", "id", "name"])
def test_revoked_while_running_next_request_401(daemon, stub, how):
    r = daemon.generate({"name": f"to-revoke-{how}"})
    assert r.status == 200, r
    info = r.json()
    key = info["key"]
    c = daemon.connect()
    assert_tags(c.get("/api/tags", bearer(key)))
    assert_tags(c.get("/api/tags", bearer(key)))
    daemon.keyctl("revoke", {"key": key, "id": info["id"],
                             "name": info["name"]}[how])
    assert_401(c.get("/api/tags", bearer(key)))
    assert_401(daemon.get("/api/tags", key=key))
    assert len(stub.requests) == 2
    # the master key still works on the same connection
    assert_tags(c.get("/api/tags", daemon.auth()))


def test_revoking_one_key_leaves_others(daemon):
    k1 = daemon.add_key(name="one")
    k2 = daemon.add_key(name="two")
    daemon.keyctl("revoke", "one")
    assert_401(daemon.get("/api/tags", key=k1))
    assert_tags(daemon.get("/api/tags", key=k2))


def test_expired_keys_fail(daemon, stub):
    t0 = time.time()
    k1 = daemon.add_key(name="short-keyctl", expires="3s")
    r = daemon.generate({"name": "short-gen", "expires_in": "3s"})
    assert r.status == 200, r
    k2 = r.json()["key"]
    assert_tags(daemon.get("/api/tags", key=k1))
    assert_tags(daemon.get("/api/tags", key=k2))
    assert time.time() - t0 < 2, "too slow to check the keys before expiry"
    time.sleep(max(0, t0 + 4.2 - time.time()))
    assert_401(daemon.get("/api/tags", key=k1))
    assert_401(daemon.get("/api/tags", key=k2))
    assert len(stub.requests) == 2


def test_open_mode_passes_without_key(daemon_factory, stub):
    d = daemon_factory(master_key=None)
    assert_tags(d.get("/api/tags", key=None))
    r = d.request("POST", "/api/generate", key=None, body=b'{"x":1}')
    assert r.status == 200 and r.json()["method"] == "POST"
    assert len(stub.requests) == 2


def test_open_mode_ends_with_first_active_key(daemon_factory, stub):
    d = daemon_factory(master_key=None)
    assert_tags(d.get("/api/tags", key=None))
    key = d.add_key(name="first")
    assert_401(d.get("/api/tags", key=None))
    assert_401(d.get("/api/tags", key="wrong"))
    assert_tags(d.get("/api/tags", key=key))
    # no active key left: open again
    d.keyctl("revoke", key)
    assert_tags(d.get("/api/tags", key=None))


def test_not_open_when_db_has_active_key_at_start(daemon_factory, tmp_path):
    db = tmp_path / "withkey.db"
    key = keyctl_add(db)
    d = daemon_factory(master_key=None, db=db)
    assert_401(d.get("/api/tags", key=None))
    assert_tags(d.get("/api/tags", key=key))


def test_not_open_with_master_key_and_empty_db(daemon):
    assert_401(daemon.get("/api/tags", key=None))


def test_open_mode_same_keepalive_connection_switches(daemon_factory, stub):
    d = daemon_factory(master_key=None)
    c = d.connect()
    assert_tags(c.get("/api/tags"))
    key = d.add_key()
    assert_401(c.get("/api/tags"))
    assert_tags(c.get("/api/tags", bearer(key)))


def test_cors_preflight_forwarded_without_key(daemon, stub):
    r = daemon.request("OPTIONS", "/cors", key=None, headers=[
        ("Origin", "https://app.example"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "authorization, content-type")])
    assert r.status == 204, r
    assert r.header("Access-Control-Allow-Origin") == "*"
    assert r.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS"
    req = stub.last_request()
    assert req.method == "OPTIONS" and req.target == "/cors"
    assert req.header("Origin") == "https://app.example"
    assert req.header("Access-Control-Request-Method") == "POST"
    assert req.header("Authorization") is None


@pytest.mark.parametrize("headers", [
    pytest.param([("Origin", "https://app.example")], id="origin-only"),
    pytest.param([("Access-Control-Request-Method", "POST")], id="acrm-only"),
    pytest.param([], id="plain-options"),
])
def test_options_that_is_not_a_preflight_needs_key(daemon, stub, headers):
    assert_401(daemon.request("OPTIONS", "/cors", key=None, headers=headers))
    assert stub.requests == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_preflight_headers_on_other_methods_need_key(daemon, stub, method):
    r = daemon.request(method, "/api/tags", key=None, body=b"" if
                       method == "POST" else None, headers=[
                           ("Origin", "https://app.example"),
                           ("Access-Control-Request-Method", "POST")])
    assert_401(r)
    assert stub.requests == []


def test_refused_key_passes_once_imported(daemon_factory, tmp_path):
    """Workers remember refused keys (issue 16), but only until the
    database changes: a key that was refused a moment ago passes on the
    very next request once it exists, on the same worker."""
    import json
    d = daemon_factory(workers=1, extra_args=["--max-workers", "1",
                                              "--auth-fail-limit", "0"])
    key = "ogt-" + "5a" * 20
    c = d.connect()
    for _ in range(3):
        assert_401(c.get("/api/tags", bearer(key)))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([key]))
    d.keyctl("import", str(keys))
    assert_tags(c.get("/api/tags", bearer(key)))
    # Revoked, it is refused again at once, and stays refused.
    d.keyctl("revoke", key)
    for _ in range(2):
        assert_401(c.get("/api/tags", bearer(key)))
    assert_tags(c.get("/api/tags", d.auth()))
    c.close()
    assert_401(d.get("/api/tags", key=key))
