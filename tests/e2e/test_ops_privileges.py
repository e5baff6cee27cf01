"""
Started as root: serving as --user, refusing a database the user cannot
write, and refusing to serve as root unless told to.

pytest's own temporary folders are closed to other users, so the
databases here live in a folder made under /tmp and removed after.
"""

import os
import pwd
import shutil
import tempfile

import pytest

from conftest import MASTER_KEY, free_port
from stub_upstream import TAGS_BODY
from test_ops_helpers import need_root, status_ids, wait_until, workers


@pytest.fixture
def open_dir():
    """A fresh folder under /tmp; mode set by the test."""
    d = tempfile.mkdtemp(prefix="ollaguard-ops-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def test_serves_as_user_nobody(daemon_factory, open_dir):
    need_root()
    pw = nobody()
    os.chmod(open_dir, 0o777)
    db = os.path.join(open_dir, "keys.db")
    # At least the two asked for: on a loaded machine the readiness
    # probe's connection may have grown the pool; every one must run as
    # nobody.
    d = daemon_factory(workers=2, db=db, env={"OLLAGUARD_USER": "nobody"},
                       extra_args=["--min-spare", "1"])
    assert wait_until(lambda: len(workers(d)) >= 2, 3), workers(d)
    for pid in [d.proc.pid] + workers(d):
        uids, gids, groups = status_ids(pid)
        assert uids == [pw.pw_uid] * 4, f"pid {pid} runs as uids {uids}"
        assert gids == [pw.pw_gid] * 4, f"pid {pid} runs as gids {gids}"
        assert 0 not in groups, f"pid {pid} kept group root: {groups}"
    assert d.get("/api/tags").body == TAGS_BODY
    r = d.generate({"name": "as-nobody"})
    assert r.status == 200, r
    assert os.stat(db).st_uid == pw.pw_uid, "the db was not created by nobody"
    assert d.get("/api/tags", key=r.json()["key"]).body == TAGS_BODY


@pytest.mark.parametrize("what", ["folder", "file"])
def test_db_not_writable_by_user_exits_with_chown_hint(daemon_factory,
                                                       open_dir, what):
    need_root()
    nobody()
    db = os.path.join(open_dir, "keys.db")
    if what == "folder":
        os.chmod(open_dir, 0o755)
    else:
        os.chmod(open_dir, 0o777)
        open(db, "wb").close()  # owned by root, mode 0644
        os.chmod(db, 0o644)
    port = free_port()
    p = daemon_factory.run(["--host", "127.0.0.1", "--port", str(port),
                            "--db", db, "--master-key", MASTER_KEY,
                            "--workers", "1"],
                           env={"OLLAGUARD_USER": "nobody"})
    assert p.returncode != 0, "started with a database nobody cannot write"
    assert "chown" in p.stderr, f"no chown hint: {p.stderr!r}"
    assert MASTER_KEY not in p.stderr


def test_root_without_user_refuses(daemon_factory, tmp_path):
    need_root()
    # An empty value counts as unset; conftest sets OLLAGUARD_USER=root.
    p = daemon_factory.run(["--host", "127.0.0.1", "--port",
                            str(free_port()), "--db",
                            str(tmp_path / "k.db"), "--master-key",
                            MASTER_KEY], env={"OLLAGUARD_USER": ""})
    assert p.returncode != 0
    assert "refusing to serve as root" in p.stderr, p.stderr
    assert not (tmp_path / "k.db").exists(), \
        "the database was created before the refusal"


def test_db_in_a_system_folder_advises_a_folder_of_its_own(daemon_factory):
    """--db /etc/x.db --user nobody: chown on /etc would hand every
    program's configuration to nobody; the hint is a folder of its own."""
    need_root()
    nobody()
    db = "/etc/ollaguard-e2e-no-such.db"
    p = daemon_factory.run(["--host", "127.0.0.1", "--port",
                            str(free_port()), "--db", db, "--master-key",
                            MASTER_KEY, "--workers", "1"],
                           env={"OLLAGUARD_USER": "nobody"})
    assert p.returncode != 0
    assert not os.path.exists(db)
    assert "chown nobody /etc" not in p.stderr, p.stderr
    assert "/var/lib/ollaguard" in p.stderr, p.stderr
