"""
ollaguard-keyctl as an administrator uses it: adding keys and seeing
them only once, listing, revoking by id, name or key, expiry, importing
the old tool's storage.json, exporting and moving keys to another host,
and what happens on bad input (a missing folder, a file that is not a
database, a truncated import, a typo in a command): a message naming the
problem, a non-zero exit, and a database left exactly as it was.

The binary comes from $OLLAGUARD_BUILD (default <repo>/build).
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("OLLAGUARD_BUILD",
                                       os.path.join(REPO, "build")))
KEYCTL = os.path.join(BUILD, "ollaguard-keyctl")

RAND_RE = r"[0-9A-Za-z]{43}"
ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")
LIST_FIELDS = {"id", "name", "hint", "created_at", "expires_at",
               "last_used_at", "requests", "state"}
COMMANDS = ("add", "list", "revoke", "import", "export", "usage")

# Keys as the old tool stored them: any token a client could send.
OLD_KEYS = ["sk-legacy-0001-abcdefghijklmnop", "ollama_1234567890abcdef",
            "f47ac10b-58cc-4372-a567-0e02b2c3d479"]


USAGE = "usage: ollaguard-keyctl [--db path] [--config file]"


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OLLAGUARD_")}
    env.update(extra or {})
    return env


def keyctl(*args, db=None, env=None, input=None, cwd=None, stdout=None,
           timeout=60, wrap=()):
    """Runs ollaguard-keyctl; db (if given) goes in as --db.  wrap is a
    command to run it under."""
    if not os.access(KEYCTL, os.X_OK):
        pytest.fail(f"{KEYCTL} not built (make build/ollaguard-keyctl)",
                    pytrace=False)
    argv = [*wrap, KEYCTL]
    if db is not None:
        argv += ["--db", str(db)]
    argv += [str(a) for a in args]
    kw = {"stdout": stdout} if stdout is not None else {
        "stdout": subprocess.PIPE}
    p = subprocess.run(argv, input=input, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, cwd=cwd,
                       env=clean_env(env),
                       stdin=None if input is not None else
                       subprocess.DEVNULL, **kw)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr
    return p


def ok(*args, **kw):
    p = keyctl(*args, **kw)
    assert p.returncode == 0, \
        f"keyctl {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}"
    return p


def add(db, *args, **kw):
    p = ok("add", *args, db=db, **kw)
    return p.stdout.strip()


def list_json(db):
    out = ok("list", "--json", db=db).stdout
    return json.loads(out)


def by_name(db):
    return {k["name"]: k for k in list_json(db)}


def hint_of(key, prefixlen=0):
    rest = key[prefixlen:]
    return key[:prefixlen] + rest[:4] + "\u2026" + rest[-4:]


def snapshot(path):
    """The bytes of the database and its WAL files, and its listing."""
    files = {}
    d = os.path.dirname(str(path)) or "."
    base = os.path.basename(str(path))
    for name in sorted(os.listdir(d)):
        if name.startswith(base):
            with open(os.path.join(d, name), "rb") as f:
                files[name] = hashlib.sha256(f.read()).hexdigest()
    return files


@pytest.fixture
def db(tmp_path):
    return tmp_path / "keys.db"


def assert_failed(p, *words, status=1):
    assert p.returncode == status, \
        f"exit {p.returncode}, wanted {status}: {p.stderr}"
    assert p.stderr.startswith("ollaguard-keyctl: "), p.stderr
    for w in words:
        assert w in p.stderr, f"{w!r} not in {p.stderr!r}"


# ---------------------------------------------------------------------------
# add and list


def test_add_prints_the_key_alone_on_stdout(db):
    p = ok("add", db=db)
    assert re.fullmatch(RAND_RE + "\n", p.stdout), p.stdout
    key = p.stdout.strip()
    assert key not in p.stderr
    assert f"key 1 ({hint_of(key)}) stored in {db}" in p.stderr, p.stderr
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600

    p = ok("add", "--prefix", "sk-test-", "--name", "ci", db=db)
    assert re.fullmatch("sk-test-" + RAND_RE + "\n", p.stdout), p.stdout
    assert "key 2 (sk-test-" in p.stderr
    assert len({key, p.stdout.strip()}) == 2


def test_add_prefix_from_environment(db):
    key = add(db, env={"OLLAGUARD_PREFIX": "env-"})
    assert re.fullmatch("env-" + RAND_RE, key), key
    key = add(db, "--prefix", "flag-", env={"OLLAGUARD_PREFIX": "env-"})
    assert re.fullmatch("flag-" + RAND_RE, key), key


def test_add_expiry_at_limit_exports_and_imports(db, tmp_path):
    """The longest expiry formats as a time, and the export of it (and of
    every other key) imports again."""
    add(db, "--name", "century", "--expires", "36525d")
    add(db, "--name", "weeks", "--expires", "5217w")
    keys = list_json(db)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                            k["expires_at"]) for k in keys), keys
    out = tmp_path / "export.json"
    ok("export", str(out), db=db)
    other = tmp_path / "other.db"
    ok("import", str(out), db=other)
    assert [(k["name"], k["expires_at"]) for k in list_json(other)] == \
        [(k["name"], k["expires_at"]) for k in keys]


def test_export_of_old_out_of_range_times_imports(db, tmp_path):
    """Rows from before the limit (an overflowed, negative expiry; a year
    past 9999) export as times import takes, and keep their state."""
    add(db, "--name", "overflowed")
    add(db, "--name", "far")
    con = sqlite3.connect(db)
    con.execute("UPDATE keys SET expires_at = -9223372036854775000"
                " WHERE name = 'overflowed'")
    con.execute("UPDATE keys SET expires_at = 9223372036854775000"
                " WHERE name = 'far'")
    con.commit()
    con.close()
    out = tmp_path / "export.json"
    ok("export", str(out), db=db)
    assert "invalid-time" not in out.read_text()
    other = tmp_path / "other.db"
    ok("import", str(out), db=other)
    states = {k["name"]: k["state"] for k in list_json(other)}
    assert states == {"overflowed": "expired", "far": "active"}, states


def test_import_time_before_1970_refused(db, tmp_path):
    f = tmp_path / "keys.json"
    f.write_text(json.dumps({"version": 1, "keys": [
        {"hash": "ab" * 32, "created_at": "1969-12-31T23:59:59Z"}]}))
    p = keyctl("import", str(f), db=db)
    assert_failed(p, "keys[0]", "created_at", "before 1970")


def test_add_name_taken_fails(db):
    add(db, "--name", "alice")
    before = snapshot(db)
    p = keyctl("add", "--name", "alice", db=db)
    assert_failed(p, "alice")
    assert p.stdout == ""
    assert len(list_json(db)) == 1
    assert snapshot(db) == before


@pytest.mark.parametrize("args,word", [
    (["--expires", "soon"], "--expires"),
    (["--expires", "0s"], "--expires"),
    (["--expires", "15250284452w"], "more than 100 years"),
    (["--expires", "9223372036854775807s"], "more than 100 years"),
    (["--expires", "36526d"], "more than 100 years"),
    (["--name", "12345"], "--name"),
    (["--name", ""], "--name"),
    (["--prefix", "has space"], "prefix"),
    (["extra"], "extra"),
])
def test_add_bad_values_are_usage_errors(db, args, word):
    p = keyctl("add", *args, db=db)
    assert_failed(p, word, "usage:", status=2)
    assert p.stdout == ""
    assert not os.path.exists(db)


def test_list_table_shows_keys_without_secrets(db):
    k1 = add(db, "--name", "alice")
    k2 = add(db, "--prefix", "sk-", "--expires", "30d")
    out = ok("list", db=db).stdout
    lines = out.splitlines()
    assert len(lines) == 3, out
    header = lines[0]
    assert header.split() == ["ID", "NAME", "HINT", "CREATED", "EXPIRES",
                              "LAST", "USED", "REQUESTS", "STATE"]
    for key in (k1, k2):
        assert key not in out
        assert key[-43:] not in out
    assert hint_of(k1) in lines[1] and "alice" in lines[1]
    assert hint_of(k2, 3) in lines[2]
    # Aligned: every column starts where its heading does.
    for col in ("HINT", "CREATED", "EXPIRES", "LAST USED", "STATE"):
        at = header.index(col)
        for line in lines[1:]:
            assert line[at - 1] == " " and line[at] != " ", \
                f"{col} misaligned:\n{out}"
    assert re.search(ISO_RE, lines[2].split()[3])
    assert lines[1].split()[-1] == "active"
    assert lines[1].split()[-2] == "0"


def test_list_json_fields(db):
    k1 = add(db, "--name", "alice", "--expires", "1h")
    add(db)
    t = time.time()
    keys = list_json(db)
    assert [k["id"] for k in keys] == [1, 2]
    for k in keys:
        assert LIST_FIELDS <= set(k), k
        assert re.fullmatch(ISO_RE, k["created_at"])
        assert k["last_used_at"] is None
        assert k["requests"] == 0
        assert k["state"] == "active"
        assert k1 not in json.dumps(k)
    a, b = keys
    assert a["name"] == "alice" and b["name"] is None
    assert a["hint"] == hint_of(k1)
    exp = time.mktime(time.strptime(a["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) \
        - time.timezone
    assert abs(exp - (t + 3600)) < 60, a["expires_at"]
    assert b["expires_at"] is None


def test_list_shows_revoked_state(db):
    add(db)
    ok("revoke", "1", db=db)
    assert len(list_json(db)) == 1
    p = ok("list", db=db)
    assert p.stdout.splitlines()[-1].split()[-1] == "revoked"


# ---------------------------------------------------------------------------
# revoke and expiry


def test_revoke_by_id_name_and_key(db):
    k1 = add(db, "--name", "by-id")
    add(db, "--name", "by-name")
    k3 = add(db, "--name", "by-key", "--prefix", "sk-")
    add(db, "--name", "stays")
    p = ok("revoke", "1", "by-name", k3, db=db)
    assert k3 not in p.stdout + p.stderr
    assert k3[3:] not in p.stdout + p.stderr
    assert f"key 1 ({hint_of(k1)}) revoked" in p.stdout
    assert f"key 3 ({hint_of(k3, 3)}) revoked" in p.stdout
    states = {n: k["state"] for n, k in by_name(db).items()}
    assert states == {"by-id": "revoked", "by-name": "revoked",
                      "by-key": "revoked", "stays": "active"}
    for k in list_json(db):
        if k["state"] == "revoked":
            assert re.fullmatch(ISO_RE, k["revoked_at"])
    # Again: nothing to do, still fine.
    p = ok("revoke", "by-id", db=db)
    assert "already revoked" in p.stdout


def test_revoke_unknown_one_fails_but_others_are_revoked(db):
    add(db, "--name", "a")
    add(db, "--name", "b")
    add(db, "--name", "c")
    stranger = "sk-" + "Q" * 43
    p = keyctl("revoke", "a", "99", stranger, "nobody", "c", db=db)
    assert_failed(p, "id 99", "argument 3", "argument 4")
    assert stranger not in p.stderr and "Q" * 8 not in p.stderr
    states = {n: k["state"] for n, k in by_name(db).items()}
    assert states == {"a": "revoked", "b": "active", "c": "revoked"}


def test_revoke_needs_an_argument(db):
    add(db)
    p = keyctl("revoke", db=db)
    assert_failed(p, "usage:", status=2)


def test_name_reusable_after_revoke(db):
    add(db, "--name", "svc")
    ok("revoke", "svc", db=db)
    add(db, "--name", "svc")
    keys = list_json(db)
    assert [(k["name"], k["state"]) for k in keys] == [
        ("svc", "revoked"), ("svc", "active")]


def test_expired_key_shows_expired(db):
    t0 = time.time()
    add(db, "--name", "short", "--expires", "2s")
    add(db, "--name", "long", "--expires", "1h")
    if time.time() - t0 < 0.9:
        assert by_name(db)["short"]["state"] == "active"
    time.sleep(max(0.0, t0 + 3.1 - time.time()))
    keys = by_name(db)
    assert keys["short"]["state"] == "expired"
    assert keys["long"]["state"] == "active"
    out = ok("list", db=db).stdout
    assert [line.split()[-1] for line in out.splitlines()[1:]] == \
        ["expired", "active"]


def test_one_second_expiry(db):
    add(db, "--expires", "1s")
    time.sleep(1.5)
    assert list_json(db)[0]["state"] == "expired"


# ---------------------------------------------------------------------------
# import


IMPORT_FORMS = {
    "array": (OLD_KEYS, [None, None, None]),
    "keys": ({"keys": OLD_KEYS}, [None, None, None]),
    "api_keys": ({"api_keys": OLD_KEYS, "other": {"x": 1}},
                 [None, None, None]),
    "objects": ([{"key": OLD_KEYS[0], "name": "web"},
                 {"key": OLD_KEYS[1]},
                 {"key": OLD_KEYS[2], "name": "batch",
                  "created": "2024-01-01 10:00"}],
                ["web", None, "batch"]),
    "keys-objects": ({"keys": [{"key": k, "name": f"n{i}"}
                               for i, k in enumerate(OLD_KEYS)]},
                     ["n0", "n1", "n2"]),
}


@pytest.mark.parametrize("form", sorted(IMPORT_FORMS))
def test_import_original_forms(db, tmp_path, form):
    doc, names = IMPORT_FORMS[form]
    f = tmp_path / "storage.json"
    f.write_text(json.dumps(doc, indent=2))
    p = ok("import", f, db=db)
    assert re.fullmatch(r"3 keys added, 0 skipped.*\n", p.stdout), p.stdout
    keys = list_json(db)
    assert [k["name"] for k in keys] == names
    assert [k["hint"] for k in keys] == [hint_of(k) for k in OLD_KEYS]
    assert all(k["state"] == "active" for k in keys)
    for key in OLD_KEYS:
        assert key not in p.stdout + p.stderr
    # The stored hashes are those of the keys: revoking by key finds them.
    ok("revoke", *OLD_KEYS, db=db)
    assert all(k["state"] == "revoked" for k in list_json(db))


def test_import_from_stdin_and_duplicates(db, tmp_path):
    add(db)
    doc = json.dumps(OLD_KEYS + [OLD_KEYS[0]])
    p = ok("import", "-", db=db, input=doc)
    assert p.stdout.startswith("3 keys added, 1 skipped"), p.stdout
    p = ok("import", "-", db=db, input=doc)
    assert p.stdout.startswith("0 keys added, 4 skipped"), p.stdout
    assert len(list_json(db)) == 4


def test_import_name_clash_keeps_key_drops_name(db, tmp_path):
    add(db, "--name", "alice")
    f = tmp_path / "s.json"
    f.write_text(json.dumps([{"key": OLD_KEYS[0], "name": "alice"},
                             {"key": OLD_KEYS[1], "name": "bob"}]))
    p = ok("import", f, db=db)
    assert p.stdout.startswith("2 keys added"), p.stdout
    assert "1 key imported without its name" in p.stderr, p.stderr
    keys = list_json(db)
    assert [k["name"] for k in keys] == ["alice", None, "bob"]
    ok("revoke", OLD_KEYS[0], db=db)
    assert list_json(db)[1]["state"] == "revoked"


def test_import_creates_the_database(tmp_path):
    db = tmp_path / "new.db"
    f = tmp_path / "s.json"
    f.write_text(json.dumps(OLD_KEYS))
    ok("import", f, db=db)
    assert len(list_json(db)) == 3
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


# ---------------------------------------------------------------------------
# export


def test_export_atomic_mode_and_round_trip(db, tmp_path):
    add(db, "--name", "alice", "--expires", "30d")
    k2 = add(db, "--name", "bob", "--prefix", "sk-")
    add(db)
    ok("revoke", "bob", db=db)
    out = tmp_path / "out" / "export.json"
    out.parent.mkdir()
    out.write_text("old contents\n")
    os.chmod(out, 0o644)
    ino = os.stat(out).st_ino

    p = ok("export", out, db=db)
    assert p.stdout == ""
    st = os.stat(out)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_ino != ino, "export rewrote the file in place"
    assert os.listdir(out.parent) == ["export.json"], "temp file left"
    text = out.read_text()
    assert k2 not in text and k2[3:] not in text
    doc = json.loads(text)
    assert doc["version"] == 1 and len(doc["keys"]) == 3
    for k in doc["keys"]:
        assert re.fullmatch(r"[0-9a-f]{64}", k["hash"])
    assert doc["keys"][1]["name"] == "bob"
    assert re.fullmatch(ISO_RE, doc["keys"][1]["revoked_at"])

    # Standard output gives the same, by default or with "-".
    assert ok("export", db=db).stdout == text
    assert ok("export", "-", db=db).stdout == text

    # Another host: import into an empty database reproduces the keys.
    db2 = tmp_path / "other.db"
    p = ok("import", out, db=db2)
    assert p.stdout.startswith("3 keys added, 0 skipped"), p.stdout
    assert list_json(db2) == list_json(db)
    assert ok("export", db=db2).stdout == text
    assert by_name(db2)["bob"]["state"] == "revoked"
    assert by_name(db2)["alice"]["state"] == "active"


def test_export_failure_leaves_target_alone(tmp_path):
    out = tmp_path / "export.json"
    out.write_text("keep me\n")
    p = keyctl("export", out, db=tmp_path / "missing.db")
    assert_failed(p, "missing.db", "does not exist")
    assert out.read_text() == "keep me\n"
    assert sorted(os.listdir(tmp_path)) == ["export.json"]


def test_export_into_missing_folder_fails(db, tmp_path):
    add(db)
    target = tmp_path / "nope" / "x.json"
    p = keyctl("export", target, db=db)
    assert_failed(p, str(target))
    assert not target.parent.exists()


# ---------------------------------------------------------------------------
# the database: where it is, and when it is not usable


def test_db_flag_env_and_default(tmp_path):
    env_db = tmp_path / "env.db"
    flag_db = tmp_path / "flag.db"
    add(flag_db, env={"OLLAGUARD_DB": str(env_db)})
    assert flag_db.exists() and not env_db.exists()
    p = ok("add", env={"OLLAGUARD_DB": str(env_db)})
    assert str(env_db) in p.stderr
    assert len(list_json(env_db)) == 1
    p = ok("add", cwd=tmp_path)
    assert str(tmp_path / "ollaguard.db") in p.stderr
    assert len(list_json(tmp_path / "ollaguard.db")) == 1


def db_line(p):
    """The one "database PATH" line keyctl prints on stderr."""
    lines = [l for l in p.stderr.splitlines()
             if l.startswith("ollaguard-keyctl: database ")]
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_finds_the_daemons_database_from_another_folder(tmp_path):
    """Run from elsewhere, keyctl uses the db line of the daemon's config
    file (--config, else OLLAGUARD_CONFIG), says which database on
    stderr, and creates no ./ollaguard.db."""
    srv = tmp_path / "srv"
    elsewhere = tmp_path / "elsewhere"
    srv.mkdir()
    elsewhere.mkdir()
    db = srv / "keys.db"
    conf = tmp_path / "ollaguard.conf"
    conf.write_text(f"port = 4000\ndb = {srv}/./keys.db\n")
    p = ok("--config", conf, "add", "--name", "one", cwd=elsewhere)
    assert re.fullmatch(RAND_RE, p.stdout.strip()), p.stdout
    assert db_line(p).startswith(f"ollaguard-keyctl: database {db}"), \
        p.stderr
    p = ok("list", "--json", cwd=elsewhere,
           env={"OLLAGUARD_CONFIG": str(conf)})
    assert [k["name"] for k in json.loads(p.stdout)] == ["one"]
    assert f"database {db}" in db_line(p)
    # OLLAGUARD_DB still wins over the config file.
    other = tmp_path / "other.db"
    p = ok("add", cwd=elsewhere, env={"OLLAGUARD_CONFIG": str(conf),
                                      "OLLAGUARD_DB": str(other)})
    assert f"database {other}" in db_line(p)
    assert os.listdir(elsewhere) == []


def test_list_without_a_database_says_so(tmp_path):
    p = keyctl("list", cwd=tmp_path)
    assert_failed(p, "no database", str(tmp_path / "ollaguard.db"))
    assert f"database {tmp_path}/ollaguard.db" in db_line(p)
    assert p.stdout == "" and os.listdir(tmp_path) == []


def test_db_path_printed_normalised(tmp_path):
    (tmp_path / "sub").mkdir()
    p = ok("add", db="./sub/../x.db", cwd=tmp_path)
    assert db_line(p) == f"ollaguard-keyctl: database {tmp_path}/x.db"
    assert f"stored in {tmp_path}/x.db" in p.stderr
    assert "/./" not in p.stderr and "/../" not in p.stderr


@pytest.mark.parametrize("cmd", [["list"], ["export"], ["revoke", "1"],
                                 ["list", "--json"]])
def test_readers_do_not_create_a_database(tmp_path, cmd):
    db = tmp_path / "absent.db"
    p = keyctl(*cmd, db=db)
    assert_failed(p, str(db), "does not exist")
    assert p.stdout == ""
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cmd", [["add"], ["list"], ["import", "-"]])
def test_db_in_missing_folder(tmp_path, cmd):
    db = tmp_path / "no-such-dir" / "keys.db"
    p = keyctl(*cmd, db=db, input="[]" if "-" in cmd else None)
    assert_failed(p, str(db))
    assert "folder" in p.stderr or "does not exist" in p.stderr
    assert not db.parent.exists()


@pytest.mark.parametrize("cmd", [["add"], ["list"], ["revoke", "1"],
                                 ["export"], ["import", "-"]])
def test_file_that_is_not_sqlite(tmp_path, cmd):
    db = tmp_path / "notes.db"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 50)
    before = snapshot(db)
    p = keyctl(*cmd, db=db, input=json.dumps(OLD_KEYS))
    assert_failed(p, str(db), "not an ollaguard key database")
    assert snapshot(db) == before
    assert os.listdir(tmp_path) == ["notes.db"]


@pytest.mark.parametrize("cmd", [["add"], ["list"], ["export"]])
def test_database_that_cannot_be_read(tmp_path, cmd):
    # Root reads any file whatever its mode, so a directory stands in
    # for a database the user may not read.
    db = tmp_path / "keys.db"
    db.mkdir()
    p = keyctl(*cmd, db=db)
    assert_failed(p, str(db))
    assert os.listdir(db) == []


@pytest.mark.parametrize("cmd", [["add"], ["list"], ["revoke", "1"]])
def test_database_without_permission(tmp_path, cmd):
    # Root reads mode 000 files, so as root the tool runs as nobody, in
    # a folder nobody may enter.
    wrap = ()
    d = tmp_path
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv(1)")
        wrap = ("setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups")
        d = tempfile.mkdtemp(prefix="keyctl-perm-")
        os.chmod(d, 0o755)
    db = os.path.join(d, "keys.db")
    try:
        add(db)
        os.chmod(db, 0)
        before = snapshot(db)
        p = keyctl(*cmd, db=db, wrap=wrap)
        assert_failed(p, db, "Permission denied")
        assert snapshot(db) == before
    finally:
        if d is not tmp_path:
            shutil.rmtree(d)


# ---------------------------------------------------------------------------
# bad input leaves everything as it was


def bad_import_cases():
    good = json.dumps({"keys": OLD_KEYS}, indent=1)
    return {
        "truncated": (good[:len(good) * 2 // 3], "line "),
        "truncated-object": ('[{"key": "' + OLD_KEYS[0] + '", "na', "line "),
        "malformed": ('["%s" "%s"]' % tuple(OLD_KEYS[:2]),
                      "line 1, column "),
        "wrong-type": (json.dumps(OLD_KEYS + [42]), "[3]"),
        "wrong-type-keys": (json.dumps({"keys": [OLD_KEYS[0], {"name": 1}]}),
                            "keys[1]"),
        "empty": ("", "line 1"),
        "no-keys": (json.dumps({"tokens": OLD_KEYS}), "\"keys\""),
    }


@pytest.mark.parametrize("case", sorted(bad_import_cases()))
def test_bad_import_changes_nothing(db, tmp_path, case):
    text, word = bad_import_cases()[case]
    add(db, "--name", "existing")
    before, listing = snapshot(db), ok("list", "--json", db=db).stdout
    f = tmp_path / "bad.json"
    f.write_text(text)
    p = keyctl("import", f, db=db)
    assert_failed(p, str(f), word, "nothing imported")
    assert p.stdout == ""
    assert snapshot(db) == before
    assert ok("list", "--json", db=db).stdout == listing


def test_truncated_import_reports_the_line(db, tmp_path):
    f = tmp_path / "cut.json"
    f.write_text('{\n  "keys": [\n    "%s",\n    "%s",\n' % tuple(
        OLD_KEYS[:2]))
    p = keyctl("import", f, db=db)
    assert_failed(p, str(f), "line 5, column ")
    assert not db.exists()


def test_import_missing_file(db, tmp_path):
    add(db)
    before = snapshot(db)
    p = keyctl("import", tmp_path / "nope.json", db=db)
    assert_failed(p, "nope.json", "No such file")
    assert snapshot(db) == before


@pytest.mark.parametrize("argv,word", [
    (["frobnicate"], "frobnicate: unknown command"),
    (["add", "--bogus"], "--bogus: unknown option"),
    (["list", "-x"], "-x: unknown option"),
    (["add", "--name"], "--name: missing argument"),
    (["import"], "no file given"),
    (["import", "a", "b"], "one file"),
    (["export", "a", "b"], "one file"),
    (["--nope", "list"], "--nope: unknown option"),
    ([], "no command"),
])
def test_usage_errors(db, argv, word):
    add(db)
    before, listing = snapshot(db), ok("list", db=db).stdout
    p = keyctl(*argv, db=db)
    assert_failed(p, word, "usage: ollaguard-keyctl", status=2)
    assert p.stdout == ""
    assert snapshot(db) == before
    assert ok("list", db=db).stdout == listing


# ---------------------------------------------------------------------------
# help


def test_help():
    p = ok("--help")
    assert p.stdout.startswith(USAGE)
    for cmd in COMMANDS:
        assert f"\n  {cmd} " in p.stdout
    assert "OLLAGUARD_DB" in p.stdout
    assert p.stderr == ""


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(cmd):
    p = ok(cmd, "--help")
    assert p.stdout.startswith(f"{USAGE} {cmd}")
    assert p.stderr == ""
    assert ok("help", cmd).stdout == p.stdout


# ---------------------------------------------------------------------------
# concurrency and robustness


def test_parallel_adds_make_distinct_keys(db):
    def worker(n):
        out = []
        for i in range(25):
            p = keyctl("add", "--name", f"w{n}-{i}", db=db)
            out.append((p.returncode, p.stdout.strip(), p.stderr))
        return out

    with ThreadPoolExecutor(8) as ex:
        results = [r for rs in ex.map(worker, range(8)) for r in rs]
    for rc, _, err in results:
        assert rc == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower()
    keys = {k for _, k, _ in results}
    assert len(keys) == 200
    assert all(re.fullmatch(RAND_RE, k) for k in keys)
    listed = list_json(db)
    assert len(listed) == 200
    assert len({k["name"] for k in listed}) == 200


def test_key_not_delivered_is_revoked(db):
    # /dev/full fails every write: the key never reaches anyone.
    with open("/dev/full", "w") as full:
        p = keyctl("add", "--name", "lost", db=db, stdout=full)
    assert_failed(p, "revoked")
    keys = list_json(db)
    assert len(keys) == 1 and keys[0]["state"] == "revoked"


def test_list_large_database_quickly(db, tmp_path):
    many = [f"sk-bulk-{i:06d}-abcdefghijklmnopqrstuvwxyz" for i in
            range(20000)]
    f = tmp_path / "many.json"
    f.write_text(json.dumps(many))
    t = time.time()
    p = ok("import", f, db=db)
    assert p.stdout.startswith("20000 keys added")
    assert len(list_json(db)) == 20000
    assert time.time() - t < 30


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


# ---------------------------------------------------------------------------
# import: keys too short to be keys, fields that are not read


def test_import_refuses_a_short_key_whole(tmp_path):
    """A file with a 1-character key imports nothing, and creates no
    database, unless --allow-short says the short keys are meant."""
    db = tmp_path / "short.db"
    f = tmp_path / "storage.json"
    f.write_text(json.dumps({"keys": [OLD_KEYS[0], "x", OLD_KEYS[1]]}))
    p = keyctl("import", f, db=db)
    assert_failed(p, "shorter than 16", "nothing imported", "--allow-short",
                  "entry 1")
    assert not db.exists()
    p = ok("import", "--allow-short", f, db=db)
    assert "3 keys added" in p.stdout
    assert len(list_json(db)) == 3


def test_import_names_fields_it_does_not_read(tmp_path):
    db = tmp_path / "fields.db"
    f = tmp_path / "storage.json"
    f.write_text(json.dumps({"keys": [OLD_KEYS[0]], "rate_limits": {},
                             "owner": "bob"}))
    p = ok("import", f, db=db)
    assert "1 key added" in p.stdout
    assert "rate_limits" in p.stderr and "owner" in p.stderr, p.stderr
