"""
Hard storage and process failures: a worker or the master killed with
SIGKILL, and the key database locked by another process, made
unreadable, replaced by garbage, on a full disk, with WAL files owned by
another user, and written by 400 writers at once.

Tests that need another user run the daemon as `nobody` from a folder
under /tmp that nobody owns (pytest's own folders are closed to other
users); the disk-full test mounts a small tmpfs.  Both need root and say
so when they skip.
"""

import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (KEYCTL, MASTER_KEY, Eof, HttpConn, _group_members,
                      assert_error_response, bearer, build_request,
                      children, daemon_env, free_port, keyctl, keyctl_add,
                      log_line, proc_state, require_binary, wait_until,
                      warnings)
from stub_upstream import NDJSON_LINES, TAGS_BODY

NDJSON_BODY = b"".join(NDJSON_LINES)
BUSY_TITLE = "ollaguardd: worker GET /stream/ndjson"


# ---------------------------------------------------------------------------
# Helpers


def title(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode("latin-1")
    except OSError:
        return ""


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (to run the daemon as another user)")


def nobody():
    need_root()
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def status_with(d, key, timeout=5.0):
    """GET /api/tags with key on a new connection: the status, or 0 if
    the connection closed without a response."""
    try:
        with HttpConn("127.0.0.1", d.port, timeout) as c:
            r = c.get("/api/tags", bearer(key))
    except (Eof, OSError):
        return 0, None
    return r.status, r


def keyctl_as(db, user, *args):
    """keyctl run as another user (so files it creates are theirs)."""
    require_binary(KEYCTL, "ollaguard-keyctl")
    return subprocess.run([KEYCTL, "--db", db, *args], capture_output=True,
                          text=True, timeout=15, user=user,
                          stdin=subprocess.DEVNULL, env=daemon_env())


@pytest.fixture
def nobody_dir():
    """A folder under /tmp owned by nobody, mode 0700."""
    pw = nobody()
    d = tempfile.mkdtemp(prefix="ollaguard-hard-")
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# Processes killed


def start_stream(d, gate):
    c = d.connect(15)
    c.send(build_request("GET", f"/stream/ndjson?gate={gate}", d.auth()))
    return c


def read_first_line(c, timeout):
    c.sock.settimeout(timeout)
    try:
        r = c.read_head()
    except (socket.timeout, OSError, Eof):
        return None
    finally:
        c.sock.settimeout(c.timeout)
    if r.status != 200 or not c.read_body_until(r, NDJSON_LINES[0], timeout):
        return None
    return r


def test_sigkill_worker_mid_stream_others_finish(daemon_factory, stub):
    """51 streams run; the worker of one is killed.  The other 50 finish
    byte-identical, and the master replaces the dead worker at once."""
    n_others = 50
    d = daemon_factory(workers=60, timeout=30, extra_args=[
        "--min-spare", "2", "--max-spare", "60", "--max-workers", "80"])
    started = time.monotonic()
    assert wait_until(lambda: len(children(d.proc.pid)) >= 60, 10), \
        f"{len(children(d.proc.pid))} workers, expected 60"

    victim = start_stream(d, "victim")
    herd = []
    try:
        vr = read_first_line(victim, 5)
        assert vr is not None, "the victim stream did not start"
        busy = [p for p in children(d.proc.pid)
                if title(p).startswith(BUSY_TITLE)]
        assert len(busy) == 1, [title(p) for p in children(d.proc.pid)]
        victim_pid = busy[0]
        for _ in range(n_others):
            herd.append(start_stream(d, "herd"))
        for i, c in enumerate(herd):
            c.resp = read_first_line(c, 10)
            assert c.resp is not None, f"stream {i} did not start"
        # A worker dying within 2 s of its start makes the master back
        # off before replacing it; this one is older than that.
        time.sleep(max(0.0, started + 2.5 - time.monotonic()))
        before = set(children(d.proc.pid))
        os.kill(victim_pid, 9)
        t0 = time.monotonic()

        def replaced():
            now = set(children(d.proc.pid))
            return victim_pid not in now and len(now) >= len(before) and \
                now - before
        assert wait_until(replaced, 2.5), \
            (f"the killed worker was not replaced within 2.5 s: "
             f"{len(before)} workers before, {len(children(d.proc.pid))} "
             f"now\n{warnings(d)}")
        print(f"replaced after {time.monotonic() - t0:.2f}s")

        victim.read_body(vr, deadline=5)
        assert vr.closed and not vr.complete, \
            f"the killed stream's truncation is not visible: {vr!r}"
        assert not any(c.eof for c in herd), "another stream was cut"
    finally:
        stub.release("herd")
        stub.release("victim")
    for i, c in enumerate(herd):
        c.read_body(c.resp, deadline=10)
        assert c.resp.complete and not c.resp.closed and \
            c.resp.body == NDJSON_BODY, f"stream {i}: {c.resp!r}"
        c.close()
    assert log_line(d, rf"worker {victim_pid} killed by signal 9"), \
        warnings(d)
    assert d.get("/api/tags").body == TAGS_BODY


def test_sigkill_master_workers_stop_port_free(daemon_factory, stub):
    """The master dies with SIGKILL.  Its workers get SIGTERM (they asked
    for it with PR_SET_PDEATHSIG) and close their copy of the listen
    socket at once, the one still streaming too: within ~2 s no
    connection is served, and a new daemon on the same port starts at
    once.  The stream in progress still finishes."""
    d = daemon_factory(workers=4, timeout=30)
    assert wait_until(lambda: len(children(d.proc.pid)) == 4, 3)
    old = children(d.proc.pid)
    assert d.get("/api/tags").body == TAGS_BODY
    pgid = d.proc.pid
    stream = start_stream(d, "orphan")
    sr = read_first_line(stream, 5)
    assert sr is not None, "the stream did not start"

    os.kill(d.proc.pid, 9)
    d.proc.wait(5)
    d.stopped = True  # stopped here; teardown must not count it a crash
    t0 = time.monotonic()

    def nobody_serves():
        """True if a connection is refused, or closed without a
        response; False if served or left hanging."""
        try:
            c = HttpConn("127.0.0.1", d.port, timeout=0.5)
        except OSError:
            return True
        with c:
            try:
                c.send(build_request("GET", "/api/tags", d.auth()))
                c.read_head()
            except (Eof, ConnectionError):
                return True
            except (socket.timeout, OSError):
                return False
            return False
    try:
        assert wait_until(nobody_serves, 2.5, 0.1), \
            "connections still served (or hanging) 2.5 s after the " \
            "master died"
        print(f"port free after {time.monotonic() - t0:.2f}s")
        t1 = time.monotonic()
        d2 = daemon_factory.spawn(d.argv, port=d.port, master_key=MASTER_KEY,
                                  db=d.db)
        elapsed = time.monotonic() - t1
        assert elapsed < 2.0, f"the new daemon took {elapsed:.2f}s to listen"
        assert d2.get("/api/tags").body == TAGS_BODY
        assert "cannot listen" not in d2.stderr_text()

        # The orphaned worker finishes its stream, then exits; the idle
        # ones are gone already.
        stub.release("orphan")
        stream.read_body(sr, deadline=10)
        assert sr.complete and sr.body == NDJSON_BODY, \
            f"the stream in progress was not finished: {sr!r}"
        stream.close()
        gone = wait_until(lambda: all(proc_state(p) in (None, "Z")
                                      for p in old), 3)
        left = [(p, title(p)) for p in old
                if proc_state(p) not in (None, "Z")]
        assert gone, f"workers {left} outlived the master"
    finally:
        stub.release("orphan")
        for p in _group_members(pgid):
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------------------
# The database locked, unreadable, replaced


def test_db_write_locked_by_another_process(daemon_factory, stub):
    """Another process holds a write transaction.  Readers are not
    blocked in WAL mode, so keys still authenticate; /key/generate waits
    the keystore's busy timeout (10 s, KS_BUSY_MS) and then answers 503
    JSON, with no key made."""
    d = daemon_factory(workers=4)
    keys = [keyctl_add(d.db) for _ in range(16)]
    assert status_with(d, keys[0])[0] == 200

    con = sqlite3.connect(d.db, timeout=1, isolation_level=None)
    gen = {}

    def generate():
        t = time.monotonic()
        try:
            with HttpConn("127.0.0.1", d.port, 20) as c:
                gen["resp"] = d.generate({"name": "while-locked"}, conn=c)
        except Exception as e:  # recorded for the assertion below
            gen["error"] = repr(e)
        gen["elapsed"] = time.monotonic() - t
    th = threading.Thread(target=generate)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO keys (hash, hint, created_at) VALUES "
                    "(randomblob(32), 'lock', 1)")
        t0 = time.monotonic()
        th.start()
        # 8 s of requests, each with a key not used before (so no worker
        # has it cached: each is a read of the locked database).
        slow = []
        i = 1
        while time.monotonic() - t0 < 8:
            key = keys[i % len(keys)]
            i += 1
            t = time.monotonic()
            st, r = status_with(d, key, timeout=5)
            took = time.monotonic() - t
            assert st == 200, f"auth failed while the db was write-locked " \
                f"({time.monotonic() - t0:.1f}s in): {st} {r!r}"
            if took > 2:
                slow.append(round(took, 2))
            time.sleep(0.25)
        assert not slow, f"authentication took {slow}s while locked"
        th.join(15)
        assert not th.is_alive(), "/key/generate still waiting after 15 s"
        locked_for = time.monotonic() - t0
    finally:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.close()
        th.join(15)
    assert "resp" in gen, f"/key/generate failed: {gen}"
    r = gen["resp"]
    assert_error_response(r, 503)
    assert "key" not in r.json(), r
    assert 9.0 <= gen["elapsed"] <= 13.0, \
        f"503 after {gen['elapsed']:.1f}s; the busy timeout is 10 s " \
        f"(lock held {locked_for:.1f}s)"
    assert log_line(d, r"/key/generate: .*busy"), warnings(d)
    names = [k["name"] for k in json.loads(
        d.keyctl("list", "--json").stdout)]
    assert "while-locked" not in names and len(names) == 16, names

    # Once the lock is gone, generating works again, and the key works.
    r = d.generate({"name": "after-lock"})
    assert r.status == 200, r
    assert status_with(d, r.json()["key"])[0] == 200


def test_db_unreadable_while_running(daemon_factory, nobody_dir):
    """chmod 000 under a daemon serving as nobody: requests with a
    database key get 503 (the check runs once a second, so only within
    the first second may one still pass), a clear log line, no worker
    dies; chmod 600 brings it back within ~2 s."""
    db = os.path.join(nobody_dir, "keys.db")
    # A pool that neither grows nor shrinks here: the workers counted at
    # the end must be the ones serving now (a retired spare is no death).
    d = daemon_factory(workers=2, db=db, env={"OLLAGUARD_USER": "nobody"},
                       extra_args=["--min-spare", "1", "--max-spare", "8"])
    r = d.generate({"name": "db-key"})
    assert r.status == 200, r
    key = r.json()["key"]
    assert status_with(d, key)[0] == 200
    assert os.stat(db).st_uid == pwd.getpwnam("nobody").pw_uid
    workers_before = children(d.proc.pid)

    os.chmod(db, 0)
    t0 = time.monotonic()
    seen = []
    try:
        while time.monotonic() - t0 < 3.0:
            st, resp = status_with(d, key)
            seen.append((round(time.monotonic() - t0, 2), st))
            assert st in (200, 503), f"status {st} while unreadable: {resp!r}"
            if st == 503:
                assert_error_response(resp, 503)
            if st == 200:
                assert time.monotonic() - t0 < 1.5, \
                    f"200 with a database key 1.5 s after chmod 000: {seen}"
            time.sleep(0.1)
        assert any(st == 503 for _, st in seen), seen
        # The master key needs no database.
        assert d.get("/api/tags").status == 200
        line = log_line(d, r"key database .*unavailable")
        assert line and "503" in line, \
            f"no clear log line for the unreadable database:\n{warnings(d)}"
    finally:
        os.chmod(db, 0o600)
    t1 = time.monotonic()
    assert wait_until(lambda: status_with(d, key)[0] == 200, 2.5, 0.1), \
        f"still no 200 2.5 s after chmod 600\n{warnings(d)}"
    print(f"back after {time.monotonic() - t1:.2f}s")
    # No crash loop: the workers are the same processes.
    alive = [p for p in workers_before if proc_state(p) not in (None, "Z")]
    assert alive == workers_before, \
        f"workers {set(workers_before) - set(alive)} died\n{warnings(d)}"
    for bad in ("killed by signal", "exited with status", "die right after"):
        assert bad not in d.stderr_text(), warnings(d)
    assert log_line(d, r"key database .* available again"), warnings(d)


def swap_in_garbage(db):
    """Renames a garbage file over db; the real one is kept (hard link)
    as db + ".real"; returns the garbage bytes."""
    garbage = hashlib.sha256(b"garbage").digest() * 256  # 8 KiB
    os.link(db, db + ".real")
    with open(db + ".tmp", "wb") as f:
        f.write(garbage)
    os.rename(db + ".tmp", db)
    return garbage


def garbage_phase(d, key, swapped_at):
    """After the swap: a key from the database gets 503 and keeps getting
    it.  Workers look at the file once a second, so for up to a second
    after the swap one that has not looked yet may still pass it."""
    assert wait_until(lambda: status_with(d, key)[0] == 503, 2.5, 0.1), \
        f"no 503 2.5 s after the database was replaced\n{warnings(d)}"
    time.sleep(max(0.0, swapped_at + 1.1 - time.monotonic()))
    for _ in range(5):
        st, r = status_with(d, key)
        assert st == 503, f"{st} with the database replaced: {r!r}"
        assert_error_response(r, 503)
        time.sleep(0.1)
    assert d.get("/api/tags").status == 200  # the master key needs no db
    line = log_line(d, r"key database unavailable: .*not an ollaguard")
    assert line, f"no log line saying the file is not a database:\n" \
        f"{warnings(d)}"


def test_db_replaced_by_garbage_then_restored(daemon_factory, stub):
    """A key is added with keyctl while the daemon runs (so it is still
    in the -wal file), then garbage is renamed over the database: 503.
    Renaming the real database back must bring the key back."""
    d = daemon_factory(workers=2)
    key = keyctl_add(d.db, name="in-the-wal")
    assert status_with(d, key)[0] == 200
    had_wal = os.path.exists(d.db + "-wal") and \
        os.path.getsize(d.db + "-wal") > 0

    garbage = swap_in_garbage(d.db)
    garbage_phase(d, key, time.monotonic())
    with open(d.db, "rb") as f:
        garbage_kept = f.read() == garbage
    os.rename(d.db + ".real", d.db)

    ok = wait_until(lambda: status_with(d, key)[0] == 200, 2.5, 0.1)
    if not ok:
        listed = keyctl(d.db, "list", "--json", check=False)
        pytest.fail(
            f"the key still fails 2.5 s after the real database was put "
            f"back ({status_with(d, key)[0]}).  Before the swap the key "
            f"was in a non-empty -wal: {had_wal}; the garbage file was "
            f"{'left alone' if garbage_kept else 'WRITTEN TO'} while it "
            f"stood in; -wal now exists: {os.path.exists(d.db + '-wal')}; "
            f"keys in the restored database: {listed.stdout.strip()!r}\n"
            f"{warnings(d)}", pytrace=False)
    assert garbage_kept, "the daemon wrote into the garbage file"
    assert log_line(d, r"key database .* available again"), warnings(d)


def test_db_replaced_by_garbage_after_checkpoint(daemon_factory, stub):
    """The same with the -wal checkpointed into the database first, so
    the file renamed away is complete on its own: 503 while the garbage
    stands in, 200 once the real one is back."""
    d = daemon_factory(workers=2)
    key = keyctl_add(d.db, name="checkpointed")
    assert status_with(d, key)[0] == 200
    with sqlite3.connect(d.db) as con:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    con.close()
    assert busy == 0, "could not checkpoint the -wal"

    swap_in_garbage(d.db)
    garbage_phase(d, key, time.monotonic())
    os.rename(d.db + ".real", d.db)
    assert wait_until(lambda: status_with(d, key)[0] == 200, 2.5, 0.1), \
        f"no recovery 2.5 s after the real database was put back\n" \
        f"{warnings(d)}"
    assert log_line(d, r"key database .* available again"), warnings(d)
    for bad in ("killed by signal", "exited with status"):
        assert bad not in d.stderr_text(), warnings(d)


# ---------------------------------------------------------------------------
# A full disk


@pytest.fixture
def small_tmpfs(daemon_factory):
    """A 512 KiB tmpfs mounted on a fresh folder; the daemons are stopped
    before it is unmounted."""
    need_root()
    d = tempfile.mkdtemp(prefix="ollaguard-full-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs",
                        d], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): "
                    f"{p.stderr.strip()}")
    try:
        yield d
    finally:
        daemon_factory.stop_all()  # problems are reported by its fixture
        if subprocess.run(["umount", d]).returncode != 0:
            subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def fill(folder):
    """Writes a filler file until the file system is full; its path."""
    path = os.path.join(folder, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (64 * 1024, 4096, 512, 1):
            for _ in range(1024):
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return path


def test_disk_full(daemon_factory, small_tmpfs):
    db = os.path.join(small_tmpfs, "keys.db")
    d = daemon_factory(workers=2, db=db)
    k1 = keyctl_add(db, name="before-1")
    r = d.generate({"name": "before-2"})
    assert r.status == 200, r
    k2 = r.json()["key"]
    filler = fill(small_tmpfs)
    assert shutil.disk_usage(small_tmpfs).free < 4096

    for i in range(3):
        r = d.generate({"name": f"full-{i}"})
        assert 500 <= r.status < 600, f"/key/generate on a full disk: {r!r}"
        assert_error_response(r, r.status)
        assert "key" not in r.json()
    assert log_line(d, r"/key/generate: .*(full|disk)"), warnings(d)
    # Reads keep working: earlier keys, a wrong key, keyctl list.
    for k in (k1, k2):
        assert status_with(d, k)[0] == 200
    assert status_with(d, "x" * 43)[0] == 401
    listed = json.loads(keyctl(db, "list", "--json").stdout)
    assert sorted(k["name"] for k in listed) == ["before-1", "before-2"]

    os.unlink(filler)
    r = d.generate({"name": "after-full"})
    assert r.status == 200, f"no recovery once space is free: {r!r}"
    assert status_with(d, r.json()["key"])[0] == 200


# ---------------------------------------------------------------------------
# WAL files another user owns


def test_wal_files_owned_by_root_refused_as_nobody(daemon_factory,
                                                   nobody_dir):
    """keyctl run as root left keys.db-wal and -shm owned by root (here:
    a root process that exits without closing the database).  Started as
    nobody, the daemon could not write them: it must say so at start,
    naming the file and the chown that fixes it."""
    pw = nobody()
    db = os.path.join(nobody_dir, "keys.db")
    keyctl_add(db)
    # A root process exits without closing: -wal and -shm stay.
    subprocess.run(["python3", "-c",
                    "import os, sqlite3, sys\n"
                    "c = sqlite3.connect(sys.argv[1])\n"
                    "c.execute('PRAGMA journal_mode=WAL')\n"
                    "c.execute('SELECT count(*) FROM keys').fetchall()\n"
                    "os._exit(0)\n", db], check=True, timeout=10)
    for suffix in ("-wal", "-shm"):
        assert os.stat(db + suffix).st_uid == 0, f"no root-owned {suffix}"
    os.chown(db, pw.pw_uid, pw.pw_gid)

    p = daemon_factory.run(["--host", "127.0.0.1", "--port", str(free_port()),
                            "--db", db, "--master-key", MASTER_KEY,
                            "--workers", "1"],
                           env={"OLLAGUARD_USER": "nobody"})
    assert p.returncode != 0, f"started with root-owned WAL files:\n" \
        f"{p.stderr}"
    assert re.search(re.escape(db) + r"-(wal|shm)", p.stderr), \
        f"the message does not name the file: {p.stderr!r}"
    assert "chown" in p.stderr, f"no chown hint: {p.stderr!r}"
    assert MASTER_KEY not in p.stderr


# ---------------------------------------------------------------------------
# Many writers at once


def test_concurrent_generate_and_keyctl_add(daemon_factory, stub):
    """200 /key/generate over 20 connections and 200 keyctl add processes
    at the same time: 400 distinct keys, every one works, the list
    counts 400, and nobody saw "database is locked"."""
    d = daemon_factory(workers=24, extra_args=["--max-spare", "30"])
    require_binary(KEYCTL, "ollaguard-keyctl")
    gen_results = []
    lock = threading.Lock()

    def generate_on_one_connection(_):
        with HttpConn("127.0.0.1", d.port, 30) as c:
            for _ in range(10):
                r = d.generate({}, conn=c)
                with lock:
                    gen_results.append(r)

    t0 = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        futs = [pool.submit(generate_on_one_connection, i) for i in range(20)]
        procs = [subprocess.Popen([KEYCTL, "--db", d.db, "add"],
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=daemon_env())
                 for _ in range(200)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            outs.append((p.returncode, out.decode(), err.decode()))
        for f in futs:
            f.result(timeout=60)
    print(f"400 writes in {time.monotonic() - t0:.1f}s")

    texts = [o + e for _, o, e in outs] + \
        [r.body.decode("utf-8", "replace") for r in gen_results] + \
        [d.stderr_text()]
    locked = [t for t in texts
              if re.search(r"(?i)database is locked|database (is )?busy", t)]
    assert not locked, f"{len(locked)} outputs saw a lock: {locked[:3]}"
    failed = [(rc, e) for rc, _, e in outs if rc != 0]
    assert not failed, f"{len(failed)} keyctl add failed: {failed[:3]}"
    bad = [r for r in gen_results if r.status != 200]
    assert len(gen_results) == 200 and not bad, \
        f"{len(bad)} /key/generate failed: {bad[:3]}"
    keys = [r.json()["key"] for r in gen_results] + \
        [o.strip() for _, o, _ in outs]
    assert len(set(keys)) == 400, f"{len(set(keys))} distinct keys"

    listed = json.loads(d.keyctl("list", "--json").stdout)
    assert len(listed) == 400 and \
        len({k["id"] for k in listed}) == 400, len(listed)

    # Every key works through the proxy (20 connections at a time; at
    # least 50 must be checked, all are if time allows).
    budget = time.monotonic() + 30

    def check(chunk):
        done, fails = 0, []
        with HttpConn("127.0.0.1", d.port, 10) as c:
            for k in chunk:
                if done >= 3 and time.monotonic() > budget:
                    break
                r = c.get("/api/tags", bearer(k))
                if r.status != 200:
                    fails.append((k[:6], r.status))
                done += 1
        return done, fails
    chunks = [keys[i::20] for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(check, chunks))
    checked = sum(n for n, _ in results)
    fails = [f for _, fs in results for f in fs]
    assert not fails, f"{len(fails)} keys did not work: {fails[:5]}"
    assert checked >= 50, f"only {checked} keys checked in time"
    print(f"{checked} keys checked")
