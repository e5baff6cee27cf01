"""
Signals to the master: SIGHUP reloads the config file (streams in
progress finish on the old workers), SIGTERM stops gracefully within
--shutdown-timeout, SIGQUIT stops at once.
"""

import errno
import re
import signal
import socket
import time

import pytest

from conftest import KEY_RE, MASTER_KEY, free_port
from stub_upstream import TAGS_BODY
from test_ops_helpers import (assert_exited_cleanly, finish_stream, log_has,
                              read_first_line, start_stream, title,
                              wait_exit, wait_until, wait_workers, workers)


def generated_key(d):
    r = d.generate({})
    assert r.status == 200, r
    return r.json()["key"]


def reload_daemon(daemon_factory, stub, tmp_path, body, *more):
    """A daemon whose settings come from a config file (host and port
    too), so that a reload can change them; returns (daemon, config
    file, port)."""
    port = free_port()
    db = str(tmp_path / "reload.db")
    cfg = tmp_path / "ollaguard.conf"
    cfg.write_text(f"host = 127.0.0.1\nport = {port}\n"
                   f"target-url = {stub.url}\ndb = {db}\n" + body)
    d = daemon_factory.spawn(["--config", str(cfg), "--master-key",
                              MASTER_KEY, "--timeout", "30", "--log-level",
                              "debug", *map(str, more)],
                             port=port, master_key=MASTER_KEY, db=db)
    wait_workers(d)
    return d, cfg, port


def rewrite(cfg, old, new):
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new))


def test_sighup_reload_keeps_streams_and_applies_new_prefix(daemon_factory,
                                                            stub, tmp_path):
    d, cfg, _ = reload_daemon(daemon_factory, stub, tmp_path,
                              "prefix = a-\n", "--workers", "22",
                              "--max-spare", "30")
    master = d.proc.pid
    assert re.fullmatch("a-" + KEY_RE, generated_key(d))

    conns = [start_stream(d, "reload") for _ in range(20)]
    try:
        for i, c in enumerate(conns):
            c.resp = read_first_line(c, 5)
            assert c.resp is not None, f"stream {i} got no first line"
        old = set(workers(d))
        rewrite(cfg, "prefix = a-", "prefix = b-")
        d.proc.send_signal(signal.SIGHUP)
        assert log_has(d, r"reloaded: generation 1\b", 3), \
            "no 'reloaded' line after SIGHUP"
        key = generated_key(d)
        assert re.fullmatch("b-" + KEY_RE, key), \
            f"key {key!r} after the reload to prefix b-"
        assert not any(c.eof for c in conns), "a stream was cut by SIGHUP"
    finally:
        stub.release("reload")
    for i, c in enumerate(conns):
        assert finish_stream(c, c.resp), f"stream {i}: {c.resp!r}"
        c.close()
    assert d.alive() and d.proc.pid == master
    assert title(master) == "ollaguardd: master"
    # The old generation exits once it has finished.
    assert wait_until(lambda: not old & set(workers(d)), 5), \
        f"old workers still running: {old & set(workers(d))}"
    assert d.get("/api/tags").body == TAGS_BODY


def test_sighup_with_broken_config_keeps_old_settings(daemon_factory, stub,
                                                      tmp_path):
    d, cfg, _ = reload_daemon(daemon_factory, stub, tmp_path,
                              "prefix = a-\n", "--workers", "2")
    master = d.proc.pid
    text = cfg.read_text()
    lineno = text.count("\n") + 1
    cfg.write_text(text.replace("prefix = a-", "prefix = b-") +
                   "no-such-setting = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    m = log_has(d, r"reload failed[^\n]*", 3)
    assert m, "no message for a reload with a broken config file"
    assert f"{cfg}:{lineno}:" in m.group(0), \
        f"the message does not name file:line ({cfg}:{lineno}): {m.group(0)}"
    time.sleep(1.2)  # give a wrong reload time to take effect
    assert d.alive() and d.proc.pid == master
    assert re.fullmatch("a-" + KEY_RE, generated_key(d)), \
        "the settings changed although the file was broken"
    assert d.get("/api/tags").body == TAGS_BODY

    # Once the file is mended, a reload works again.
    cfg.write_text(text.replace("prefix = a-", "prefix = c-"))
    d.proc.send_signal(signal.SIGHUP)
    assert log_has(d, r"reloaded: generation 1\b", 3)
    assert re.fullmatch("c-" + KEY_RE, generated_key(d))


def test_sighup_refuses_a_new_port(daemon_factory, stub, tmp_path):
    d, cfg, port = reload_daemon(daemon_factory, stub, tmp_path, "",
                                 "--workers", "2")
    master = d.proc.pid
    new_port = free_port()
    rewrite(cfg, f"port = {port}\n", f"port = {new_port}\n")
    d.proc.send_signal(signal.SIGHUP)
    m = log_has(d, r"[^\n]*restart[^\n]*", 3)
    assert m, "no message that a new port needs a restart"
    assert "port" in m.group(0), m.group(0)
    time.sleep(1.2)
    assert d.alive() and d.proc.pid == master
    assert d.get("/api/tags").body == TAGS_BODY, "the old port stopped serving"
    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", new_port)) != 0, \
            "the daemon listens on the new port without a restart"


def stream_conn_of(stub, n=1):
    """The stub's connections that carried /stream/ndjson requests."""
    ids = [r.conn_id for r in stub.requests_to("/stream/ndjson")]
    assert len(ids) == n, ids
    return [stub.connection(i) for i in ids]


def test_sigterm_lets_a_stream_finish_then_exits_0(daemon_factory, stub):
    d = daemon_factory(workers=2, timeout=30)
    c = start_stream(d, "term")
    r = read_first_line(c, 5)
    assert r is not None
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert d.alive(), "the daemon exited with a stream in progress"
    assert not c.eof, "SIGTERM cut the stream in progress"
    stub.release("term")
    assert finish_stream(c, r), f"the stream did not finish: {r!r}"
    rc = wait_exit(d, 4)
    assert rc is not None, "the daemon did not exit after the stream ended"
    assert_exited_cleanly(d, rc)
    assert log_has(d, r"stopping: 1 request in progress", 0)


def test_sigterm_shutdown_timeout_aborts_a_stream(daemon_factory, stub):
    d = daemon_factory(workers=2, timeout=30,
                       extra_args=["--shutdown-timeout", "2"])
    c = start_stream(d, "never")
    r = read_first_line(c, 5)
    assert r is not None
    (up,) = stream_conn_of(stub)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    rc = wait_exit(d, 6)
    took = time.monotonic() - t0
    assert rc is not None, "still running 6 s after SIGTERM with " \
        "--shutdown-timeout 2"
    assert 1.5 <= took <= 5.0, f"exited {took:.2f} s after SIGTERM " \
        "(--shutdown-timeout 2)"
    assert_exited_cleanly(d, rc)
    assert up.closed.wait(2), "the upstream connection was left open"
    assert up.closed_by == "peer", up
    c.read_body(r, deadline=3)
    assert not r.complete, "the unfinished stream looked complete"
    stub.release("never")


def test_sigterm_closes_idle_keepalive_connections(daemon_factory, stub):
    d = daemon_factory(workers=2, keepalive_timeout=60)
    c = d.connect()
    assert c.get("/api/tags", d.auth()).body == TAGS_BODY
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert c.wait_closed(1.5), \
        "an idle keep-alive connection stayed open after SIGTERM"
    rc = wait_exit(d, 3)
    assert rc is not None, "not stopped 3 s after SIGTERM with nothing to do"
    assert time.monotonic() - t0 < 3
    assert_exited_cleanly(d, rc)


def test_sigquit_stops_at_once_with_a_stream(daemon_factory, stub):
    d = daemon_factory(workers=2, timeout=30,
                       extra_args=["--shutdown-timeout", "30"])
    c = start_stream(d, "quit")
    r = read_first_line(c, 5)
    assert r is not None
    (up,) = stream_conn_of(stub)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGQUIT)
    rc = wait_exit(d, 3)
    assert rc is not None, "still running 3 s after SIGQUIT"
    print(f"SIGQUIT: gone after {time.monotonic() - t0:.2f} s")
    assert_exited_cleanly(d, rc)
    assert c.wait_closed(1), "the client connection was left open"
    assert not r.complete
    assert up.closed.wait(2), "the upstream connection was left open"
    stub.release("quit")


def test_sigquit_during_graceful_stop(daemon_factory, stub):
    d = daemon_factory(workers=2, timeout=30,
                       extra_args=["--shutdown-timeout", "30"])
    c = start_stream(d, "quit2")
    r = read_first_line(c, 5)
    assert r is not None
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert d.alive()
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGQUIT)
    rc = wait_exit(d, 3)
    assert rc is not None, "SIGQUIT did not cut a graceful stop short"
    print(f"SIGQUIT after SIGTERM: gone after {time.monotonic() - t0:.2f} s")
    assert_exited_cleanly(d, rc)
    assert c.wait_closed(1)
    stub.release("quit2")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGUSR1],
                         ids=["SIGHUP", "SIGUSR1"])
def test_signal_right_after_start_is_not_fatal(daemon_factory, stub, sig):
    """logrotate or a service manager may signal the daemon as soon as
    it is up; a SIGHUP or SIGUSR1 then must not kill it.  Sent here the
    moment the port accepts a connection."""
    d = daemon_factory(workers=2, wait=False)
    end = time.monotonic() + 5
    while True:
        assert d.proc.poll() is None, d.stderr_text()
        try:
            socket.create_connection(("127.0.0.1", d.port), 0.5).close()
            break
        except OSError:
            assert time.monotonic() < end, "the daemon never listened"
            time.sleep(0.001)
    d.proc.send_signal(sig)
    time.sleep(0.5)
    rc = d.proc.poll()
    if rc is not None:
        d.stopped = True  # reported here, not again by the teardown
        pytest.fail(f"the daemon died of {signal.Signals(sig).name} sent "
                    f"right after its port opened (status {rc})",
                    pytrace=False)
    d.wait_ready()
    assert d.get("/api/tags").body == TAGS_BODY


def test_sighup_with_unusable_target_url_keeps_old_settings(daemon_factory,
                                                            stub, tmp_path):
    """A reload checks the target URL as a start does: one libcurl
    cannot use is refused, and the old one keeps serving."""
    d, cfg, _ = reload_daemon(daemon_factory, stub, tmp_path,
                              "prefix = a-\n", "--workers", "2")
    rewrite(cfg, f"target-url = {stub.url}\n",
            "target-url = http://127.0.0.1:99999\n")
    rewrite(cfg, "prefix = a-", "prefix = b-")
    d.proc.send_signal(signal.SIGHUP)
    m = log_has(d, r"reload failed, keeping the old settings:[^\n]*", 3)
    assert m, "no message for a reload with an unusable target URL"
    assert "target-url" in m.group(0) and "99999" in m.group(0), m.group(0)
    time.sleep(1.2)
    assert re.fullmatch("a-" + KEY_RE, generated_key(d))
    assert d.get("/api/tags").body == TAGS_BODY


def test_sighup_names_only_the_restart_setting_that_changed(daemon_factory,
                                                            stub, tmp_path):
    d, cfg, _ = reload_daemon(daemon_factory, stub, tmp_path,
                              "backlog = 100\n", "--workers", "2")
    rewrite(cfg, "backlog = 100", "backlog = 200")
    d.proc.send_signal(signal.SIGHUP)
    m = log_has(d, r"[^\n]*needs a restart[^\n]*", 3)
    assert m, "no message that backlog needs a restart"
    line = m.group(0)
    assert "backlog" in line, line
    for other in ("user", "group", "pidfile", "daemon", "syslog"):
        assert other not in line.split("needs a restart")[0], line
    assert log_has(d, r"reloaded: generation 1\b", 3)


def refused(port):
    """True if a connection to port is refused (nothing listens)."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_sigterm_stops_listening_at_once_while_a_stream_drains(
        daemon_factory, stub):
    """SIGTERM closes the listening socket before the drain: a new
    connection is refused instead of hanging in the backlog, and a new
    daemon can bind the same port while the old stream is still
    running."""
    d = daemon_factory(workers=3, timeout=30)
    wait_workers(d, 3)
    c = start_stream(d, "drain")
    r = read_first_line(c, 5)
    assert r is not None
    d.proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: refused(d.port), 2), \
        "a new connection was not refused during the graceful stop"
    assert d.alive() and not c.eof, "the stream in progress was cut"

    new = daemon_factory.spawn(["--host", "127.0.0.1", "--port",
                                str(d.port), "--target-url", stub.url,
                                "--db", str(d.db) + ".new", "--master-key",
                                MASTER_KEY, "--workers", "1"],
                               port=d.port, master_key=MASTER_KEY)
    assert new.get("/api/tags").body == TAGS_BODY
    assert d.alive(), "the old daemon left before its stream ended"

    stub.release("drain")
    assert finish_stream(c, r), f"the stream did not finish: {r!r}"
    rc = wait_exit(d, 4)
    assert rc is not None, "the daemon did not exit after the stream ended"
    assert_exited_cleanly(d, rc)
