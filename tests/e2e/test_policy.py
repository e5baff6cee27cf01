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
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
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
