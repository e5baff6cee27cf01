"""
Several upstreams, watched: the poller asks each box for /api/version,
/api/tags and /api/ps every health-interval, logs a box that comes up
(with its model counts) or goes down, and brings a box back once it
answers again.  One upstream has no poller at all.
"""

import json
import re
import signal
import time

from conftest import MASTER_KEY, free_port, log_line, wait_until
from stub_upstream import PS_EMPTY_BODY, TAGS_BODY, StubUpstream


def tags(*names):
    return json.dumps({"models": [{"name": n} for n in names]}).encode()


def start_stub(request):
    s = StubUpstream().start()
    request.addfinalizer(s.stop)
    return s


def test_poller_sees_each_box(daemon_factory, stub, request):
    b = start_stub(request)
    c = start_stub(request)
    stub.tags_body = tags("llama3:8b", "phi3:mini")
    stub.ps_body = tags("llama3:8b")
    b.tags_body = tags("qwen:7b")
    b.ps_body = c.ps_body = PS_EMPTY_BODY
    d = daemon_factory(target_url=f"{stub.url} name=a", extra_args=[
        "--target-url", f"{b.url} name=b weight=2",
        "--target-url", f"{c.url} name=c", "--health-interval", "1"])
    assert log_line(d, r"upstream a up: 2 models, 1 loaded"), \
        d.stderr_text()
    assert log_line(d, r"upstream b up: 1 model, 0 loaded")
    assert log_line(d, r"upstream c up: 1 model, 0 loaded")
    paths = {r.target for r in b.requests}
    assert {"/api/version", "/api/tags", "/api/ps"} <= paths, paths
    # /api/tags answers every box's models, each once.
    r = d.get("/api/tags", key=MASTER_KEY)
    assert r.status == 200, r.body
    names = [m["name"] for m in json.loads(r.body)["models"]]
    assert names == ["llama3:8b", "phi3:mini", "qwen:7b"], names


def test_box_down_and_back(daemon_factory, stub, request):
    b = start_stub(request)
    d = daemon_factory(target_url=f"{stub.url} name=a", extra_args=[
        "--target-url", f"{b.url} name=b", "--health-interval", "1"])
    assert log_line(d, r"upstream b up")
    port = b.port
    b.stop()
    assert log_line(d, r"upstream b down: /api/version: ", timeout=5), \
        d.stderr_text()
    # The same port, so the same target-url, answers again.
    again = StubUpstream().start(port)
    request.addfinalizer(again.stop)
    assert wait_until(lambda: len(re.findall(r"upstream b up",
                                             d.stderr_text())) == 2, 5), \
        d.stderr_text()
    assert log_line(d, r"upstream a up")
    assert not log_line(d, r"upstream a down", timeout=0)


def test_one_upstream_has_no_poller(daemon_factory, stub):
    d = daemon_factory(extra_args=["--health-interval", "1"])
    r = d.get("/api/tags", key=MASTER_KEY)
    assert r.status == 200 and r.body == TAGS_BODY
    assert not [x for x in stub.requests if x.target == "/api/version"]


def test_reload_adds_and_removes_a_box(daemon_factory, stub, request,
                                       tmp_path):
    b = start_stub(request)
    c = start_stub(request)
    conf = tmp_path / "multi.conf"
    conf.write_text(f"target-url = {stub.url} name=a\n"
                    f"target-url = {b.url} name=b\nhealth-interval = 1\n")
    port = free_port()
    # No --target-url flag: it would replace the file's list.
    d = daemon_factory.spawn([
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
        "--db", str(tmp_path / "k.db"), "--master-key", MASTER_KEY,
        "--config", str(conf)], port=port, master_key=MASTER_KEY)
    assert log_line(d, r"upstream b up")
    conf.write_text(f"target-url = {stub.url} name=a\n"
                    f"target-url = {c.url} name=c\nhealth-interval = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    assert log_line(d, r"upstream c up", timeout=5), d.stderr_text()
    n = len(b.requests)
    time.sleep(1.5)
    assert len(b.requests) == n, "the removed box is still polled"
    r = d.get("/api/tags", key=MASTER_KEY)
    assert r.status == 200
