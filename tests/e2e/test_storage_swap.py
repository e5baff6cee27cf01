"""
Replacing the key database while the daemon runs, the way the README
says to: build a new file with keyctl, then rename it over the old one.
The new file must be served as itself: its keys work, the old file's
keys (even ones still only in the old file's -wal) do not, and nothing
of the old -wal is played into the new file.
"""
import json
from collections import Counter
import os
import sqlite3
import threading
import time

from conftest import keyctl, keyctl_add, wait_until, warnings
from test_hard_storage import (keyctl_as, nobody,  # noqa: F401
                               nobody_dir, status_with)


def names_in(db):
    listed = json.loads(keyctl(db, "list", "--json").stdout)
    return sorted(k["name"] for k in listed if k["state"] == "active")


def integrity(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


class Load:
    """Requests with each key in a loop on two threads, so that the
    workers hold the old file open, and read it, during the swap."""

    def __init__(self, d, keys):
        self.d = d
        self.keys = keys
        self.stop = threading.Event()
        self.statuses = []
        self.threads = [threading.Thread(target=self.run, daemon=True)
                        for _ in range(2)]

    def run(self):
        while not self.stop.is_set():
            for k in self.keys:
                self.statuses.append(status_with(self.d, k, 3.0)[0])

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def swapped(d, want):
    """True once every key in want gets its status, several times over
    (new connections land on different workers)."""
    return all(status_with(d, k)[0] == st
               for _ in range(6) for k, st in want.items())


def test_swap_new_file_is_served_as_itself(daemon_factory, stub):
    d = daemon_factory(workers=3, extra_args=["--auth-fail-limit", "0"])
    # A connection of our own keeps keyctl from being the last to close
    # the file (which checkpoints and empties the -wal), whatever the
    # workers' connections are doing on a loaded machine.
    holder = sqlite3.connect(d.db)
    holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
    old_key = keyctl_add(d.db, name="old-file")     # in the live -wal
    assert status_with(d, old_key)[0] == 200
    assert os.path.getsize(d.db + "-wal") > 0, "the key is not in the -wal"
    holder.close()

    new = os.path.join(os.path.dirname(d.db), "new.db")
    new_key = keyctl_add(new, name="new-file")
    assert not os.path.exists(new + "-wal"), "keyctl left a -wal behind"

    with Load(d, [old_key, new_key]) as load:
        time.sleep(0.3)
        os.rename(new, d.db)
        ok = wait_until(lambda: swapped(d, {new_key: 200, old_key: 401}),
                        3.0, 0.1)
    assert ok, (f"3 s after the swap: new key {status_with(d, new_key)[0]}, "
                f"old key {status_with(d, old_key)[0]}; keys in the file: "
                f"{names_in(d.db)}\n{warnings(d)}")
    assert set(load.statuses) <= {200, 401}, \
        f"statuses during the swap: {Counter(load.statuses)}\n" \
        f"{warnings(d)}"
    assert names_in(d.db) == ["new-file"]
    assert integrity(d.db) == "ok"
    # Later writes land in the new file and are seen by every worker.
    third = keyctl_add(d.db, name="after-swap")
    assert wait_until(lambda: swapped(d, {third: 200, new_key: 200,
                                          old_key: 401}), 3.0, 0.1)
    assert names_in(d.db) == ["after-swap", "new-file"]
    assert integrity(d.db) == "ok"


def test_revoke_by_swap_never_silently_fails(daemon_factory, stub,
                                             tmp_path):
    """Revoking by building a copy without the key and renaming it over
    the database: the revoked key must stop working, every time."""
    d = daemon_factory(workers=3, extra_args=["--auth-fail-limit", "0"])
    keep = keyctl_add(d.db, name="keep")
    for round in range(3):
        doomed = keyctl_add(d.db, name=f"doomed-{round}")
        assert swapped(d, {keep: 200, doomed: 200})
        export = tmp_path / f"export-{round}.json"
        keyctl(d.db, "export", export)
        new = os.path.join(os.path.dirname(d.db), f"new-{round}.db")
        keyctl(new, "import", export)
        keyctl(new, "revoke", f"doomed-{round}")
        assert not os.path.exists(new + "-wal")
        with Load(d, [keep, doomed]) as load:
            os.rename(new, d.db)
            ok = wait_until(lambda: swapped(d, {keep: 200, doomed: 401}),
                            3.0, 0.1)
        assert ok, (f"round {round}: 3 s after the swap the revoked key "
                    f"gets {status_with(d, doomed)[0]}, the kept one "
                    f"{status_with(d, keep)[0]}\n{warnings(d)}")
        assert set(load.statuses) <= {200, 401}, \
            f"round {round}: {Counter(load.statuses)}\n{warnings(d)}"
        assert integrity(d.db) == "ok"


def test_walid_belongs_to_the_database_owner(nobody_dir):
    """Root running keyctl on the daemon user's database must not leave
    a -walid file that user cannot open."""
    pw = nobody()
    db = os.path.join(nobody_dir, "keys.db")
    keyctl_add(db)                          # as root: all root's
    os.chown(db, pw.pw_uid, pw.pw_gid)      # the operator's chown
    keyctl_add(db)                          # root again
    st = os.stat(db + "-walid")
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    p = keyctl_as(db, "nobody", "list")
    assert p.returncode == 0, p.stderr
