"""
The Debian package, installed on this machine for real (root only):
the user, files, modes and master key it makes; the daemon started as
the unit would start it and through the LSB script; keyctl without
--db; an upgrade to a rebuilt package while a stream runs; remove and
purge; lintian finds no error.  Slow (two package builds, about half
a minute each, and lintian).  Where policy-rc.d forbids invoke-rc.d
(containers), the test starts and stops the daemon itself.
"""

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (REPO, HttpConn, bearer, free_port, wait_until)
from test_ops_helpers import NDJSON_BODY

pytestmark = pytest.mark.slow

CONF = "/etc/ollaguard/ollaguard.conf"
KEYFILE = "/etc/ollaguard/master.key"
UNIT = "/lib/systemd/system/ollaguardd.service"
PIDFILE = "/run/ollaguard/ollaguardd.pid"


def run(*argv, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stdout}\n"
                             f"{p.stderr}")
    return p


def build_deb(tmp, version=None):
    """A .deb built from a copy of the tree's files; returns its path."""
    src = tmp / "src"
    files = run("git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                "--exclude-standard").stdout.split("\0")
    for f in files:
        if f and os.path.exists(os.path.join(REPO, f)):
            os.makedirs(src / os.path.dirname(f), exist_ok=True)
            shutil.copy2(os.path.join(REPO, f), src / f)
    if version:
        log = (src / "debian/changelog").read_text()
        entry = (f"ollaguard ({version}) unstable; urgency=medium\n\n"
                 f"  * Test rebuild.\n\n -- t <t@example.org>  "
                 f"Mon, 08 Dec 2025 12:00:00 +0000\n\n")
        (src / "debian/changelog").write_text(entry + log)
    run("dpkg-buildpackage", "-us", "-uc", "-b", cwd=src)
    debs = [p for p in tmp.glob("ollaguard_*.deb")]
    assert len(debs) == 1, debs
    return str(debs[0])


def unit_value(key):
    for line in open(UNIT):
        if line.startswith(key + "="):
            return line.split("=", 1)[1].strip()
    return None


def get(port, path, key, timeout=5):
    with HttpConn("127.0.0.1", port, timeout) as c:
        return c.get(path, bearer(key))


def master_key():
    return open(KEYFILE).read().strip()


@pytest.fixture
def clean_system(stub):
    if os.geteuid() != 0:
        pytest.skip("installs a package: needs root")
    for prog in ("dpkg-buildpackage", "dh", "lintian", "runuser"):
        if shutil.which(prog) is None:
            pytest.skip(f"{prog} missing: make deps installs debhelper, "
                        f"devscripts, lintian")
    if run("dpkg-query", "-W", "ollaguard", check=False).returncode == 0:
        pytest.skip("ollaguard is installed here already")
    had_user = True
    try:
        pwd.getpwnam("ollaguard")
    except KeyError:
        had_user = False
    yield
    if os.path.exists("/etc/init.d/ollaguardd"):
        run("/etc/init.d/ollaguardd", "stop", check=False)
    _kill_installed_daemons()
    run("dpkg", "--purge", "ollaguard", check=False)
    if not had_user:
        run("deluser", "--system", "ollaguard", check=False)
        run("delgroup", "--system", "ollaguard", check=False)


def test_package_installs_serves_upgrades_and_purges(tmp_path, stub,
                                                      clean_system):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    deb1 = build_deb(tmp_path / "v1")
    assert re.search(r"ollaguard_[0-9.]+_amd64\.deb$", deb1)
    lint = run("lintian", "--fail-on", "error",
               *tmp_path.glob("v1/*.changes"), check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # The one warning the README accepts, and why.
    warnings = re.findall(r"^W: ollaguard: (\S+)", lint.stdout, re.M)
    assert set(warnings) <= {"maintainer-script-calls-systemctl"}, \
        lint.stdout
    p = run("dpkg", "-i", deb1)
    assert f"master key is in {KEYFILE}" in p.stdout + p.stderr

    # The user, the folders, the master key.
    pw = pwd.getpwnam("ollaguard")
    assert pw.pw_dir == "/var/lib/ollaguard"
    gid = grp.getgrnam("ollaguard").gr_gid
    st = os.stat("/var/lib/ollaguard")
    assert (st.st_uid, st.st_mode & 0o7777) == (pw.pw_uid, 0o750)
    st = os.stat(KEYFILE)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, gid, 0o640)
    assert re.fullmatch(r"[0-9A-Za-z]{43}", master_key())
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}",
                    "ollaguard").stdout
    assert CONF in conffiles
    assert os.path.islink("/etc/systemd/system/multi-user.target.wants/"
                          "ollaguardd.service"), "unit not enabled"
    assert unit_value("Type") == "notify"

    port = free_port()
    conf = open(CONF).read()
    conf += f"\nhost = 127.0.0.1\nport = {port}\ntarget-url = {stub.url}\n"
    open(CONF, "w").write(conf)

    # As the unit starts it: its user, its command line.
    argv = shlex.split(unit_value("ExecStart"))
    d = subprocess.Popen(["runuser", "-u", "ollaguard", "--", *argv],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: get(port, "/api/tags", master_key())
                          .status == 200 if _up(port) else False, 10)
        key = run("runuser", "-u", "ollaguard", "--", "/usr/sbin/ollaguard-keyctl",
                  "add", "--name", "deb").stdout.strip()
        assert get(port, "/api/tags", key).status == 200
        assert get(port, "/api/tags", "nope" * 8).status == 401
    finally:
        d.terminate()
        d.wait(20)

    # The LSB script, and an upgrade while a stream runs.
    run("/etc/init.d/ollaguardd", "start")
    assert run("/etc/init.d/ollaguardd", "status").returncode == 0
    old = int(open(PIDFILE).read())
    assert wait_until(lambda: _up(port), 10)
    assert get(port, "/api/tags", key).status == 200
    deb2 = build_deb(tmp_path / "v2", version="0.1.1")
    # The stub's stream is no Ollama endpoint, so in the manage class,
    # which the key made above (read and infer) may not use.
    c = HttpConn("127.0.0.1", port, 20)
    c.send(f"GET /stream/ndjson?gate=deb HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {master_key()}\r\n\r\n".encode())
    resp = c.read_head()
    p = run("dpkg", "-i", "--force-confold", deb2)
    assert "took over without a restart" in p.stdout, p.stdout + p.stderr
    new = int(open(PIDFILE).read())
    assert new != old
    stub.release("deb")
    c.read_body(resp, 20)
    assert resp.complete and resp.body == NDJSON_BODY
    assert "0.1.1" in run("/usr/sbin/ollaguardd", "--version").stdout
    assert get(port, "/api/tags", key).status == 200, "key lost"
    assert master_key() and open(CONF).read() == conf
    assert wait_until(lambda: not os.path.exists(f"/proc/{old}"), 10)

    # remove keeps the data; purge removes it and keeps the user.
    run("/etc/init.d/ollaguardd", "stop")
    run("dpkg", "--remove", "ollaguard")
    assert not os.path.exists("/usr/sbin/ollaguardd")
    assert os.path.exists("/var/lib/ollaguard/ollaguard.db")
    assert os.path.exists(KEYFILE)
    p = run("dpkg", "--purge", "ollaguard")
    assert "removing the key database" in p.stdout
    assert not os.path.exists("/var/lib/ollaguard")
    assert not os.path.exists("/etc/ollaguard")
    pwd.getpwnam("ollaguard")


def _up(port):
    try:
        HttpConn("127.0.0.1", port, 1).close()
        return True
    except OSError:
        return False


def _kill_installed_daemons():
    """After a failure: the processes of the installed program (its
    masters and workers, an old master still draining), by pid."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.startswith("/usr/sbin/ollaguardd"):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
