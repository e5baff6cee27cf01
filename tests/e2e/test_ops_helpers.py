"""
Helpers shared by the test_ops_* files (operations: the worker pool,
signals, running as a daemon, privileges, the access log).  This module
holds no tests.

A daemon's processes are found through /proc: the workers are the
master's children, and each process's title is the first NUL-separated
field of /proc/<pid>/cmdline.
"""

import os
import re
import signal
import socket
import time

import pytest

from conftest import (SANITIZER_MARKS, _group_members, build_request,
                      children, proc_state, wait_until)
from stub_upstream import NDJSON_LINES

# The whole body of a released /stream/ndjson stream.
NDJSON_BODY = b"".join(NDJSON_LINES)


def cmdline(pid):
    """The raw /proc/<pid>/cmdline bytes (b"" if gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def title(pid):
    """The process title: cmdline up to its first NUL."""
    return cmdline(pid).split(b"\0")[0].decode("latin-1")


def status_ids(pid):
    """(uids, gids, groups) from /proc/<pid>/status: real, effective,
    saved and filesystem ids, and the supplementary groups."""
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("Uid", "Gid", "Groups"):
                ids[name] = [int(x) for x in rest.split()]
    return ids.get("Uid"), ids.get("Gid"), ids.get("Groups")


def workers(daemon):
    return children(daemon.proc.pid)


def workers_titled(daemon, prefix):
    return [p for p in workers(daemon) if title(p).startswith(prefix)]


def wait_workers(daemon, n=1, timeout=5):
    """Waits until the master has n workers.  The port answers before
    the master has its signal handlers; once it has forked a worker it
    has them, so a test waits for this before it signals the master."""
    assert wait_until(lambda: len(workers(daemon)) >= n, timeout), \
        f"{len(workers(daemon))} workers {timeout} s after start " \
        f"(expected {n})"


def start_stream(daemon, gate, headers=(), timeout=5.0):
    """Opens a gated /stream/ndjson (GET, upstream waits on gate after
    its first line); returns the connection with the request sent."""
    c = daemon.connect(timeout)
    c.send(build_request("GET", f"/stream/ndjson?gate={gate}",
                         daemon.auth() + list(headers)))
    return c


def read_first_line(conn, timeout):
    """Reads the head and the first NDJSON line of a stream; returns the
    Response, or None if they did not come within timeout."""
    end = time.monotonic() + timeout
    conn.sock.settimeout(timeout)
    try:
        r = conn.read_head("GET")
    except (socket.timeout, OSError):
        return None
    finally:
        conn.sock.settimeout(conn.timeout)
    left = end - time.monotonic()
    if r.status != 200 or not conn.read_body_until(r, NDJSON_LINES[0],
                                                   max(0.05, left)):
        return None
    return r


def finish_stream(conn, resp, deadline=10.0):
    """Reads the rest of a stream; True if it is complete and exactly
    the stub's body."""
    try:
        conn.read_body(resp, deadline=deadline)
    except (socket.timeout, TimeoutError, OSError):
        return False
    return resp.complete and not resp.closed and resp.body == NDJSON_BODY


def wait_exit(daemon, timeout):
    """Waits up to timeout for the daemon's master to exit; returns the
    exit status or None."""
    try:
        return daemon.proc.wait(timeout)
    except Exception:
        return None


def assert_exited_cleanly(daemon, rc):
    """For a daemon a test stopped itself: it exited 0, left no process
    behind, and no sanitizer complained.  Marks it stopped so teardown
    does not count the exit as a crash."""
    daemon.stopped = True
    gone = wait_until(lambda: not _group_members(daemon.proc.pid), 3)
    if not gone:
        for p in _group_members(daemon.proc.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = daemon.stderr_text()
    marks = [m for m in SANITIZER_MARKS if m in text]
    assert not marks, f"sanitizer report in stderr: {marks}"
    assert gone, "workers outlived the master"
    assert rc == 0, f"the daemon exited with {rc}, not 0"


def log_has(daemon, pattern, timeout=3.0):
    """Waits for a regex to match the daemon's stderr; returns the match
    or None."""
    rx = re.compile(pattern)
    return wait_until(lambda: rx.search(daemon.stderr_text()), timeout)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root")
