"""
The admin JSON API (/admin/api/*) through the real daemon: every endpoint
and error, the security headers, admin-allow and admin = off, a key made
or revoked in the API taking effect on the next request of any worker,
and the status view of a stream in progress.

The daemon does not fill the usage table yet (metering is being merged
separately), so the usage tests seed it with sqlite3 as test_usage_keyctl
does, and compare the API's numbers with keyctl usage --json.
"""

import json
import sqlite3
import time

import pytest

from conftest import assert_error_response, keyctl, keyctl_add, wait_until
from test_usage_keyctl import SCHEMA as USAGE_SCHEMA

SECURITY = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

def call(d, method, path, body=None, key=None, headers=()):
    hdrs = list(headers)
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        hdrs.append(("Content-Type", "application/json"))
    return d.request(method, "/admin/api/" + path, body=body,
                     key=d.master_key if key is None else key,
                     headers=hdrs)


def assert_secure(resp):
    for name, value in SECURITY.items():
        got = resp.header(name)
        assert got is not None and got.startswith(value), \
            f"{name}: {got!r} in {resp!r}"


def err(resp, status):
    assert_secure(resp)
    return assert_error_response(resp, status)


def seed_usage(db, rows):
    con = sqlite3.connect(db)
    con.execute(USAGE_SCHEMA)
    con.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    rows)
    con.commit()
    con.close()


def chat_status(d, key, model, status, times=4):
    """times requests on fresh connections, so more than one worker
    answers: each must be status."""
    for _ in range(times):
        r = d.request("POST", "/api/chat", key=key,
                      body=json.dumps({"model": model}).encode())
        assert r.status == status, r


def test_keys_list_matches_keyctl(daemon):
    keyctl_add(daemon.db, name="one")
    keyctl(daemon.db, "add", "--name", "two", "--models", "llama3",
           "--rpm", "5")
    r = call(daemon, "GET", "keys")
    assert r.status == 200, r
    assert_secure(r)
    want = json.loads(keyctl(daemon.db, "list", "--json").stdout)
    got = r.json()
    for k in got + want:
        k.pop("state", None)    # may differ by the second
    assert got == want
    r = call(daemon, "GET", "keys/2")
    assert r.status == 200 and r.json()["name"] == "two"
    assert r.json()["models"] == ["llama3:latest"]
    assert r.json()["rpm"] == 5
    assert json.loads(keyctl(daemon.db, "show", "--json", "2").stdout) \
        == r.json()


def test_create_use_patch_revoke(daemon, stub):
    r = call(daemon, "POST", "keys", {"name": "api-made", "models":
                                      ["llama3"], "rpm": 100})
    assert r.status == 201, r
    assert_secure(r)
    k = r.json()
    assert set(k) >= {"key", "id", "name", "hint", "allow", "models", "rpm",
                      "concurrency", "expires_at", "state"}
    assert k["name"] == "api-made" and k["state"] == "active"
    assert k["allow"] == ["read", "infer"] or \
        sorted(k["allow"]) == ["infer", "read"]
    # The next request works, in whichever worker takes it.
    chat_status(daemon, k["key"], "llama3", 200)
    chat_status(daemon, k["key"], "qwen2", 403)
    # The key is in the list, never with its secret.
    assert all("key" not in x for x in call(daemon, "GET", "keys").json())
    r = call(daemon, "PATCH", f"keys/{k['id']}",
             {"models": ["qwen2*"], "rpm": None, "expires_in": "2d"})
    assert r.status == 200, r
    assert r.json()["models"] == ["qwen2*"] and r.json()["rpm"] is None
    assert r.json()["expires_at"] is not None
    chat_status(daemon, k["key"], "qwen2:7b", 200)
    chat_status(daemon, k["key"], "llama3", 403)
    r = call(daemon, "PATCH", f"keys/{k['id']}", {"expires_in": None,
                                                   "name": None})
    assert r.status == 200 and r.json()["expires_at"] is None
    assert r.json()["name"] is None
    r = call(daemon, "POST", f"keys/{k['id']}/revoke")
    assert r.status == 200 and r.json()["state"] == "revoked", r
    chat_status(daemon, k["key"], "qwen2:7b", 401)
    shown = json.loads(keyctl(daemon.db, "show", "--json",
                              str(k["id"])).stdout)
    assert shown["state"] == "revoked"
    err(call(daemon, "PATCH", f"keys/{k['id']}", {"rpm": 1}), 409)


def test_errors(daemon):
    keyctl_add(daemon.db, name="taken")
    assert "name" in err(call(daemon, "POST", "keys", {"name": ""}), 400)
    assert "name" in err(call(daemon, "POST", "keys", {"name": "123"}), 400)
    assert "rpm" in err(call(daemon, "POST", "keys", {"rpm": -1}), 400)
    assert "allow" in err(call(daemon, "POST", "keys",
                               {"allow": ["root"]}), 400)
    assert "models" in err(call(daemon, "POST", "keys",
                                {"models": "llama3"}), 400)
    assert "expires_in" in err(call(daemon, "POST", "keys",
                                    {"expires_in": "soon"}), 400)
    assert "hint" in err(call(daemon, "PATCH", "keys/1", {"hint": "x"}), 400)
    assert "JSON" in err(call(daemon, "POST", "keys", b"{nope"), 400)
    assert "taken" not in err(call(daemon, "POST", "keys",
                                   {"name": "taken"}), 409)
    err(call(daemon, "PATCH", "keys/2", {"name": "taken"}), 404)
    call(daemon, "POST", "keys", {"name": "other"})
    err(call(daemon, "PATCH", "keys/2", {"name": "taken"}), 409)
    err(call(daemon, "GET", "keys/999"), 404)
    err(call(daemon, "POST", "keys/999/revoke"), 404)
    err(call(daemon, "GET", "keys/abc"), 404)
    err(call(daemon, "GET", "nothing"), 404)
    r = call(daemon, "DELETE", "keys/1")
    err(r, 405)
    assert "PATCH" in r.header("Allow")
    err(call(daemon, "GET", "keys/1/revoke"), 405)
    err(call(daemon, "PUT", "keys"), 405)
    err(call(daemon, "POST", "status"), 405)
    assert "since" in err(call(daemon, "GET", "usage?since=yesterday"), 400)
    assert "by" in err(call(daemon, "GET", "usage?by=colour"), 400)
    assert "x" in err(call(daemon, "GET", "usage?x=1"), 400)


def test_master_key_only(daemon, stub):
    key = keyctl_add(daemon.db, name="plain")
    r = daemon.request("GET", "/admin/api/keys", key=None)
    err(r, 401)
    err(call(daemon, "GET", "keys", key="wrong-" + "x" * 30), 401)
    err(call(daemon, "GET", "keys", key=key), 403)
    err(call(daemon, "POST", "keys", {"name": "x"}, key=key), 403)
    # Nothing under /admin is forwarded.
    call(daemon, "GET", "keys")
    daemon.request("GET", "/admin/whatever")
    assert not stub.requests, stub.describe()


def test_usage_matches_keyctl(daemon):
    keyctl_add(daemon.db, name="team")
    keyctl_add(daemon.db)
    seed_usage(daemon.db, [
        (1, "llama3:latest", "2026-03-01", "", 10, 1, 1000, 2000),
        (1, "qwen2:7b", "2026-03-02", "u@x", 2, 0, 20, 30),
        (2, "llama3:latest", "2026-03-02", "", 3, 3, 0, 0),
        (0, "llama3:latest", "2026-02-27", "", 1, 0, 7, 8),
    ])
    for q, args in [("", []), ("?by=day", ["--by", "day"]),
                    ("?by=key%2Cday&since=2026-03-02",
                     ["--by", "key,day", "--since", "2026-03-02"]),
                    ("?by=user&until=2026-03-01",
                     ["--by", "user", "--until", "2026-03-01"]),
                    ("?by=model", ["--by", "model"])]:
        r = call(daemon, "GET", "usage" + q)
        assert r.status == 200, r
        want = json.loads(keyctl(daemon.db, "usage", "--json",
                                 *args).stdout)
        assert r.json() == want, q


def test_headers_on_every_admin_response(daemon):
    for path in ("/admin/", "/admin/admin.js", "/admin/admin.css",
                 "/admin/nope", "/admin/api/keys", "/admin/api/status"):
        for key in (None, daemon.master_key):
            assert_secure(daemon.request("GET", path, key=key))
    r = daemon.request("GET", "/admin/", key=None)
    assert r.status == 200 and r.header("Content-Type").startswith(
        "text/html")
    assert b'<script src="admin.js"' in r.body
    r = daemon.request("GET", "/admin", key=None)
    assert r.status == 308 and r.header("Location") == "/admin/"


def test_admin_off_and_admin_allow(daemon_factory):
    d = daemon_factory(extra_args=["--admin=off"])
    for path in ("/admin/", "/admin/api/keys", "/admin"):
        for key in (None, d.master_key):
            err(d.request("GET", path, key=key), 404)
    d = daemon_factory(extra_args=["--admin-allow", "192.0.2.0/24"])
    for path in ("/admin/", "/admin/api/keys", "/admin/api/status"):
        for key in (None, d.master_key):
            err(d.request("GET", path, key=key), 404)
    d = daemon_factory(extra_args=["--admin-allow", "::1, 127.0.0.1/32"])
    assert d.request("GET", "/admin/api/status").status == 200
    r = daemon_factory.run(["--admin-allow", "10.0.0.0/99",
                            "--check-config"])
    assert r.returncode != 0 and "admin-allow" in r.stderr


def test_status_shows_a_stream(daemon, stub):
    key = keyctl(daemon.db, "add", "--name", "streamer", "--allow",
                 "read,infer,manage").stdout.strip()
    conn = daemon.connect(timeout=10)
    conn.send(b"GET /stream/endless?secret=1 HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + key.encode() + b"\r\n\r\n")

    def busy():
        s = call(daemon, "GET", "status").json()
        return [b for b in s["busy"] if b["key"] == "streamer"]

    assert wait_until(lambda: busy(), 5), "the stream never showed"
    time.sleep(0.3)
    b = busy()[0]
    assert b["path"] == "/stream/endless" and b["method"] == "GET"
    assert b["client"] in ("127.0.0.1", "::ffff:127.0.0.1")
    assert b["seconds"] > 0 and b["bytes"] > 0
    s = call(daemon, "GET", "status").json()
    assert s["version"] and s["uptime"] >= 0
    assert s["pool"]["total"] >= 1
    assert "master_key" not in json.dumps(s["settings"])
    assert daemon.master_key not in json.dumps(s)
    conn.close()
    assert wait_until(lambda: not busy(), 5), "the stream stayed"
