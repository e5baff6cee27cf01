"""
Key policy (issue 11): the classes, models and limits of a key, through
keyctl, /key/generate and the daemon.
"""

import json
import sqlite3

from conftest import keyctl, keyctl_add


def export(db):
    out = keyctl(db, "export").stdout
    return json.loads(out)["keys"]


def test_new_key_has_default_policy(tmp_path):
    db = tmp_path / "k.db"
    keyctl_add(db, name="a")
    (k,) = export(db)
    assert k["allow"] == ["read", "infer"]
    assert k["models"] is None
    assert k["rpm"] is None and k["concurrency"] is None
    assert k["kind"] == "secret"


def test_migration_gives_old_keys_infer_read(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE keys (id INTEGER PRIMARY KEY,"
        " hash BLOB UNIQUE NOT NULL CHECK (length(hash) = 32),"
        " hint TEXT NOT NULL, name TEXT, created_at INTEGER NOT NULL,"
        " expires_at INTEGER, revoked_at INTEGER, last_used_at INTEGER,"
        " requests INTEGER NOT NULL DEFAULT 0);"
        "CREATE UNIQUE INDEX keys_active_name ON keys (name)"
        " WHERE revoked_at IS NULL AND name IS NOT NULL;"
        "ALTER TABLE keys ADD COLUMN origin TEXT NOT NULL DEFAULT 'keyctl'"
        " CHECK (origin IN ('generate', 'keyctl', 'import'));"
        "PRAGMA user_version = 2;")
    con.execute("INSERT INTO keys (hash, hint, name, created_at)"
                " VALUES (?, 'x...y', 'old', 1700000000)", (b"\1" * 32,))
    con.commit()
    con.close()
    (k,) = export(db)
    assert k["name"] == "old" and k["allow"] == ["read", "infer"]
    assert k["models"] is None and k["kind"] == "secret"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 5
    con.close()


def test_import_carries_policy(tmp_path):
    db = tmp_path / "k.db"
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"version": 1, "keys": [{
        "hash": "ab" * 32, "hint": "x...y", "name": "team",
        "allow": ["infer"], "models": ["llama3", "qwen2*"], "rpm": 60,
        "concurrency": 2, "kind": "secret"}]}))
    keyctl(db, "import", f)
    (k,) = export(db)
    assert k["allow"] == ["infer"]
    assert k["models"] == ["llama3:latest", "qwen2*"]
    assert k["rpm"] == 60 and k["concurrency"] == 2


def test_import_refuses_bad_policy(tmp_path):
    db = tmp_path / "k.db"
    f = tmp_path / "in.json"
    for bad in ({"allow": ["write"]}, {"models": [""]}, {"rpm": -1},
                {"concurrency": "2"}, {"kind": "rsa"}):
        f.write_text(json.dumps({"version": 1, "keys": [
            dict({"hash": "ab" * 32, "hint": "x...y"}, **bad)]}))
        p = keyctl(db, "import", f, check=False)
        assert p.returncode != 0, bad
        assert list(bad)[0] in p.stderr, (bad, p.stderr)


def test_generate_takes_and_returns_policy(daemon):
    r = daemon.generate({"name": "t", "allow": ["read"],
                         "models": ["llama3"], "rpm": 5,
                         "concurrency": None})
    assert r.status == 200, r
    obj = r.json()
    assert obj["allow"] == ["read"] and obj["models"] == ["llama3:latest"]
    assert obj["rpm"] == 5 and obj["concurrency"] is None
    d = daemon.generate({"name": "u"}).json()
    assert d["allow"] == ["read", "infer"] and d["models"] is None


def test_generate_names_bad_field(daemon):
    for field, val in (("allow", ["write"]), ("models", []), ("rpm", -3),
                       ("concurrency", 1.5)):
        r = daemon.generate({field: val})
        assert r.status == 400, (field, r)
        assert field in r.json()["error"], r.json()


def show(db, key):
    return json.loads(keyctl(db, "show", key, "--json").stdout)


def test_keyctl_add_with_policy_and_show(tmp_path):
    db = tmp_path / "k.db"
    keyctl(db, "add", "--name", "team", "--allow", "infer",
           "--models", "llama3, qwen2*", "--rpm", "60",
           "--concurrency", "2")
    k = show(db, "team")
    assert k["allow"] == ["infer"]
    assert k["models"] == ["llama3:latest", "qwen2*"]
    assert k["rpm"] == 60 and k["concurrency"] == 2
    assert k["kind"] == "secret" and k["state"] == "active"
    (row,) = json.loads(keyctl(db, "list", "--json").stdout)
    assert row["allow"] == ["infer"] and row["rpm"] == 60
    text = keyctl(db, "show", "team").stdout
    assert "allow" in text and "llama3:latest" in text


def test_keyctl_set_changes_policy(tmp_path):
    db = tmp_path / "k.db"
    keyctl(db, "add", "--name", "a", "--models", "llama3", "--rpm", "5")
    keyctl(db, "set", "a", "--allow", "read,infer,manage", "--models", "",
           "--rpm", "0", "--concurrency", "3", "--name", "b",
           "--expires", "30d")
    k = show(db, "b")
    assert k["allow"] == ["read", "infer", "manage"]
    assert k["models"] is None and k["rpm"] is None
    assert k["concurrency"] == 3 and k["expires_at"] is not None
    keyctl(db, "set", "b", "--expires", "never")
    assert show(db, "b")["expires_at"] is None


def test_keyctl_bad_policy_input(tmp_path):
    db = tmp_path / "k.db"
    keyctl(db, "add", "--name", "a")
    cases = [
        (["add", "--allow", "read,write"], "write"),
        (["add", "--models", "llama3,,x"], "models"),
        (["add", "--rpm", "-1"], "rpm"),
        (["add", "--concurrency", "x"], "concurrency"),
        (["add", "--ssh-key", "ssh-rsa AAAAB3NzaC1yc2E= c"], "ssh-key"),
        (["add", "--ssh-key", "ssh-ed25519 AAAAC3Nz c"], "ssh-key"),
        (["set", "a", "--allow", "bogus"], "bogus"),
        (["set", "a", "--rpm", "-5"], "rpm"),
    ]
    for args, word in cases:
        p = keyctl(db, *args, check=False)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert word in p.stderr, (args, p.stderr)
    assert len(json.loads(keyctl(db, "list", "--json").stdout)) == 1
    assert show(db, "a")["allow"] == ["read", "infer"]


def test_keyctl_default_allow_from_config(tmp_path):
    db = tmp_path / "k.db"
    conf = tmp_path / "ollaguard.conf"
    conf.write_text("default-allow = infer,read,manage\n")
    p = subprocess_keyctl(db, "--config", str(conf), "add", "--name", "x")
    assert p.returncode == 0, p.stderr
    assert show(db, "x")["allow"] == ["read", "infer", "manage"]


def test_keyctl_default_allow_from_the_environment(tmp_path):
    """OLLAGUARD_DEFAULT_ALLOW, as the daemon reads it: over the --config
    file's line; a bad value is a usage error that adds nothing."""
    db = tmp_path / "k.db"
    conf = tmp_path / "ollaguard.conf"
    conf.write_text("default-allow = read\n")
    env = {"OLLAGUARD_DEFAULT_ALLOW": "infer,read,manage"}
    p = subprocess_keyctl(db, "add", "--name", "x", env=env)
    assert p.returncode == 0, p.stderr
    assert show(db, "x")["allow"] == ["read", "infer", "manage"]
    p = subprocess_keyctl(db, "--config", str(conf), "add", "--name", "y",
                          env={"OLLAGUARD_DEFAULT_ALLOW": "infer"})
    assert p.returncode == 0, p.stderr
    assert show(db, "y")["allow"] == ["infer"]
    p = subprocess_keyctl(db, "add", "--name", "z",
                          env={"OLLAGUARD_DEFAULT_ALLOW": "everything"})
    assert p.returncode == 2 and "OLLAGUARD_DEFAULT_ALLOW" in p.stderr
    assert len(json.loads(keyctl(db, "list", "--json").stdout)) == 2


def subprocess_keyctl(db, *args, env=None):
    import subprocess
    from conftest import KEYCTL, daemon_env
    return subprocess.run([KEYCTL, "--db", str(db), *args],
                          capture_output=True, text=True, timeout=15,
                          env={**daemon_env(), **(env or {})})


def ssh_keygen(tmp_path, name="id_ed25519"):
    import subprocess
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                    "user@host", "-f", str(path)], check=True)
    return path


def test_keyctl_add_ssh_key(tmp_path):
    db = tmp_path / "k.db"
    path = ssh_keygen(tmp_path)
    out = keyctl(db, "add", "--name", "cli", "--ssh-key-file",
                 f"{path}.pub").stdout.strip()
    import subprocess
    fpr = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f",
                          f"{path}.pub"], capture_output=True, text=True,
                         check=True).stdout.split()[1]
    assert out == fpr
    k = show(db, "cli")
    assert k["kind"] == "ssh-ed25519"
    line = open(f"{path}.pub").read()
    p = keyctl(db, "add", "--ssh-key", line, check=False)
    assert p.returncode == 1 and "already" in p.stderr


# ---------------------------------------------------------------------------
# The daemon: classes, models, lists, limits, ways to present a key


import hashlib  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from conftest import build_request  # noqa: E402
from stub_upstream import OAI_MODELS_BODY, PS_BODY  # noqa: E402

READ = [("GET", "/"), ("HEAD", "/"), ("GET", "/api/version"),
        ("GET", "/api/tags"), ("GET", "/api/ps"), ("GET", "/v1/models"),
        ("GET", "/v1/models/llama3"), ("POST", "/api/show")]
INFER = [("POST", p) for p in (
    "/api/generate", "/api/chat", "/api/embed", "/api/embeddings",
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
    "/v1/responses", "/v1/messages")]
MANAGE = [("POST", "/api/pull"), ("POST", "/api/push"),
          ("POST", "/api/create"), ("POST", "/api/copy"),
          ("DELETE", "/api/delete"), ("HEAD", "/api/blobs/sha256:00"),
          ("POST", "/api/blobs/sha256:00"), ("GET", "/api/unlisted"),
          ("POST", "/api/new-endpoint")]
BODY = json.dumps({"model": "llama3", "name": "llama3",
                   "source": "llama3", "destination": "llama3b"}).encode()


def add(daemon, *args):
    out = daemon.keyctl("add", *args).stdout.strip()
    return out


def req(daemon, method, path, key, body=None, headers=()):
    if body is None and method in ("POST", "DELETE"):
        body = BODY
    return daemon.request(method, path, key=key, body=body,
                          headers=list(headers))


def test_class_table(daemon, stub):
    keys = {cls: add(daemon, "--name", cls, "--allow", cls)
            for cls in ("read", "infer", "manage")}
    for cls, eps in (("read", READ), ("infer", INFER), ("manage", MANAGE)):
        for other, key in keys.items():
            for method, path in eps:
                r = req(daemon, method, path, key)
                if other == cls:
                    assert r.status != 403, (cls, method, path, r)
                else:
                    assert r.status == 403, (other, method, path, r)
                    if method != "HEAD":
                        assert r.json()["error"] == (
                            f'key "{other}" may not use {cls} endpoints')


def test_policy_refusal_logged_not_as_auth_failure(daemon):
    from conftest import log_line
    key = add(daemon, "--name", "ro", "--allow", "read")
    r = req(daemon, "POST", "/api/pull", key)
    assert r.status == 403
    log_line(daemon, r'policy: .*name="ro".*manage')
    assert "auth failed" not in daemon.stderr_text()
    assert key not in daemon.stderr_text()


def chat(model, **extra):
    return json.dumps(dict({"model": model, "messages": []},
                           **extra)).encode()


def test_model_matching(daemon, stub):
    key = add(daemon, "--name", "team", "--allow", "read,infer,manage",
              "--models", "llama3,qwen2*,myteam/*")
    ok = ["llama3", "llama3:latest", "LLAMA3", "library/llama3",
          "registry.ollama.ai/library/llama3:latest", "qwen2:7b",
          "qwen2.5:14b", "myteam/tool:1"]
    bad = ["llama3:8b", "mistral", "evil.example:5000/x/llama3",
           "other/llama3", "llama3.evil.example/x/y"]
    for m in ok:
        r = req(daemon, "POST", "/api/chat", key, chat(m))
        assert r.status == 200, (m, r)
    for m in bad:
        r = req(daemon, "POST", "/api/chat", key, chat(m))
        assert r.status == 403, (m, r)
        assert r.json()["error"] == f'key "team" may not use model "{m}"'
    # Go reads a field in any case, and the last of two: both refused.
    r = req(daemon, "POST", "/api/chat", key,
            b'{"model":"llama3","Model":"mistral"}')
    assert r.status == 400, r
    r = req(daemon, "POST", "/api/chat", key, b'{"MODEL":"mistral"}')
    assert r.status == 403, r
    # copy: both sides must be allowed.
    r = req(daemon, "POST", "/api/copy", key,
            b'{"source":"llama3","destination":"mistral"}')
    assert r.status == 403 and "mistral" in r.json()["error"]
    r = req(daemon, "POST", "/api/copy", key,
            b'{"source":"llama3","destination":"qwen2:x"}')
    assert r.status == 200, r
    # No model at all, and an endpoint that names none: fail closed.
    r = req(daemon, "POST", "/api/chat", key, b'{"messages":[]}')
    assert r.status == 403, r
    r = req(daemon, "POST", "/api/chat", key, b"")
    assert r.status == 403, r
    r = req(daemon, "GET", "/api/unlisted", key)
    assert r.status == 403, r
    r = req(daemon, "POST", "/api/chat", key, b"not json")
    assert r.status == 400, r
    # The path's model.
    assert req(daemon, "GET", "/v1/models/llama3", key).status == 200
    assert req(daemon, "GET", "/v1/models/mistral", key).status == 403


def test_allowed_bodies_reach_upstream_byte_identical(daemon, stub):
    key = add(daemon, "--name", "t", "--models", "llama3")
    bodies = [chat("llama3"),
              b'  {"model" : "llama3",\n "x": "\\u00e9"}  ',
              chat("llama3", images=["A" * 300000])]
    for b in bodies:
        n = len(stub.requests_to("/api/chat"))
        r = req(daemon, "POST", "/api/chat", key, b)
        assert r.status == 200, r
        got = stub.requests_to("/api/chat")[n]
        assert got.body_sha256 == hashlib.sha256(b).hexdigest()
        assert got.body_len == len(b)
    # Chunked from the client, byte-identical upstream too.
    b = chat("llama3")
    with daemon.connect() as c:
        n = len(stub.requests_to("/api/chat"))
        r = c.request("POST", "/api/chat", daemon.auth(key), b,
                      chunked=True)
        assert r.status == 200, r
    assert stub.requests_to("/api/chat")[n].body_sha256 == \
        hashlib.sha256(b).hexdigest()


def test_over_max_json_body_is_413_and_not_forwarded(daemon_factory, stub):
    d = daemon_factory(extra_args=["--max-json-body", "2048"])
    key = add(d, "--name", "t", "--models", "llama3")
    big = chat("llama3", pad="x" * 4096)
    r = req(d, "POST", "/api/chat", key, big)
    assert r.status == 413, r
    assert stub.requests_to("/api/chat") == []
    # A key without a model list still streams anything.
    free = add(d, "--name", "free")
    assert req(d, "POST", "/api/chat", free, big).status == 200


def test_filtered_lists(daemon, stub):
    key = add(daemon, "--name", "t", "--models", "llama3")
    r = req(daemon, "GET", "/api/ps", key)
    assert r.status == 200, r
    assert [m["name"] for m in r.json()["models"]] == ["llama3:latest"]
    assert int(r.header("Content-Length")) == len(r.body)
    r = req(daemon, "GET", "/v1/models", key)
    assert [m["id"] for m in r.json()["data"]] == ["llama3:latest"]
    r = req(daemon, "GET", "/api/tags", key)
    assert r.json()["models"] == []
    got = stub.requests_to("/api/ps")[-1]
    assert got.header("Accept-Encoding") == "identity"
    # Without a model list: the upstream's bytes as they are.
    free = add(daemon, "--name", "free")
    assert req(daemon, "GET", "/api/ps", free).body == PS_BODY
    assert req(daemon, "GET", "/v1/models", free).body == OAI_MODELS_BODY


def test_keyctl_set_applies_on_next_request(daemon):
    key = add(daemon, "--name", "k")
    assert req(daemon, "POST", "/api/pull", key).status == 403
    daemon.keyctl("set", "k", "--allow", "read,infer,manage")
    assert req(daemon, "POST", "/api/pull", key).status == 200
    daemon.keyctl("set", "k", "--models", "qwen2")
    assert req(daemon, "POST", "/api/chat", key,
               chat("llama3")).status == 403
    daemon.keyctl("set", "k", "--models", "")
    assert req(daemon, "POST", "/api/chat", key,
               chat("llama3")).status == 200


def test_default_allow_setting(daemon_factory):
    d = daemon_factory(extra_args=["--default-allow", "infer,read,manage"])
    obj = d.generate({"name": "g"}).json()
    assert obj["allow"] == ["read", "infer", "manage"]
    assert req(d, "POST", "/api/pull", obj["key"]).status == 200


def test_rpm_shared_by_workers(daemon):
    key = add(daemon, "--name", "r", "--rpm", "60")
    results = []
    lock = threading.Lock()

    def burst(n):
        for _ in range(n):
            r = req(daemon, "GET", "/api/version", key)
            with lock:
                results.append(r.status)

    start = time.monotonic()
    ts = [threading.Thread(target=burst, args=(30,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results.count(200) == 60, results
    # The bucket refills one request a second: what came back while the
    # burst ran may pass, then the next is refused.
    extra = 0
    while (r := req(daemon, "GET", "/api/version", key)).status == 200:
        extra += 1
        assert extra <= time.monotonic() - start + 1
    assert r.status == 429, r
    assert int(r.header("Retry-After")) >= 1
    assert "rate limit" in r.json()["error"] and '"r"' in r.json()["error"]


def open_stream(daemon, key, prefix):
    c = daemon.connect()
    c.send_request("GET", f"/{prefix}/stream/ndjson?gate={prefix}",
                   daemon.auth(key))
    r = c.read_head()
    assert r.status == 200, r
    return c


def worker_serving(daemon, what):
    from conftest import children
    for pid in children(daemon.proc.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if what.encode() in f.read():
                    return pid
        except OSError:
            pass
    return None


def test_concurrency_slot_comes_back(daemon, stub):
    import os
    import signal
    from stub_upstream import wait_until
    key = add(daemon, "--name", "c", "--allow", "read,infer,manage",
              "--concurrency", "2")
    a = open_stream(daemon, key, "a")
    b = open_stream(daemon, key, "b")
    # The third of three parallel streams is refused, before upstream.
    r = req(daemon, "GET", "/e/stream/ndjson?gate=e", key)
    assert r.status == 429, r
    assert stub.requests_to("/e/stream/ndjson") == []
    r = req(daemon, "GET", "/api/version", key)
    assert r.status == 429, r
    assert r.header("Retry-After") is not None
    assert "concurrency" in r.json()["error"]

    def free():
        return req(daemon, "GET", "/api/version", key).status == 200

    # A stream that ends gives its slot back.
    stub.release("a")
    assert wait_until(free, 5)
    a.close()
    c = open_stream(daemon, key, "c")
    assert req(daemon, "GET", "/api/version", key).status == 429
    # A client that hangs up.
    c.abort()
    assert wait_until(free, 5)
    d = open_stream(daemon, key, "d")
    assert req(daemon, "GET", "/api/version", key).status == 429
    # A worker SIGKILLed mid-stream.
    pid = worker_serving(daemon, "/d/stream/ndjson")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_until(free, 5)
    d.close()
    stub.release("b")
    stub.release("c")
    stub.release("d")
    b.close()


def test_x_api_key_and_basic(daemon, stub):
    import base64
    key = add(daemon, "--name", "x")
    r = daemon.request("GET", "/api/tags", key=None,
                       headers=[("x-api-key", key)])
    assert r.status == 200, r
    got = stub.requests_to("/api/tags")[-1]
    assert "x-api-key" not in got.header_names()
    assert "authorization" not in got.header_names()
    basic = base64.b64encode(f"anyone:{key}".encode()).decode()
    r = daemon.request("GET", "/api/tags", key=None,
                       headers=[("Authorization", f"Basic {basic}")])
    assert r.status == 200, r
    # The same key twice is fine; two different keys are not.
    r = daemon.request("GET", "/api/tags", key=key,
                       headers=[("x-api-key", key)])
    assert r.status == 200, r
    other = add(daemon, "--name", "y")
    r = daemon.request("GET", "/api/tags", key=key,
                       headers=[("x-api-key", other)])
    assert r.status == 400, r
    r = daemon.request("GET", "/api/tags", key=None,
                       headers=[("x-api-key", "wrong")])
    assert r.status == 401, r
    # The master key works in every form.
    r = daemon.request("GET", "/api/tags", key=None,
                       headers=[("x-api-key", daemon.master_key)])
    assert r.status == 200, r


def test_signed_requests(daemon, stub, tmp_path):
    import ollama_sign
    k = ollama_sign.new_key()
    daemon.keyctl("add", "--name", "cli", "--ssh-key",
                  ollama_sign.pubkey_line(k))

    def signed(method, path, key=k, ts=None, target_path=None, body=None):
        target, authz = ollama_sign.sign(key, method, path, ts)
        if target_path is not None:
            target = target_path + target[len(path):]
        return daemon.request(method, target, key=None, body=body,
                              headers=[("Authorization", authz)])

    assert signed("GET", "/api/tags").status == 200
    assert signed("POST", "/api/chat", body=chat("llama3")).status == 200
    got = stub.requests_to("/api/chat")[-1]
    assert "authorization" not in got.header_names()
    # Another key, an old ts, a tampered path, a replay outside the window.
    assert signed("GET", "/api/tags", key=ollama_sign.new_key()).status \
        == 401
    assert signed("GET", "/api/tags", ts=int(time.time()) - 301).status \
        == 401
    assert signed("GET", "/api/tags", ts=int(time.time()) + 301).status \
        == 401
    assert signed("GET", "/api/tags",
                  target_path="/api/ps").status == 401
    old = int(time.time()) - 400
    target, authz = ollama_sign.sign(k, "GET", "/api/tags", old)
    r = daemon.request("GET", target, key=None,
                       headers=[("Authorization", authz)])
    assert r.status == 401
    # The policy applies to ssh keys as to any other.
    assert signed("POST", "/api/pull", body=b'{"model":"x"}').status == 403


def test_signed_request_with_ssh_keygen_key(daemon, tmp_path):
    import ollama_sign
    from cryptography.hazmat.primitives.serialization import (
        load_ssh_private_key)
    path = ssh_keygen(tmp_path)
    daemon.keyctl("add", "--name", "cli", "--ssh-key-file", f"{path}.pub")
    k = load_ssh_private_key(open(path, "rb").read(), None)
    target, authz = ollama_sign.sign(k, "GET", "/api/tags")
    r = daemon.request("GET", target, key=None,
                       headers=[("Authorization", authz)])
    assert r.status == 200, r
    assert ollama_sign.pubkey_b64(k) in open(f"{path}.pub").read()


def test_signature_window_setting(daemon_factory):
    import ollama_sign
    d = daemon_factory(extra_args=["--signature-window", "10"])
    k = ollama_sign.new_key()
    d.keyctl("add", "--ssh-key", ollama_sign.pubkey_line(k))
    target, authz = ollama_sign.sign(k, "GET", "/api/tags",
                                     int(time.time()) - 60)
    r = d.request("GET", target, key=None,
                  headers=[("Authorization", authz)])
    assert r.status == 401


def test_import_takes_default_allow_from_config(tmp_path):
    db = tmp_path / "k.db"
    conf = tmp_path / "ollaguard.conf"
    conf.write_text("default-allow = read\n")
    f = tmp_path / "storage.json"
    f.write_text(json.dumps(["sk-original-key-0123456789"]))
    p = subprocess_keyctl(db, "--config", str(conf), "import", str(f))
    assert p.returncode == 0, p.stderr
    (k,) = export(db)
    assert k["allow"] == ["read"]
