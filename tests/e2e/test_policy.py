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


def subprocess_keyctl(db, *args):
    import subprocess
    from conftest import KEYCTL, daemon_env
    return subprocess.run([KEYCTL, "--db", str(db), *args],
                          capture_output=True, text=True, timeout=15,
                          env=daemon_env())


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
