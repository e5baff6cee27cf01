"""
The files under etc/ that an administrator installs next to the
programs: the systemd unit, the init script and its defaults file, the
logrotate configuration and the Fail2Ban filter and jail.

Each is checked with the tool that reads it in production
(systemd-analyze, sh/dash/bash, start-stop-daemon, logrotate,
fail2ban-regex and fail2ban-client), and the init script is run for
real, as root, against the built daemon and a stub upstream.

This file stands alone: it uses none of conftest.py's fixtures.  The
daemon comes from $OLLAGUARD_BUILD (default <repo>/build).  A missing
tool is a skip saying which Debian package brings it, except where
`make deps` installs it (CI): then its absence fails, as does a missing
daemon when OLLAGUARD_BUILD was set explicitly.

Every process started here is stopped at the end of its test: the init
script's daemon by its session (the daemon calls setsid), a foreground
daemon by its process group.
"""

import http.client
import http.server
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ETC = os.path.join(REPO, "etc")
BUILD_EXPLICIT = "OLLAGUARD_BUILD" in os.environ
BUILD = os.path.abspath(os.environ.get("OLLAGUARD_BUILD",
                                       os.path.join(REPO, "build")))
DAEMON = os.path.join(BUILD, "ollaguardd")

UNIT = os.path.join(ETC, "systemd", "ollaguardd.service")
INITD = os.path.join(ETC, "init.d", "ollaguardd")
DEFAULTS = os.path.join(ETC, "default", "ollaguardd")
LOGROTATE = os.path.join(ETC, "logrotate.d", "ollaguard")
F2B_FILTER = os.path.join(ETC, "fail2ban", "filter.d", "ollaguard.conf")
F2B_JAIL = os.path.join(ETC, "fail2ban", "jail.d", "ollaguard.conf")
F2B_SYSCONF = "/etc/fail2ban"

INSTALLED_DAEMON = "/usr/local/sbin/ollaguardd"
UNIT_EXECSTART = (INSTALLED_DAEMON + " --config /etc/ollaguard/ollaguard.conf"
                  " --db /var/lib/ollaguard/ollaguard.db")
SHUTDOWN_TIMEOUT_DEFAULT = 30

MASTER_KEY = "mk-etc-0123456789abcdefghijklmnopqrstuvwxyz"
MASTER_KEY_2 = "mk-etc-rotated-9876543210zyxwvutsrqponmlkji"
UPSTREAM_BODY = b'{"models":[{"name":"stub:etc"}]}'

# Variables the daemon or the init script read: none may leak in from
# the caller's shell.
LEAKY_ENV = re.compile(r"^(OLLAGUARD_\w+|MASTER_KEY|MASTER_KEY_FILE|"
                       r"TARGET_URL|DAEMON|DAEMON_ARGS|PIDFILE|STATEDIR|"
                       r"LOGDIR|START_TIMEOUT|STOP_TIMEOUT)$")

RUN_TIMEOUT = 60  # any one command
SCRIPT_TIMEOUT = 60  # one init script action: stop waits up to 15 + 5 s
WAIT_TIMEOUT = 10.0  # a daemon coming up, a reload taking effect

# Tools and the Debian package that brings each; `make deps` installs
# these, so under CI (or with OLLAGUARD_BUILD set) a missing one fails.
TOOLS = {
    "systemd-analyze": "systemd",
    "fail2ban-regex": "fail2ban",
    "fail2ban-client": "fail2ban",
    "logrotate": "logrotate",
    "start-stop-daemon": "dpkg",
    "dash": "dash",
    "bash": "bash",
}


def strict():
    return BUILD_EXPLICIT or os.environ.get("CI") == "true"


def require_tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") +
                        ":/usr/sbin:/sbin")
    if path:
        return path
    msg = f"{name} not found: apt-get install {TOOLS.get(name, name)}"
    if strict() and name in TOOLS:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def require_daemon():
    if os.access(DAEMON, os.X_OK):
        return
    msg = (f"ollaguardd not found at {DAEMON} (build it with `make`, or "
           f"point OLLAGUARD_BUILD at the build directory)")
    if BUILD_EXPLICIT:
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def require_root():
    if os.geteuid() != 0:
        pytest.skip("the init script starts the daemon as root "
                    "(start-stop-daemon, --user); run as root")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not LEAKY_ENV.match(k)}
    env.update(extra)
    return env


def run(argv, **kw):
    kw.setdefault("timeout", RUN_TIMEOUT)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)


def out(res):
    return (f"exit {res.returncode}\n--- stdout\n{res.stdout}"
            f"\n--- stderr\n{res.stderr}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path="/api/tags", key=None, timeout=5.0, headers=None):
    """(status, body) of one GET on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_for(what, check, timeout=WAIT_TIMEOUT, step=0.1):
    """Polls check() until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            got = check()
            if got:
                return got
        except OSError as e:
            last = e
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}"
                        + (f" (last error: {last})" if last else ""),
                        pytrace=False)
        time.sleep(step)


class StubOllama:
    """The smallest upstream: GET answers 200 with UPSTREAM_BODY."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.server.requests.append(
                (self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(UPSTREAM_BODY)))
            self.end_headers()
            self.wfile.write(UPSTREAM_BODY)

        def log_message(self, fmt, *args):
            pass

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      self.Handler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------
# /proc: which processes belong to a daemon we started


def proc_stat(pid):
    """(state, ppid, sid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[3])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def session_members(sid):
    """Live processes of session sid: a daemon after its setsid, with
    every worker it forked."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st[2] == sid and st[0] not in ("Z", "X"):
            found.append(int(name))
    return found


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


# ---------------------------------------------------------------------------
# The systemd unit


def unit_entries(path):
    """[(section, key, value)] of a unit file, in order (a key may repeat,
    so this is no dict)."""
    entries, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(entries, section, key):
    values = [v for s, k, v in entries if s == section and k == key]
    assert values, f"[{section}] {key}= missing from the unit"
    return values[-1]


def unit_copy(tmp_path):
    """The unit with ExecStart pointing at the built daemon, so that
    systemd-analyze checks a program that exists, and a man page
    directory holding the project's pages for Documentation=."""
    with open(UNIT) as f:
        text = f.read()
    assert INSTALLED_DAEMON in text
    d = tmp_path / "units"
    d.mkdir()
    (d / "ollaguardd.service").write_text(
        text.replace(INSTALLED_DAEMON, DAEMON))
    man = tmp_path / "man"
    for sec in ("5", "8"):
        (man / f"man{sec}").mkdir(parents=True)
        for page in os.listdir(os.path.join(REPO, "man")):
            if page.endswith("." + sec):
                shutil.copy(os.path.join(REPO, "man", page),
                            man / f"man{sec}" / page)
    return d / "ollaguardd.service", man


def test_unit_passes_systemd_analyze_verify(tmp_path):
    sa = require_tool("systemd-analyze")
    require_daemon()
    unit, man = unit_copy(tmp_path)
    argv = [sa, "verify"]
    if shutil.which("man") is None:
        argv.append("--man=no")  # nothing to check Documentation= with
    res = run(argv + [str(unit)], env=clean_env(MANPATH=str(man)))
    assert res.returncode == 0 and res.stderr.strip() == "", out(res)


def test_unit_stays_hardened(tmp_path):
    """systemd's own exposure score (0 best, 10 worst) stays at most 2.0:
    dropping a hardening line fails here."""
    sa = require_tool("systemd-analyze")
    require_daemon()
    unit, _ = unit_copy(tmp_path)
    res = run([sa, "security", "--offline=yes", "--threshold=20",
               "--no-pager", str(unit)], env=clean_env())
    assert res.returncode == 0, out(res)


def test_unit_runs_the_daemon_as_documented():
    e = unit_entries(UNIT)
    assert unit_value(e, "Service", "Type") == "notify"
    assert unit_value(e, "Service", "NotifyAccess") == "all"
    assert unit_value(e, "Service", "ExecStart") == UNIT_EXECSTART
    assert unit_value(e, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit_value(e, "Service", "KillMode") == "mixed"
    assert unit_value(e, "Service", "Restart") == "on-failure"
    # Active requests get shutdown-timeout; systemd must wait longer.
    assert int(unit_value(e, "Service", "TimeoutStopSec")) > \
        SHUTDOWN_TIMEOUT_DEFAULT
    assert unit_value(e, "Service", "EnvironmentFile") == \
        "-/etc/default/ollaguardd"
    assert unit_value(e, "Service", "StateDirectory") == "ollaguard"
    # Never root: the daemon is not given --user, so systemd must not
    # start it as root; nor may the shared defaults file make it detach
    # or switch user behind systemd's back.
    user = unit_value(e, "Service", "User")
    assert user not in ("", "root", "0")
    unset = " ".join(v for s, k, v in e
                     if s == "Service" and k == "UnsetEnvironment").split()
    for var in ("OLLAGUARD_USER", "OLLAGUARD_GROUP", "OLLAGUARD_DAEMON",
                "OLLAGUARD_PIDFILE"):
        assert var in unset
    assert unit_value(e, "Service", "CapabilityBoundingSet") == ""
    assert unit_value(e, "Service", "RestrictAddressFamilies").split() == \
        ["AF_INET", "AF_INET6", "AF_UNIX"]
    for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                      ("PrivateDevices", "yes"),
                      ("MemoryDenyWriteExecute", "yes"),
                      ("SystemCallFilter", "@system-service")):
        assert unit_value(e, "Service", key) == want, key


def check_config(argv, tmp_path):
    """`ollaguardd --check-config` on a service's command line, with the
    installed config file and database swapped for the repository's
    sample and a temporary path: {name: value} of what it prints."""
    swap = {"/etc/ollaguard/ollaguard.conf": os.path.join(ETC,
                                                          "ollaguard.conf"),
            "/var/lib/ollaguard/ollaguard.db": str(tmp_path / "og.db"),
            "/run/ollaguard/ollaguardd.pid": str(tmp_path / "og.pid")}
    argv = [DAEMON, "--check-config"] + [swap.get(a, a) for a in argv]
    res = run(argv, env=clean_env(), cwd=str(tmp_path))
    assert res.returncode == 0, out(res)
    assert "# configuration OK" in res.stdout
    assert not os.path.exists(tmp_path / "og.db")
    settings = {}
    for line in res.stdout.splitlines():
        m = re.match(r'^([a-z-]+) = "?(.*?)"?$', line)
        if m:
            settings[m.group(1)] = m.group(2)
    return settings


def test_unit_command_line_is_one_the_daemon_accepts(tmp_path):
    require_daemon()
    argv = UNIT_EXECSTART.split()
    assert argv[0] == INSTALLED_DAEMON
    got = check_config(argv[1:], tmp_path)
    assert got["db"] == str(tmp_path / "og.db")
    assert got["daemon"] == "no" and got["pidfile"] == ""
    assert got["user"] == ""


def test_init_script_command_line_is_one_the_daemon_accepts(tmp_path):
    """What the init script runs with its built-in defaults."""
    require_daemon()
    with open(INITD) as f:
        script = f.read()
    args = re.search(r'^DAEMON_ARGS="(.*)"$', script, re.M).group(1)
    assert re.search(r"--daemon --pidfile \"\$PIDFILE\" "
                     r"--user \"\$OLLAGUARD_USER\"", script)
    got = check_config(["--daemon", "--pidfile", "/run/ollaguard/ollaguardd.pid",
                        "--user", "ollaguard"] + args.split(), tmp_path)
    assert got["daemon"] == "yes"
    assert got["pidfile"] == str(tmp_path / "og.pid")
    assert got["user"] == "ollaguard"
    assert got["db"] == str(tmp_path / "og.db")


# ---------------------------------------------------------------------------
# Fail2Ban


def f2b_confdir(tmp_path):
    """A filter.d holding our filter and the common.conf it includes."""
    require_tool("fail2ban-regex")
    common = os.path.join(F2B_SYSCONF, "filter.d", "common.conf")
    if not os.path.exists(common):
        pytest.fail(f"{common} missing: is fail2ban installed whole?",
                    pytrace=False)
    d = tmp_path / "fail2ban"
    (d / "filter.d").mkdir(parents=True)
    shutil.copy(common, d / "filter.d")
    shutil.copy(F2B_FILTER, d / "filter.d")
    return d


def f2b_matches(confdir, lines, logtype="file", tmp_name="lines.log"):
    """The addresses fail2ban-regex finds in lines, one per matching
    line, in order."""
    log = confdir / tmp_name
    log.write_text("".join(line + "\n" for line in lines))
    return f2b_matches_file(confdir, log, logtype)


def f2b_matches_file(confdir, log, logtype="file"):
    res = run(["fail2ban-regex", "--raw", "-o", "ip", str(log),
               f"{confdir}/filter.d/ollaguard.conf[logtype={logtype}]"],
              env=clean_env())
    assert res.returncode == 0, out(res)
    return res.stdout.split()


# Each line as the daemon writes it, in the three places it lands: its
# standard error as captured, the journal as fail2ban's systemd backend
# renders an entry (host, identifier[pid]: message), and a syslog file.
def stderr_line(addr, reason):
    return (f"ollaguardd[1234] warn: worker: auth failed: client={addr} "
            f"reason={reason}")


def journal_line(addr, reason, minute=5):
    return (f"2025-11-26 14:{minute:02d}:00 gpu ollaguardd[1234]: "
            + stderr_line(addr, reason))


def syslog_line(addr, reason, minute=5):
    return (f"Nov 26 14:{minute:02d}:00 gpu ollaguardd[1234]: worker: "
            f"auth failed: client={addr} reason={reason}")


# A refused request's access line, where it is the one line (the access
# log beside the daemon's messages), in either format.
def combined_401(addr, minute=5):
    return (f'{addr} - - [26/Nov/2025:14:{minute:02d}:00 +0000] "GET '
            f'/api/tags HTTP/1.1" 401 75 in=0 time=0.000 ttfb=- fail=auth')


def json_401(addr, minute=5):
    return ('{"time":"2025-11-26T14:%02d:00.000Z","client":"%s",'
            '"key":"-","key_id":null,"key_name":null,"method":"GET",'
            '"path":"/api/tags","protocol":"HTTP/1.1","status":401,'
            '"bytes_in":0,"bytes_out":75,"duration_ms":0.120,'
            '"ttfb_ms":null,"fail":"auth","model":null,"prompt_tokens":0,'
            '"completion_tokens":0,"load_ms":null}' % (minute, addr))


FAILURES = [("192.0.2.7", "invalid-key"), ("2001:db8::1", "missing-key"),
            ("198.51.100.23", "missing-key"), ("2001:db8:0:1::42",
                                                "invalid-key")]

# Lines that must never ban anybody.
INNOCENT = [
    # a request that passed, in the access log (combined and JSON)
    '192.0.2.7 - - [26/Nov/2025:14:05:00 +0000] "GET /api/tags HTTP/1.1" '
    '200 52 "-" "curl/7.88.1"',
    '{"time":"2025-11-26T14:05:00Z","client":"192.0.2.7","method":"GET",'
    '"path":"/api/tags","status":200}',
    # access lines that quote a refusal where a client controls the text
    # (escaped as the daemon escapes it), or refuse for another reason
    '192.0.2.9 - - [26/Nov/2025:14:05:00 +0000] "GET /x\\x22\\x20401'
    '\\x200\\x20in=0\\x20time=0.000\\x20ttfb=-\\x20fail=auth HTTP/1.1" '
    '200 75 in=0 time=0.000 ttfb=- fail=-',
    '192.0.2.9 - - [26/Nov/2025:14:05:00 +0000] "GET /api/tags HTTP/1.1" '
    '429 80 in=0 time=0.000 ttfb=- fail=auth-limit',
    '192.0.2.9 - 7/alice [26/Nov/2025:14:05:00 +0000] "POST /api/chat '
    'HTTP/1.1" 403 80 in=20 time=0.000 ttfb=- fail=policy',
    '{"time":"2025-11-26T14:05:00.000Z","client":"192.0.2.9","key":"-",'
    '"key_id":null,"key_name":null,"method":"GET","path":"/x\\",\\"client'
    '\\":\\"203.0.113.5\\",\\"status\\":401,\\"fail\\":\\"auth\\",",'
    '"protocol":"HTTP/1.1","status":404,"fail":"-","model":null}',
    # the burst limiter
    "ollaguardd[1234] warn: worker: auth rate limit: client=192.0.2.7 "
    "reason=invalid-key",
    # a key-like string where the address goes, or as the reason
    "ollaguardd[1234] warn: worker: auth failed: "
    "client=sk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG reason=invalid-key",
    "ollaguardd[1234] warn: worker: auth failed: client=192.0.2.7 "
    "reason=sk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    # text a client controls (a path, a User-Agent) that quotes a failure
    # line must not frame another address
    '192.0.2.9 - - [26/Nov/2025:14:05:00 +0000] "GET /auth failed: '
    'client=203.0.113.5 reason=invalid-key HTTP/1.1" 404 0 "-" "x"',
    '192.0.2.9 - - [26/Nov/2025:14:05:00 +0000] "GET / HTTP/1.1" 401 0 '
    '"-" "auth failed: client=203.0.113.5 reason=invalid-key"',
    "ollaguardd[1234] debug: worker: 192.0.2.9:51234: auth failed: "
    "client=203.0.113.5 reason=invalid-key",
    # other lines of the daemon
    "ollaguardd[1234] info: master: started 8 workers",
    "ollaguardd[1234] info: authentication is on",
]


def test_fail2ban_filter_matches_failures_in_every_log_form(tmp_path):
    d = f2b_confdir(tmp_path)
    want = [a for a, _ in FAILURES]
    lines = [stderr_line(a, r) for a, r in FAILURES]
    assert f2b_matches(d, lines) == want
    lines = [journal_line(a, r, i) for i, (a, r) in enumerate(FAILURES)]
    assert f2b_matches(d, lines, "journal") == want
    assert f2b_matches(d, lines, "file") == want
    lines = [syslog_line(a, r, i) for i, (a, r) in enumerate(FAILURES)]
    assert f2b_matches(d, lines) == want
    for form in (combined_401, json_401):
        lines = [form(a, i) for i, (a, _) in enumerate(FAILURES)]
        assert f2b_matches(d, lines) == want, form.__name__
        lines = [f"2025-11-26 14:{i:02d}:30 gpu ollaguardd[1234]: {line}"
                 for i, line in enumerate(lines)]
        assert f2b_matches(d, lines, "journal") == want, form.__name__


def test_fail2ban_filter_ignores_everything_else(tmp_path):
    d = f2b_confdir(tmp_path)
    assert f2b_matches(d, INNOCENT) == []
    journal = [f"2025-11-26 14:05:{i:02d} gpu ollaguardd[1234]: {line}"
               for i, line in enumerate(INNOCENT)]
    assert f2b_matches(d, journal, "journal") == []
    assert f2b_matches(d, journal, "file") == []
    syslog = [f"Nov 26 14:05:{i:02d} gpu ollaguardd[1234]: "
              + re.sub(r"^ollaguardd\[\d+\] \w+: ", "", line)
              for i, line in enumerate(INNOCENT)]
    assert f2b_matches(d, syslog) == []


def test_fail2ban_filter_counts_a_mix_right(tmp_path):
    d = f2b_confdir(tmp_path)
    lines = []
    for i, (addr, reason) in enumerate(FAILURES):
        lines.append(INNOCENT[i])
        lines.append(stderr_line(addr, reason))
    lines += INNOCENT[len(FAILURES):]
    assert f2b_matches(d, lines) == [a for a, _ in FAILURES]


def test_fail2ban_jail_loads_off_and_then_on(tmp_path):
    """fail2ban-client parses the jail with our filter: off as shipped;
    once enabled, a systemd jail on port 4000 reading our unit's
    journal."""
    client = require_tool("fail2ban-client")
    if not os.path.isdir(F2B_SYSCONF):
        pytest.fail(f"{F2B_SYSCONF} missing", pytrace=False)
    d = tmp_path / "fail2ban"
    shutil.copytree(F2B_SYSCONF, d, symlinks=True)
    shutil.copy(F2B_FILTER, d / "filter.d" / "ollaguard.conf")
    shutil.copy(F2B_JAIL, d / "jail.d" / "ollaguard.conf")
    # Only our jail: a distribution's defaults-debian.conf turns on sshd.
    for name in os.listdir(d / "jail.d"):
        if name != "ollaguard.conf":
            os.unlink(d / "jail.d" / name)

    res = run([client, "-c", str(d), "-d"], env=clean_env())
    assert res.returncode == 0, out(res)
    assert "'ollaguard'" not in res.stdout, "the jail must ship disabled"

    (d / "jail.d" / "ollaguard.local").write_text(
        "[ollaguard]\nenabled = true\n")
    res = run([client, "-c", str(d), "-d"], env=clean_env())
    assert res.returncode == 0, out(res)
    dump = res.stdout
    assert "['add', 'ollaguard', 'systemd']" in dump, dump
    assert ("['set', 'ollaguard', 'addjournalmatch', "
            "'_SYSTEMD_UNIT=ollaguardd.service']") in dump, dump
    assert "auth failed: client=<ADDR>" in dump
    assert "'port', '4000'" in dump
    assert "['start', 'ollaguard']" in dump


@pytest.mark.parametrize("fmt", ["combined", "json", "off"])
def test_fail2ban_filter_matches_what_the_daemon_logs(tmp_path, fmt):
    """The real daemon: a wrong key and a missing key make one match each
    for 127.0.0.1; a request with the right key makes none, even when its
    path and headers quote a failure line.  Standard output and standard
    error (the messages and the access log) go to one file, as both go
    to the journal under systemd, so each refusal is one line there: its
    access line, or with the access log off, the "auth failed" line."""
    d = f2b_confdir(tmp_path)
    require_daemon()
    port = free_port()
    logpath = tmp_path / "daemon.log"
    argv = [DAEMON, "--host", "127.0.0.1", "--port", str(port),
            "--db", str(tmp_path / "ollaguard.db"),
            "--master-key", MASTER_KEY, "--user", "root",
            "--workers", "1", "--log-level", "info",
            *(["--access-log", "off"] if fmt == "off" else
              ["--access-log-format", fmt])]
    with StubOllama() as stub, open(logpath, "wb") as logf:
        argv += ["--target-url", stub.url]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT, env=clean_env(),
                                start_new_session=True)
        try:
            def up():
                if proc.poll() is not None:
                    pytest.fail(f"ollaguardd exited with {proc.returncode}:"
                                f"\n{logpath.read_text()}", pytrace=False)
                with socket.create_connection(("127.0.0.1", port), 1):
                    return True
            wait_for("ollaguardd to listen", up)
            assert http_get(port, key="wrong-" + MASTER_KEY)[0] == 401
            assert http_get(port)[0] == 401
            # A client quoting a failure line frames nobody.
            forged = {"User-Agent": "auth failed: client=203.0.113.5 "
                                    "reason=invalid-key",
                      "Referer": "http://x/ auth failed: client="
                                 "203.0.113.6 reason=missing-key"}
            assert http_get(port, "/api/tags/auth failed: client="
                            "203.0.113.7 reason=invalid-key".replace(" ", "%20"),
                            key=MASTER_KEY, headers=forged) == \
                (200, UPSTREAM_BODY)
        finally:
            stop_foreground(proc)
    text = logpath.read_text()
    assert MASTER_KEY not in text
    assert f2b_matches_file(d, logpath) == ["127.0.0.1", "127.0.0.1"], text
    refused = [l for l in text.splitlines() if " 401 " in l or
               '"status":401' in l or "] warn: worker: auth failed" in l]
    assert len(refused) == 2, text


def stop_foreground(proc):
    """SIGTERM, then SIGKILL to the whole process group after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


# ---------------------------------------------------------------------------
# The init script, its defaults file and logrotate


class InitScript:
    """etc/init.d/ollaguardd driven through a defaults file of its own,
    with every path in tmp_path and the daemon running as root."""

    def __init__(self, tmp_path, upstream_url, extra_args=()):
        self.tmp = tmp_path
        self.port = free_port()
        self.pidfile = tmp_path / "ollaguardd.pid"
        self.keyfile = tmp_path / "master.key"
        self.keyfile.write_text(MASTER_KEY + "\n")
        os.chmod(self.keyfile, 0o600)
        args = ["--host", "127.0.0.1", "--port", str(self.port),
                "--db", str(tmp_path / "ollaguard.db"),
                "--target-url", upstream_url,
                "--master-key-file", str(self.keyfile),
                "--workers", "2", "--log-level", "info"] + list(extra_args)
        self.defaults = tmp_path / "ollaguardd.defaults"
        self.defaults.write_text(
            "# written by test_etc.py\n"
            f"DAEMON={DAEMON}\n"
            f"PIDFILE={self.pidfile}\n"
            "OLLAGUARD_USER=root\n"
            f'DAEMON_ARGS="{" ".join(args)}"\n'
            "STATEDIR=\n"
            "LOGDIR=\n"
            "START_TIMEOUT=10\n"
            "STOP_TIMEOUT=15\n")
        self.sessions = set()  # the sessions of the masters seen

    def run(self, action):
        """Runs the script in a process group of its own: a daemon that
        failed to detach is still in it when the script hangs, and is
        killed with it."""
        proc = subprocess.Popen(
            ["sh", INITD, action], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(OLLAGUARD_DEFAULTS=str(self.defaults),
                          SYSTEMCTL_SKIP_REDIRECT="1"),
            start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=10)
            pytest.fail(f"`{INITD} {action}` still running after "
                        f"{SCRIPT_TIMEOUT} s (did the daemon detach?)\n"
                        f"--- stdout\n{stdout}\n--- stderr\n{stderr}",
                        pytrace=False)
        return subprocess.CompletedProcess(proc.args, proc.returncode,
                                           stdout, stderr)

    def master_pid(self):
        pid = int(self.pidfile.read_text().split()[0])
        st = proc_stat(pid)
        if st is not None:
            self.sessions.add(st[2])
        return pid

    def leftovers(self):
        """Live processes of this test's daemons: the sessions of the
        masters seen, and any process whose command line or environment
        names this test's defaults file (the script exports
        OLLAGUARD_DEFAULTS; the daemon rewrites its command line)."""
        found = {p for sid in self.sessions for p in session_members(sid)}
        mark = str(self.defaults).encode()
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            for what in ("cmdline", "environ"):
                try:
                    with open(f"/proc/{name}/{what}", "rb") as f:
                        if mark in f.read() and alive(int(name)):
                            found.add(int(name))
                except OSError:
                    pass
        return sorted(found)

    def cleanup(self):
        """Stops whatever the test left running: the script first, then
        SIGKILL to every session the test saw."""
        if self.pidfile.exists():
            try:
                self.master_pid()
            except ValueError:
                pass
            self.run("stop")
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def initscript(tmp_path):
    require_root()
    require_daemon()
    require_tool("start-stop-daemon")
    with StubOllama() as stub:
        s = InitScript(tmp_path, stub.url)
        s.stub = stub
        try:
            yield s
        finally:
            s.cleanup()


def test_init_script_start_status_reload_stop(initscript):
    s = initscript
    port = s.port

    res = s.run("status")
    assert res.returncode == 3, out(res)  # LSB: not running

    res = s.run("start")
    assert res.returncode == 0, out(res)
    assert s.pidfile.exists(), "start returned before the pid file existed"
    pid = s.master_pid()
    assert alive(pid) and comm(pid) == "ollaguardd"
    # Detached: out of our session, standard streams on /dev/null.
    assert proc_stat(pid)[2] != os.getsid(0)
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    res = s.run("status")
    assert res.returncode == 0, out(res)

    assert http_get(port, key=MASTER_KEY) == (200, UPSTREAM_BODY)
    assert http_get(port, key="wrong")[0] == 401
    assert len(s.stub.server.requests) == 1

    # Starting again starts nothing: the one daemon keeps running.
    res = s.run("start")
    assert res.returncode == 0, out(res)
    assert s.master_pid() == pid and alive(pid)

    # reload: SIGHUP.  The same master goes on serving, and it has read
    # the master key file again.
    s.keyfile.write_text(MASTER_KEY_2 + "\n")
    res = s.run("reload")
    assert res.returncode == 0, out(res)
    # Idle workers of the old generation may take a last connection in
    # the few milliseconds before they see the reload: wait until only
    # the new key passes.  (A refused key gets 401, or 429 once the
    # daemon's auth-fail-limit is reached.)
    wait_for("the new master key, and only it, to pass after reload",
             lambda: http_get(port, key=MASTER_KEY_2)[0] == 200 and
             http_get(port, key=MASTER_KEY)[0] in (401, 429) and
             http_get(port, key=MASTER_KEY)[0] in (401, 429))
    assert s.master_pid() == pid and alive(pid)
    res = s.run("force-reload")
    assert res.returncode == 0, out(res)
    assert s.master_pid() == pid
    wait_for("service after force-reload",
             lambda: http_get(port, key=MASTER_KEY_2)[0] == 200)

    res = s.run("stop")
    assert res.returncode == 0, out(res)
    assert not s.pidfile.exists(), "stop left the pid file"
    assert not alive(pid)
    assert s.leftovers() == [], "processes left after stop"
    with pytest.raises(OSError):
        http_get(port, key=MASTER_KEY_2, timeout=2)
    res = s.run("status")
    assert res.returncode == 3, out(res)

    # Stopping a stopped service succeeds; reloading it does not.
    res = s.run("stop")
    assert res.returncode == 0, out(res)
    res = s.run("reload")
    assert res.returncode == 7, out(res)


def test_init_script_restart_gets_a_new_master(initscript):
    s = initscript
    res = s.run("start")
    assert res.returncode == 0, out(res)
    old = s.master_pid()
    res = s.run("restart")
    assert res.returncode == 0, out(res)
    new = s.master_pid()
    assert new != old and alive(new) and not alive(old)
    assert http_get(s.port, key=MASTER_KEY) == (200, UPSTREAM_BODY)
    res = s.run("try-restart")
    assert res.returncode == 0, out(res)
    assert s.master_pid() not in (old, new)
    res = s.run("stop")
    assert res.returncode == 0, out(res)
    assert s.leftovers() == []


def test_init_script_reports_a_daemon_that_cannot_start(initscript):
    """A port already taken: start fails, and leaves nothing behind."""
    s = initscript
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", s.port))
        busy.listen(1)
        res = s.run("start")
        assert res.returncode == 1, out(res)
    res = s.run("status")
    assert res.returncode == 3, out(res)
    assert not s.pidfile.exists()
    assert s.leftovers() == []


def test_init_script_rejects_unknown_action(initscript):
    res = initscript.run("frobnicate")
    assert res.returncode == 3 and "Usage:" in res.stderr, out(res)


def test_logrotate_rotates_and_the_daemon_reopens(tmp_path):
    """The shipped logrotate rules, pointed at a temporary directory and
    pid file, rotate a live access log; SIGUSR1 from postrotate makes
    the daemon write the next request to the new file."""
    require_root()
    require_daemon()
    lr = require_tool("logrotate")
    logdir = tmp_path / "log"
    logdir.mkdir()
    access = logdir / "access.log"
    with StubOllama() as stub:
        s = InitScript(tmp_path, stub.url,
                       ["--access-log", str(access),
                        "--access-log-format", "combined"])
        try:
            res = s.run("start")
            assert res.returncode == 0, out(res)
            s.master_pid()
            assert http_get(s.port, "/api/first-request",
                            key=MASTER_KEY)[0] == 200
            wait_for("the first access log line",
                     lambda: "/api/first-request" in access.read_text())

            with open(LOGROTATE) as f:
                conf = f.read()
            assert "/var/log/ollaguard/*.log" in conf
            assert "/run/ollaguard/ollaguardd.pid" in conf
            conf = (conf.replace("/var/log/ollaguard", str(logdir))
                    .replace("/run/ollaguard/ollaguardd.pid", str(s.pidfile))
                    .replace("create 0640 ollaguard adm",
                             "create 0640 root adm")
                    # not the host's systemd service, if there is one
                    .replace("/run/systemd/system",
                             str(tmp_path / "no-systemd")))
            (tmp_path / "logrotate.conf").write_text(conf)
            res = run([lr, "--force", "--verbose",
                       "--state", str(tmp_path / "logrotate.state"),
                       str(tmp_path / "logrotate.conf")], env=clean_env())
            assert res.returncode == 0, out(res)
            rotated = logdir / "access.log.1"  # delaycompress: not yet .gz
            assert "/api/first-request" in rotated.read_text()
            assert stat.S_IMODE(os.stat(access).st_mode) == 0o640

            def second_line():
                http_get(s.port, "/api/second-request", key=MASTER_KEY)
                return "/api/second-request" in access.read_text()
            wait_for("the daemon to write to the new access log",
                     second_line, step=0.5)
            assert "/api/second-request" not in rotated.read_text()
            res = s.run("stop")
            assert res.returncode == 0, out(res)
        finally:
            s.cleanup()


# ---------------------------------------------------------------------------
# Static checks of the shell files


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_init_script_syntax(shell):
    exe = require_tool(shell)
    res = run([exe, "-n", INITD])
    assert res.returncode == 0, out(res)


def test_init_script_has_no_bashisms():
    exe = shutil.which("checkbashisms")
    if exe is None:
        pytest.skip("checkbashisms not found: apt-get install devscripts")
    res = run([exe, "--force", "--posix", "--extra", INITD])
    assert res.returncode == 0, out(res)


def test_init_script_lsb_header():
    with open(INITD) as f:
        text = f.read()
    assert text.startswith("#!/bin/sh\n")
    assert os.stat(INITD).st_mode & 0o111, "the init script is not executable"
    head = re.search(r"^### BEGIN INIT INFO\n(.*?)^### END INIT INFO$",
                     text, re.M | re.S)
    assert head, "no LSB header"
    fields = dict(re.findall(r"^# ([A-Z][\w-]+):\s*(.*)$", head.group(1),
                             re.M))
    assert fields["Provides"] == "ollaguardd"
    assert fields["Default-Start"].split() == ["2", "3", "4", "5"]
    assert fields["Default-Stop"].split() == ["0", "1", "6"]
    for name in ("Required-Start", "Required-Stop", "Short-Description"):
        assert fields.get(name), name


def test_defaults_file_suits_both_readers(tmp_path):
    """Uncommented, every example is a plain NAME=value line that systemd's
    EnvironmentFile= and /bin/sh read alike."""
    with open(DEFAULTS) as f:
        lines = f.read().splitlines()
    assigns = [line.lstrip("#") for line in lines
               if re.match(r"^#?[A-Z][A-Z0-9_]*=", line)]
    assert assigns
    plain = re.compile(r'^[A-Z][A-Z0-9_]*=("[^"$`\\]*"|[^\s"\'$`\\;&|]*)$')
    for a in assigns:
        assert plain.match(a), f"not plain NAME=value: {a}"
    names = {a.split("=", 1)[0] for a in assigns}
    for name in ("MASTER_KEY_FILE", "MASTER_KEY", "DAEMON", "PIDFILE",
                 "DAEMON_ARGS", "OLLAGUARD_USER", "OLLAGUARD_ACCESS_LOG"):
        assert name in names, name
    # The shell reads them as written.
    f = tmp_path / "defaults"
    f.write_text("\n".join(assigns) + "\n")
    res = run(["sh", "-c", 'set -a; . "$1"; set +a; env', "sh", str(f)],
              env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, out(res)
    env = dict(line.split("=", 1) for line in res.stdout.splitlines()
               if "=" in line)
    assert env["DAEMON"] == INSTALLED_DAEMON
    assert env["PIDFILE"] == "/run/ollaguard/ollaguardd.pid"
    assert env["OLLAGUARD_USER"] == "ollaguard"
    assert env["MASTER_KEY_FILE"] == "/etc/ollaguard/master.key"
    assert env["DAEMON_ARGS"].split()[:4] == [
        "--config", "/etc/ollaguard/ollaguard.conf",
        "--db", "/var/lib/ollaguard/ollaguard.db"]
    # ... and the init script's built-in defaults agree with the file.
    with open(INITD) as f:
        script = f.read()
    for name in ("DAEMON", "PIDFILE", "DAEMON_ARGS", "STATEDIR", "LOGDIR",
                 "START_TIMEOUT", "STOP_TIMEOUT"):
        m = re.search(rf"^{name}=(.*)$", script, re.M)
        assert m, name
        assert m.group(1).strip('"') == env[name], name


def test_logrotate_config_parses(tmp_path):
    lr = require_tool("logrotate")
    with open(LOGROTATE) as f:
        conf = f.read()
    for word in ("daily", "rotate 14", "compress", "delaycompress",
                 "missingok", "notifempty", "create 0640 ollaguard adm",
                 "sharedscripts", "postrotate", "endscript"):
        assert re.search(rf"^\s*{word}\s*$", conf, re.M), word
    # Without the ollaguard user, "create" cannot be checked as written.
    conf = conf.replace("/var/log/ollaguard", str(tmp_path)) \
        .replace("ollaguard adm", "root root")
    (tmp_path / "access.log").write_text("x\n")
    (tmp_path / "logrotate.conf").write_text(conf)
    res = run([lr, "--debug", "--state", str(tmp_path / "state"),
               str(tmp_path / "logrotate.conf")], env=clean_env())
    assert res.returncode == 0, out(res)
    assert "error" not in res.stderr.lower(), out(res)
