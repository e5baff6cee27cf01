"""
Binary upgrade in place (SIGUSR2, as nginx does): the master runs the
program file again with the listen socket inherited; the new master
starts its workers, takes the pid file and tells the old master to
drain.  No connection is refused meanwhile and streams in progress
finish.  A new program that fails to start leaves the old master
serving.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BUILD, DAEMON, MASTER_KEY, REPO, Daemon, HttpConn,
                      _group_members, bearer, daemon_env, free_port,
                      require_binary, wait_until)
from test_ops_helpers import (finish_stream, log_has, read_first_line,
                              start_stream, wait_workers)

NEW_VERSION = "9.9.9"


@pytest.fixture(scope="module")
def new_build(tmp_path_factory):
    """The daemon built again with another version: the objects of
    $OLLAGUARD_BUILD copied, config.o and the links made anew."""
    require_binary(DAEMON, "ollaguardd")
    b = tmp_path_factory.mktemp("build-new") / "build"
    shutil.copytree(BUILD, b, symlinks=True,
                    ignore=shutil.ignore_patterns("tests", "fuzz*",
                                                  "*.deb"))
    for f in ("obj/common/config.o", "libcommon.a", "ollaguardd",
              "ollaguard-keyctl"):
        try:
            os.unlink(b / f)
        except FileNotFoundError:
            pass
    p = subprocess.run(["make", "-C", REPO, f"BUILD={b}",
                        f"CFLAGS=-DOLLAGUARD_VERSION=\\\"{NEW_VERSION}\\\"",
                        f"{b}/ollaguardd"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return str(b / "ollaguardd")


def start_from_copy(tmp_path, stub, factory, extra_env=None):
    """The daemon run from a copy of the program in tmp_path/bin, with a
    pid file; returns (daemon, program path, pid file)."""
    require_binary(DAEMON, "ollaguardd")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = str(bindir / "ollaguardd")
    shutil.copy2(DAEMON, exe)
    port = free_port()
    pidfile = str(tmp_path / "og.pid")
    argv = [exe, "--host", "127.0.0.1", "--port", str(port),
            "--target-url", stub.url, "--db", str(tmp_path / "k.db"),
            "--workers", "4", "--max-spare", "30", "--timeout", "30",
            "--master-key", MASTER_KEY, "--pidfile", pidfile,
            "--log-level", "debug"]
    d = Daemon(str(tmp_path), argv, daemon_env(extra_env), port,
               master_key=MASTER_KEY, db=str(tmp_path / "k.db"))
    factory.daemons.append(d)
    d.start()
    wait_workers(d)
    return d, exe, pidfile


def replace_file(src, dst):
    """As dpkg does: a new file renamed over the old one."""
    tmp = dst + ".new"
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


class Loop(threading.Thread):
    """Requests back to back, each on a new connection."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.done = threading.Event()
        self.ok = 0
        self.failures = []

    def run(self):
        while not self.done.is_set():
            try:
                with HttpConn("127.0.0.1", self.port, 5) as c:
                    r = c.get("/api/tags", bearer(MASTER_KEY))
                if r.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"status {r.status}")
            except Exception as e:  # refused, reset, timeout
                self.failures.append(repr(e))


def stop_pid(pid, timeout=10):
    os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                      open(f"/proc/{pid}/stat").read().split(") ")[1][0]
                      == "Z", timeout), f"pid {pid} still running"


def test_sigusr2_upgrades_without_a_refused_or_dropped_request(
        tmp_path, stub, daemon_factory, new_build):
    sock_path = str(tmp_path / "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(sock_path)
    ns.settimeout(10)
    d, exe, pidfile = start_from_copy(tmp_path, stub, daemon_factory,
                                      {"NOTIFY_SOCKET": sock_path})
    old = d.proc.pid
    assert ns.recv(256) == b"READY=1"
    assert read_pid(pidfile) == old

    streams = [start_stream(d, "upgrade") for _ in range(20)]
    for i, c in enumerate(streams):
        c.resp = read_first_line(c, 5)
        assert c.resp is not None, f"stream {i} got no first line"
    loop = Loop(d.port)
    loop.start()
    try:
        time.sleep(0.5)
        replace_file(new_build, exe)
        os.kill(old, signal.SIGUSR2)
        assert log_has(d, rf"ollaguardd {NEW_VERSION} took over", 10), \
            "no new master"
        new = wait_until(lambda: read_pid(pidfile) not in (0, old) and
                         read_pid(pidfile), 10)
        assert new, "the pid file does not name a new master"
        assert ns.recv(256) == f"MAINPID={new}\nREADY=1".encode()
        # The old master drains: its streams are still open.
        time.sleep(0.5)
        assert d.alive(), "the old master left before its streams ended"
        assert os.path.exists(pidfile + ".oldbin")
        assert not any(c.eof for c in streams), "a stream was cut"
    finally:
        stub.release("upgrade")
    for i, c in enumerate(streams):
        assert finish_stream(c, c.resp), f"stream {i}: {c.resp!r}"
        c.close()
    assert d.proc.wait(10) == 0
    d.stopped = True
    time.sleep(0.5)
    loop.done.set()
    loop.join(10)
    try:
        assert loop.failures == [], \
            f"{len(loop.failures)} failed of {loop.ok}: {loop.failures[:5]}"
        assert loop.ok > 20
        assert read_pid(pidfile) == new
        assert not os.path.exists(pidfile + ".oldbin")
        out = subprocess.run([exe, "--version"], capture_output=True,
                             text=True).stdout
        assert NEW_VERSION in out
        r = d.request("GET", "/api/tags")
        assert r.status == 200, r
        assert log_has(d, rf"upgrade: serving; telling the old master "
                       rf"{old}\b", 1)
    finally:
        stop_pid(new)
    assert wait_until(lambda: not _group_members(old), 5)
    assert not os.path.exists(pidfile)


def test_failed_upgrade_keeps_the_old_master_serving(tmp_path, stub,
                                                     daemon_factory):
    d, exe, pidfile = start_from_copy(tmp_path, stub, daemon_factory)
    with open(exe + ".new", "w") as f:
        f.write("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    os.chmod(exe + ".new", 0o755)
    os.replace(exe + ".new", exe)
    d.proc.send_signal(signal.SIGUSR2)
    assert log_has(d, r"upgrade failed: the new master \d+ exited with "
                   r"status 3", 5), "no word of the failed upgrade"
    assert read_pid(pidfile) == d.proc.pid
    assert not os.path.exists(pidfile + ".oldbin")
    r = d.request("GET", "/api/tags")
    assert r.status == 200, r
    assert d.alive()


def test_upgrade_to_another_port_is_refused(tmp_path, stub, daemon_factory):
    """The new master checks the socket it inherits against its own
    settings: a new port needs a restart."""
    d, exe, pidfile = start_from_copy(tmp_path, stub, daemon_factory)
    # The last --port wins.
    with open(exe + ".new", "w") as f:
        f.write(f"#!/bin/sh\nexec {DAEMON} \"$@\" --port {free_port()}\n")
    os.chmod(exe + ".new", 0o755)
    os.replace(exe + ".new", exe)
    d.proc.send_signal(signal.SIGUSR2)
    assert log_has(d, r"inherited socket \d+ is bound to another address",
                   5), "no word of the port mismatch"
    assert log_has(d, r"upgrade failed", 5)
    assert d.request("GET", "/api/tags").status == 200
