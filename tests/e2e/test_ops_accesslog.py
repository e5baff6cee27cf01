"""
The access log (--access-log FILE, combined or json), its reopening on
SIGUSR1, and the "auth failed" lines on stderr that fail2ban reads.

Each request here goes on its own connection and reads everything the
daemon sent, so the byte count in the log can be checked against what
arrived.
"""

import json
import os
import re
import signal
import time

from conftest import HttpConn, MASTER_KEY, bearer, free_port
from stub_upstream import TAGS_BODY
from test_ops_helpers import wait_until, wait_workers

WRONG_KEY = "sk-wrong-" + "q" * 40
QUERY_SECRET = "qsecret0123456789"


def lines_of(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def wait_lines(path, n, timeout=3):
    return wait_until(lambda: len(lines_of(path)) >= n and lines_of(path),
                      timeout) or lines_of(path)


def one(d, method, target, key=None, body=None, headers=()):
    """One request on its own connection, closed by the client after the
    response; returns (response, bytes received)."""
    with HttpConn("127.0.0.1", d.port) as c:
        hdrs = (bearer(key) if key else []) + list(headers)
        if body is not None:
            hdrs.append(("Content-Type", "application/json"))
        r = c.request(method, target, hdrs, body)
        return r, len(c.raw)


def run_mix(d, user_key):
    """The requests both format tests make; returns [(what, resp,
    bytes received)] in order."""
    out = []
    r, n = one(d, "GET", f"/api/tags?token={QUERY_SECRET}", MASTER_KEY)
    assert r.status == 200 and r.body == TAGS_BODY
    out.append(("master", r, n))
    r, n = one(d, "POST", f"/echo/user?x={QUERY_SECRET}", user_key,
               body=b'{"prompt":"hi"}')
    assert r.status == 200
    out.append(("user", r, n))
    r, n = one(d, "GET", f"/api/tags?token={QUERY_SECRET}")
    assert r.status == 401
    out.append(("missing", r, n))
    r, n = one(d, "GET", "/api/tags", WRONG_KEY)
    assert r.status == 401
    out.append(("invalid", r, n))
    r, n = one(d, "POST", "/key/generate", WRONG_KEY, body=b"{}")
    assert r.status == 401
    out.append(("generate-denied", r, n))
    r, n = one(d, "POST", "/key/generate", MASTER_KEY, body=b"{}")
    assert r.status == 200
    out.append(("generate", r, n))
    return out


def assert_no_secrets(path, *secrets):
    with open(path, "rb") as f:
        data = f.read()
    for s in (MASTER_KEY, WRONG_KEY, QUERY_SECRET) + secrets:
        assert s.encode() not in data, f"{s!r} is in the access log"
    assert b"?" not in data, "a query string is in the access log"


COMBINED = re.compile(
    r'(?P<client>\S+) - (?P<who>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<method>[A-Z]+) (?P<path>\S+) (?P<proto>HTTP/1\.[01])" '
    r'(?P<status>\d{3}) (?P<bytes>\d+)(?: .*)?')


def test_combined_access_log(daemon_factory, tmp_path):
    log = tmp_path / "access.log"
    d = daemon_factory(workers=2, extra_args=["--access-log", str(log)])
    user_key = d.add_key(name="alice")
    # /echo/... is no Ollama endpoint: the manage class.
    d.keyctl("set", "alice", "--allow", "read,infer,manage")
    mix = run_mix(d, user_key)
    lines = wait_lines(log, len(mix))
    assert len(lines) == len(mix), lines
    expect = {
        "master": ("master", "GET", "/api/tags", 200),
        "user": (r"\d+/alice", "POST", "/echo/user", 200),
        "missing": ("-", "GET", "/api/tags", 401),
        "invalid": ("-", "GET", "/api/tags", 401),
        "generate-denied": ("-", "POST", "/key/generate", 401),
        "generate": ("master", "POST", "/key/generate", 200),
    }
    # Each worker writes its line once its response is sent, so with two
    # workers the lines of back-to-back requests may land in either
    # order: each request is matched to a line of its own.
    parsed = []
    for line in lines:
        m = COMBINED.fullmatch(line)
        assert m, f"not a combined log line: {line!r}"
        assert m["client"] == "127.0.0.1", line
        assert m["proto"] == "HTTP/1.1", line
        parsed.append(m)
    wrong_bytes = []
    for what, resp, received in mix:
        who, method, path, status = expect[what]
        found = [m for m in parsed if re.fullmatch(who, m["who"]) and
                 (m["method"], m["path"], int(m["status"])) ==
                 (method, path, status)]
        assert found, f"{what}: no line for it in {lines}"
        exact = [m for m in found if int(m["bytes"]) == received]
        m = (exact or found)[0]
        parsed.remove(m)
        if int(m["bytes"]) != received:
            wrong_bytes.append(f"{what}: the log says {m['bytes']} bytes, "
                               f"{received} were sent: {m.group(0)}")
    assert_no_secrets(log, user_key, mix[-1][1].json()["key"])
    assert not wrong_bytes, "\n".join(wrong_bytes)


JSON_FIELDS = {"time", "client", "key", "key_id", "key_name", "method",
               "path", "protocol", "status", "bytes_in", "bytes_out",
               "duration_ms", "ttfb_ms", "fail", "model", "prompt_tokens",
               "completion_tokens", "load_ms"}


def json_lines(path, n):
    lines = wait_lines(path, n)
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"not JSON ({e}): {line!r}")
        assert set(obj) == JSON_FIELDS, f"fields {sorted(obj)}: {line}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
                            obj["time"]), obj["time"]
        assert isinstance(obj["duration_ms"], (int, float))
        assert obj["duration_ms"] >= 0
        assert obj["ttfb_ms"] is None or obj["ttfb_ms"] >= 0
        out.append(obj)
    return out


def test_json_access_log(daemon_factory, tmp_path):
    log = tmp_path / "access.json"
    d = daemon_factory(workers=2, extra_args=["--access-log", str(log),
                                              "--access-log-format", "json"])
    user_key = d.add_key(name="alice")
    # /echo/... is no Ollama endpoint: the manage class.
    d.keyctl("set", "alice", "--allow", "read,infer,manage")
    mix = run_mix(d, user_key)
    objs = json_lines(log, len(mix))
    assert len(objs) == len(mix), objs
    # Lines of back-to-back requests served by two workers may land in
    # either order: each request is matched to a line of its own.
    expect = {"master": ("GET", "/api/tags", "master"),
              "user": ("POST", "/echo/user", None),
              "missing": ("GET", "/api/tags", "-"),
              "invalid": ("GET", "/api/tags", "-"),
              "generate-denied": ("POST", "/key/generate", "-"),
              "generate": ("POST", "/key/generate", "master")}
    left = list(objs)
    by = {}
    wrong_bytes = []
    for what, resp, received in mix:
        method, path, key = expect[what]
        found = [o for o in left if (o["method"], o["path"],
                                     o["status"]) == (method, path,
                                                      resp.status) and
                 (key is None or o["key"] == key)]
        assert found, f"{what}: no line for it in {objs}"
        o = ([x for x in found if x["bytes_out"] == received] or found)[0]
        left.remove(o)
        by[what] = o
        assert o["client"] == "127.0.0.1" and o["protocol"] == "HTTP/1.1", o
        if o["bytes_out"] != received:
            wrong_bytes.append(f"{what}: bytes_out {o['bytes_out']}, "
                               f"{received} were sent: {o}")
    assert by["master"]["key"] == "master" and by["master"]["fail"] == "-"
    assert by["master"]["path"] == "/api/tags"
    assert by["master"]["method"] == "GET"
    assert by["master"]["ttfb_ms"] is not None
    u = by["user"]
    assert isinstance(u["key_id"], int) and u["key_name"] == "alice", u
    assert u["key"] == str(u["key_id"]), u
    assert u["path"] == "/echo/user" and u["method"] == "POST", u
    assert u["bytes_in"] == len(b'{"prompt":"hi"}'), u
    for what in ("missing", "invalid", "generate-denied"):
        o = by[what]
        assert o["key"] == "-" and o["key_id"] is None, o
        assert o["status"] == 401 and o["fail"] == "auth", o
    assert by["generate"]["path"] == "/key/generate"
    assert by["generate"]["status"] == 200 and by["generate"]["fail"] == "-"
    assert_no_secrets(log, user_key, mix[-1][1].json()["key"])
    assert not wrong_bytes, "\n".join(wrong_bytes)


def test_json_access_log_upstream_refused(daemon_factory, tmp_path):
    log = tmp_path / "refused.json"
    d = daemon_factory(workers=1,
                       target_url=f"http://127.0.0.1:{free_port()}",
                       extra_args=["--access-log", str(log),
                                   "--access-log-format", "json"])
    r, received = one(d, "GET", f"/api/tags?token={QUERY_SECRET}",
                      MASTER_KEY)
    assert r.status == 502, r
    (o,) = json_lines(log, 1)
    assert o["status"] == 502 and o["fail"] == "upstream-refused", o
    assert o["path"] == "/api/tags" and o["key"] == "master", o
    assert_no_secrets(log)
    assert o["bytes_out"] == received, \
        f"bytes_out {o['bytes_out']}, {received} were sent: {o}"


def test_sigusr1_reopens_the_access_log(daemon_factory, tmp_path):
    log = tmp_path / "access.log"
    d = daemon_factory(workers=3, extra_args=["--access-log", str(log)])
    wait_workers(d, 3)
    for i in range(3):
        assert one(d, "GET", f"/echo/before-{i}", MASTER_KEY)[0].status == 200
    assert len(wait_lines(log, 3)) == 3
    rotated = tmp_path / "access.log.1"
    os.rename(log, rotated)
    d.proc.send_signal(signal.SIGUSR1)
    # Idle workers notice within a second or so.
    assert wait_until(log.exists, 3), "no new log file after SIGUSR1"
    time.sleep(1.5)
    for i in range(6):
        assert one(d, "GET", f"/echo/after-{i}", MASTER_KEY)[0].status == 200
    new = wait_lines(log, 6)
    old = lines_of(rotated)
    assert len(old) == 3 and all("/before-" in x for x in old), old
    assert len(new) == 6 and all("/after-" in x for x in new), \
        f"new file: {new}; renamed file: {old}"
    assert d.alive()


def test_auth_failures_logged_on_stderr(daemon_factory, tmp_path):
    d = daemon_factory(workers=2, extra_args=["--access-log",
                                              str(tmp_path / "a.log")])
    assert one(d, "GET", "/api/tags")[0].status == 401
    assert one(d, "GET", "/api/tags", WRONG_KEY)[0].status == 401
    assert one(d, "POST", "/key/generate", body=b"{}")[0].status == 401
    assert one(d, "POST", "/key/generate", WRONG_KEY,
               body=b"{}")[0].status == 401
    assert one(d, "GET", "/api/tags", MASTER_KEY)[0].status == 200

    def counts():
        text = d.stderr_text()
        return (text.count("auth failed: client=127.0.0.1 "
                           "reason=missing-key"),
                text.count("auth failed: client=127.0.0.1 "
                           "reason=invalid-key"))
    assert wait_until(lambda: counts() == (2, 2), 3), \
        f"(missing, invalid) auth failed lines: {counts()}"
    text = d.stderr_text()
    assert WRONG_KEY not in text and MASTER_KEY not in text
    assert len(re.findall(r"auth failed", text)) == 4, \
        "an auth failure logged for the request with the master key"


def test_sigusr1_reopen_reaches_idle_keepalive_connections(daemon_factory,
                                                           tmp_path):
    """A worker waiting on a keep-alive connection when SIGUSR1 comes
    logs that connection's next request in the new file too."""
    log = tmp_path / "access.log"
    d = daemon_factory(workers=2, keepalive_timeout=30,
                       extra_args=["--access-log", str(log)])
    wait_workers(d, 2)
    c = d.connect()
    assert c.get("/echo/before", d.auth()).status == 200
    assert len(wait_lines(log, 1)) == 1
    rotated = tmp_path / "access.log.1"
    os.rename(log, rotated)
    d.proc.send_signal(signal.SIGUSR1)
    assert wait_until(log.exists, 3), "no new log file after SIGUSR1"
    time.sleep(1.5)
    assert c.get("/echo/after-on-kept-connection", d.auth()).status == 200
    new = wait_lines(log, 1)
    old = lines_of(rotated)
    assert [x for x in new if "/after-" in x], \
        f"the request after SIGUSR1 went to the renamed file: new {new}, " \
        f"renamed {old}"
    assert len(old) == 1, old


# ---------------------------------------------------------------------------
# What a client sends can neither forge a field nor leak a password

PW_SECRET = "PWSECRET0123"
# (raw request target, the path the log must show, in each format)
HOSTILE_TARGETS = [
    (b'/api/x"forged', '/api/x\\x22forged', '/api/x"forged'),
    (b"/api/a\\b", "/api/a\\x5Cb", "/api/a\\b"),
    (f"http://user:{PW_SECRET}@h?x".encode(), "http://h", "http://h"),
    (f"http://user:{PW_SECRET}@h/x".encode(), "/x", "/x"),
]
STRICT_COMBINED = re.compile(
    r'(?P<client>[^\s"]+) - (?P<who>[^\s"]+) \[(?P<time>[^\]"]+)\] '
    r'"(?P<method>[A-Z-]+) (?P<path>[^\s"]+) (?P<proto>HTTP/1\.[01])" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) in=\d+ time=[\d.]+ '
    r'ttfb=(?:[\d.]+|-) fail=[a-z-]+ model=[^\s"]+ prompt=(?:\d+|-) '
    r'completion=(?:\d+|-) load=(?:[\d.]+|-)')


def send_raw_targets(d):
    for target, _, _ in HOSTILE_TARGETS:
        with HttpConn("127.0.0.1", d.port) as c:
            c.send(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n"
                   b"Authorization: Bearer " + MASTER_KEY.encode() +
                   b"\r\nConnection: close\r\n\r\n")
            c.read_until_close()


def test_combined_log_escapes_and_hides_userinfo(daemon_factory, tmp_path):
    """A quote in the path is \\x22 (as nginx writes it), a backslash
    and bytes from 0x7f up are escaped too, so every line parses back
    into exactly its fields; an absolute-form target's user:password
    is never logged, even when the request is refused."""
    log = tmp_path / "access.log"
    d = daemon_factory(workers=1, extra_args=["--access-log", str(log)])
    send_raw_targets(d)
    lines = wait_lines(log, len(HOSTILE_TARGETS))
    assert len(lines) == len(HOSTILE_TARGETS), lines
    for (target, want, _), line in zip(HOSTILE_TARGETS, lines):
        m = STRICT_COMBINED.fullmatch(line)
        assert m, f"a forged or unparsable line for {target!r}: {line!r}"
        assert m["path"] == want, line
    assert_no_secrets(log, PW_SECRET)
    assert PW_SECRET not in d.stderr_text()


def test_json_log_escapes_and_hides_userinfo(daemon_factory, tmp_path):
    log = tmp_path / "access.json"
    d = daemon_factory(workers=1, extra_args=["--access-log", str(log),
                                              "--access-log-format", "json"])
    send_raw_targets(d)
    objs = json_lines(log, len(HOSTILE_TARGETS))
    assert len(objs) == len(HOSTILE_TARGETS), objs
    for (target, _, want), o in zip(HOSTILE_TARGETS, objs):
        assert o["path"] == want, (target, o)
    assert_no_secrets(log, PW_SECRET)
