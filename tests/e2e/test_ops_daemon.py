"""
Running as a service: --pidfile, --daemon, --check-config.
"""

import os
import signal
import socket
import time

import pytest

from conftest import MASTER_KEY, HttpConn, bearer, free_port
from stub_upstream import TAGS_BODY
from conftest import _group_members
from test_ops_helpers import (assert_exited_cleanly, children, finish_stream,
                              proc_state, read_first_line, start_stream,
                              title, wait_exit, wait_until, wait_workers)


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def test_pidfile_holds_master_pid_and_is_removed_at_exit(daemon_factory,
                                                         tmp_path):
    pidfile = tmp_path / "ollaguardd.pid"
    d = daemon_factory(workers=2, extra_args=["--pidfile", str(pidfile)])
    assert wait_until(lambda: read_pid(pidfile) == d.proc.pid, 2), \
        f"pidfile holds {pidfile.read_text()!r}, master is {d.proc.pid}"
    wait_workers(d, 2)
    d.proc.send_signal(signal.SIGTERM)
    rc = wait_exit(d, 4)
    assert rc is not None
    assert_exited_cleanly(d, rc)
    assert not pidfile.exists(), "pidfile left behind at exit"


def test_second_instance_with_same_pidfile_refuses(daemon_factory, tmp_path):
    pidfile = tmp_path / "ollaguardd.pid"
    first = daemon_factory(workers=2, extra_args=["--pidfile", str(pidfile)])
    assert wait_until(lambda: read_pid(pidfile) == first.proc.pid, 2)
    p = daemon_factory.run(["--host", "127.0.0.1", "--port",
                            str(free_port()), "--db",
                            str(tmp_path / "second.db"), "--pidfile",
                            str(pidfile), "--workers", "1"], timeout=10)
    assert p.returncode != 0, "a second instance started on the same pidfile"
    assert str(first.proc.pid) in p.stderr, \
        f"the message does not name the running pid {first.proc.pid}: " \
        f"{p.stderr!r}"
    assert read_pid(pidfile) == first.proc.pid, "the pidfile was changed"
    assert first.get("/api/tags").body == TAGS_BODY


def test_sigkill_master_pidfile_free_at_once(daemon_factory, stub, tmp_path):
    """Issue 10, hole 4: the master dies with SIGKILL while a worker
    streams.  The workers never held the pidfile's lock, so a new master
    on the same pidfile and port starts at once (not "already running as
    pid N" until the stream ends); the orphaned worker, told by
    PR_SET_PDEATHSIG, stops accepting and finishes its stream."""
    pidfile = tmp_path / "ollaguardd.pid"
    d = daemon_factory(workers=2, timeout=30,
                       extra_args=["--pidfile", str(pidfile)])
    assert wait_until(lambda: read_pid(pidfile) == d.proc.pid, 2)
    wait_workers(d, 2)
    old = children(d.proc.pid)
    pgid = d.proc.pid
    stream = start_stream(d, "pid-orphan", timeout=15)
    sr = read_first_line(stream, 5)
    assert sr is not None, "the stream did not start"
    try:
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(5)
        d.stopped = True  # killed here; teardown must not count a crash
        t0 = time.monotonic()
        d2 = daemon_factory.spawn(d.argv, port=d.port, master_key=MASTER_KEY,
                                  db=d.db, wait=False)
        d2.wait_ready(5)
        assert d2.alive(), d2.stderr_text()
        assert "already running" not in d2.stderr_text()
        assert time.monotonic() - t0 < 3.0, "the new master was slow"
        assert wait_until(lambda: read_pid(pidfile) == d2.proc.pid, 2), \
            f"the pidfile holds {read_pid(pidfile)}, not the new master"
        assert d2.get("/api/tags").body == TAGS_BODY

        stub.release("pid-orphan")
        assert finish_stream(stream, sr), \
            f"the orphaned worker did not finish its stream: {sr!r}"
        stream.close()
        assert wait_until(lambda: all(proc_state(p) in (None, "Z")
                                      for p in old), 3), \
            f"workers {[(p, title(p)) for p in old]} outlived the master"
    finally:
        stub.release("pid-orphan")
        for p in _group_members(pgid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_daemon_mode_detaches_and_stops_on_sigterm(daemon_factory, stub,
                                                   tmp_path):
    pidfile = tmp_path / "bg.pid"
    port = free_port()
    args = ["--daemon", "--pidfile", str(pidfile), "--host", "127.0.0.1",
            "--port", str(port), "--target-url", stub.url, "--db",
            str(tmp_path / "bg.db"), "--master-key", MASTER_KEY,
            "--workers", "2", "--min-spare", "1", "--timeout", "5"]
    # (--min-spare 1: with 2, the one request below would leave the
    # pool short, and it would grow at once.)
    pid = None
    try:
        t0 = time.monotonic()
        p = daemon_factory.run(args, timeout=10)
        assert p.returncode == 0, f"--daemon exited {p.returncode}: " \
            f"{p.stderr!r}"
        assert time.monotonic() - t0 < 3, "--daemon did not return at once"
        pid = wait_until(lambda: read_pid(pidfile), 3)
        assert pid, "no pid in the pidfile"
        assert proc_state(pid) not in (None, "Z"), \
            f"pid {pid} from the pidfile is not running"
        assert title(pid) == "ollaguardd: master", title(pid)
        with HttpConn("127.0.0.1", port) as c:
            r = c.get("/api/tags", bearer(MASTER_KEY))
        assert r.status == 200 and r.body == TAGS_BODY, r
        # At least the two asked for: a pool that grew for a moment
        # under a loaded machine is still a detached master's pool.
        assert wait_until(lambda: len(children(pid)) >= 2, 3), \
            f"workers of the detached master: {children(pid)}"
        os.kill(pid, signal.SIGTERM)
        assert wait_until(lambda: proc_state(pid) in (None, "Z"), 5), \
            "the daemon still runs 5 s after SIGTERM"
        assert wait_until(lambda: not pidfile.exists(), 2), \
            "pidfile left behind"
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
        pid = None
    finally:
        if pid is not None and proc_state(pid) not in (None, "Z"):
            # It runs in its own session: its pid is its process group.
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_check_config_valid_prints_settings(daemon_factory, stub, tmp_path):
    port = free_port()
    # The port is taken: --check-config must not need it.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen(1)
        p = daemon_factory.run(["--check-config", "--host", "127.0.0.1",
                                "--port", str(port), "--target-url", stub.url,
                                "--db", str(tmp_path / "cc.db"),
                                "--master-key", MASTER_KEY, "--prefix", "cc-"])
    assert p.returncode == 0, p.stderr
    assert MASTER_KEY not in p.stdout + p.stderr, "the master key was printed"
    lines = p.stdout.splitlines()
    assert "master-key = (set)" in lines, p.stdout
    assert f"port = {port}" in lines, p.stdout
    assert 'prefix = "cc-"' in lines, p.stdout
    assert f'target-url = "{stub.url}"' in lines, p.stdout
    assert stub.requests == []


def test_check_config_without_master_key(daemon_factory, tmp_path):
    p = daemon_factory.run(["--check-config", "--db",
                            str(tmp_path / "cc.db")])
    assert p.returncode == 0, p.stderr
    assert "master-key = (none)" in p.stdout.splitlines(), p.stdout


@pytest.mark.parametrize("content", [b"this is not a database\n" * 50,
                                     b"SQLite format 3\0" + b"\xff" * 4000],
                         ids=["text", "bad-sqlite-header"])
def test_check_config_bad_db_fails(daemon_factory, tmp_path, content):
    db = tmp_path / "bad.db"
    db.write_bytes(content)
    p = daemon_factory.run(["--check-config", "--db", str(db),
                            "--master-key", MASTER_KEY])
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert str(db) in p.stderr, f"the message does not name the db: " \
        f"{p.stderr!r}"
    assert db.read_bytes() == content, "--check-config changed the db"


def test_check_config_bad_config_file_fails(daemon_factory, tmp_path):
    cfg = tmp_path / "bad.conf"
    cfg.write_text("workers = 2\nno-such-setting = 1\n")
    p = daemon_factory.run(["--check-config", "--config", str(cfg), "--db",
                            str(tmp_path / "x.db")])
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert f"{cfg}:2:" in p.stderr, p.stderr
