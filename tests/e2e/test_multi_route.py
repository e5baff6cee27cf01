"""
Several upstreams, routed: each request goes to the box that has its
model loaded, else on disk, else the least busy for its weight; a box at
max-conns is skipped and a request waits for room; model lists are
merged; a box that fails before the client has seen anything is
replaced by the next; a manage key may pick the box.
"""

import json
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import MASTER_KEY, bearer, free_port, keyctl, log_line, \
    wait_until
from stub_upstream import StubUpstream

JSON_CT = [("Content-Type", "application/json")]


def models(*names):
    return json.dumps({"models": [{"name": n, "model": n}
                                  for n in names]}).encode()


def chat_handler(s):
    """POST /api/chat names the box; "stream": true sends one line, waits
    for the gate the body names, then ends; chat_status != 200 answers
    that status instead."""
    def handle(ex):
        body = json.loads(ex.req.body or b"{}")
        if s.chat_status != 200:
            ex.respond_json(s.chat_status, {"error": f"{s.name} busy"})
            return
        if not body.get("stream"):
            ex.respond_json(200, {"box": s.name, "model": body.get("model")})
            return
        ex.send_head(200, [("Content-Type", "application/x-ndjson"),
                           ("Transfer-Encoding", "chunked")])
        ex.send_chunk(json.dumps({"box": s.name}).encode() + b"\n")
        ex.wait_gate(body.get("gate", "chat"))
        ex.send_chunk(b'{"done":true}\n')
        ex.end_chunks()
    return handle


def box(request, name, tags=(), ps=(), port=0):
    s = StubUpstream().start(port)
    request.addfinalizer(s.stop)
    s.name = name
    s.chat_status = 200
    s.tags_body = models(*tags)
    s.ps_body = models(*ps)
    s.handlers["/api/chat"] = chat_handler(s)
    return s


def start(daemon_factory, boxes, opts=None, extra=(), workers=4):
    opts = opts or {}

    def value(b):
        return f"{b.url} name={b.name} {opts.get(b.name, '')}".strip()
    args = []
    for b in boxes[1:]:
        args += ["--target-url", value(b)]
    d = daemon_factory(target_url=value(boxes[0]), workers=workers,
                       extra_args=args + ["--health-interval", "1",
                                          *extra])
    for b in boxes:
        assert log_line(d, rf"upstream {b.name} up", timeout=5), \
            d.stderr_text()
    return d


def chat(d, model, key=MASTER_KEY, headers=(), stream=False):
    return d.request("POST", "/api/chat", key=key,
                     headers=JSON_CT + list(headers),
                     body=json.dumps({"model": model,
                                      "stream": stream}).encode())


def open_stream(d, model, gate, headers=()):
    """A streaming chat held open by gate: (conn, resp, box name)."""
    c = d.connect()
    c.send_request("POST", "/api/chat", bearer(MASTER_KEY) + JSON_CT +
                   list(headers), json.dumps({"model": model, "stream": True,
                                              "gate": gate}).encode())
    resp = c.read_head("POST")
    assert resp.status == 200
    assert c.read_body_until(resp, b"\n", 5)
    return c, resp, json.loads(resp.bodybuf.split(b"\n")[0])["box"]


def add_key(d, name, allow, models_=""):
    return keyctl(d.db, "add", "--name", name, "--allow", allow,
                  "--models", models_).stdout.strip()


def test_loaded_first_then_present_then_any(daemon_factory, request):
    a = box(request, "a", tags=["m1:7b", "m2:7b"])
    b = box(request, "b", tags=["m1:7b"], ps=["m1:7b"])
    c = box(request, "c", tags=["m3"])
    d = start(daemon_factory, [a, b, c])
    for _ in range(3):
        assert chat(d, "m1:7b").json()["box"] == "b"     # loaded
        assert chat(d, "M2:7b").json()["box"] == "a"     # on disk
        assert chat(d, "m3:latest").json()["box"] == "c"
    # A model no box has goes to a healthy box, for Ollama to answer.
    r = chat(d, "nowhere:1b")
    assert r.status == 200 and r.json()["box"] in "abc"


def test_least_busy_for_its_weight(daemon_factory, request):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    d = start(daemon_factory, [a, b], opts={"a": "weight=2"})
    held = [open_stream(d, "m", f"g{i}") for i in range(3)]
    # a (weight 2) takes two streams to b's one.
    assert [h[2] for h in held] == ["a", "a", "b"]
    # Then 3/2 for a against 2/1 for b: a.
    assert chat(d, "m").json()["box"] == "a"
    for i in range(3):
        a.release(f"g{i}")
        b.release(f"g{i}")
    for c, resp, _ in held:
        c.read_body(resp)
        assert resp.complete


def test_max_conns_queues_then_503(daemon_factory, request):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    d = start(daemon_factory, [a, b], opts={"a": "max-conns=1",
                                            "b": "max-conns=1"},
              extra=["--queue-timeout", "1"])
    held = [open_stream(d, "m", f"q{i}") for i in range(2)]
    assert sorted(h[2] for h in held) == ["a", "b"]
    t0 = time.monotonic()
    r = chat(d, "m")
    assert r.status == 503 and r.header("Retry-After"), r
    assert time.monotonic() - t0 >= 0.9
    # A request that waits gets the first place that frees up.
    out = []
    t = threading.Thread(target=lambda: out.append(chat(d, "m")))
    t.start()
    time.sleep(0.3)
    assert not out
    freed = held[0][2]
    (a if freed == "a" else b).release("q0")
    t.join(5)
    assert out and out[0].status == 200 and out[0].json()["box"] == freed
    (a if freed != "a" else b).release("q1")


def test_merged_and_filtered_lists(daemon_factory, request):
    a = box(request, "a", tags=["llama3:latest", "qwen2:7b"],
            ps=["llama3:latest"])
    b = box(request, "b", tags=["qwen2:7b", "mistral:latest"],
            ps=["mistral:latest"])
    d = start(daemon_factory, [a, b])

    def names(r, field="models", key="name"):
        assert r.status == 200, r
        return [m[key] for m in r.json()[field]]
    assert names(d.get("/api/tags")) == ["llama3:latest", "qwen2:7b",
                                         "mistral:latest"]
    assert names(d.get("/api/ps")) == ["llama3:latest", "mistral:latest"]
    assert names(d.get("/v1/models"), "data", "id") == [
        "llama3:latest", "qwen2:7b", "mistral:latest"]
    k = add_key(d, "team", "infer,read", "llama3,mistral")
    assert names(d.get("/api/tags", key=k)) == ["llama3:latest",
                                                "mistral:latest"]
    assert names(d.get("/api/ps", key=k)) == ["llama3:latest",
                                              "mistral:latest"]
    assert names(d.get("/v1/models", key=k), "data", "id") == [
        "llama3:latest", "mistral:latest"]
    # A model-list key is routed by the model its body names too.
    r = chat(d, "mistral", key=k)
    assert r.status == 200 and r.json()["box"] == "b"
    assert chat(d, "qwen2:7b", key=k).status == 403


def test_box_down_at_start(daemon_factory, request):
    b = box(request, "b", tags=["m"])
    dead = f"http://127.0.0.1:{free_port()} name=a"
    d = daemon_factory(target_url=dead, extra_args=[
        "--target-url", f"{b.url} name=b", "--health-interval", "1"])
    assert log_line(d, r"upstream a down", timeout=5)
    for _ in range(10):
        r = chat(d, "m")
        assert r.status == 200 and r.json()["box"] == "b"
    assert d.get("/api/tags").status == 200


def test_box_dies_between_polls(daemon_factory, request, tmp_path):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    log = tmp_path / "access.log"
    d = start(daemon_factory, [a, b], extra=["--access-log", str(log),
                                            "--health-interval", "30"])
    # No poll comes before the requests: the first one finds a gone.
    a.kill()
    for _ in range(10):
        r = chat(d, "m")
        assert r.status == 200 and r.json()["box"] == "b"
    assert wait_until(lambda: log.read_text().count("upstream=b") == 10, 3)
    text = log.read_text()
    assert "upstream=b retries=1" in text, text
    assert log_line(d, r"upstream a: POST /api/chat: ")


def test_502_503_fail_over_then_the_last_answer(daemon_factory, request):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    d = start(daemon_factory, [a, b])
    a.chat_status = 503
    r = chat(d, "m")
    assert r.status == 200 and r.json()["box"] == "b"
    assert r.header("X-Ollaguard-Upstream") == "b"
    b.chat_status = 502
    r = chat(d, "m")
    assert r.status == 502 and r.json()["error"] == "b busy", r.body
    a.chat_status = b.chat_status = 200


def test_kill_a_box_under_load(daemon_factory, request):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    c = box(request, "c", tags=["m"])
    d = start(daemon_factory, [a, b, c], workers=8)
    pin = [("X-Ollaguard-Upstream", "b")]
    streams = [open_stream(d, "m", f"k{i}", pin) for i in range(2)]
    assert all(s[2] == "b" for s in streams)
    done = []

    def one(i):
        kind = i % 4
        if kind == 0:
            r = chat(d, "m")
        elif kind == 1:
            r = d.get("/api/tags")
        elif kind == 2:
            r = d.get("/api/version")
        else:
            r = d.request("POST", "/api/generate", headers=JSON_CT,
                          body=b'{"model":"m","prompt":"hi"}')
        done.append(i)
        return r.status
    with ThreadPoolExecutor(16) as ex:
        futs = [ex.submit(one, i) for i in range(200)]
        assert wait_until(lambda: len(done) >= 50, 20)
        b.kill()
        statuses = [f.result() for f in futs]
    assert statuses.count(200) == 200, \
        [x for x in d.stderr_text().splitlines() if " 200 " not in x]
    # The streams running on b end cut, never as a success.
    for conn, resp, _ in streams:
        conn.read_body(resp, deadline=10)
        assert resp.closed and not resp.complete
    assert log_line(d, r"upstream b down", timeout=5)
    # b comes back on its port, with the model loaded: it is first again.
    port = b.port
    again = box(request, "b", tags=["m"], ps=["m"], port=port)
    assert wait_until(lambda: len(re.findall(r"upstream b up",
                                             d.stderr_text())) >= 2, 5)
    assert wait_until(lambda: chat(d, "m").json()["box"] == "b", 5)
    assert again.requests_to("/api/chat")


def test_reload_adds_and_removes_a_box_under_load(daemon_factory, request,
                                                  tmp_path):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    c = box(request, "c", tags=["m"], ps=["m"])
    conf = tmp_path / "multi.conf"
    conf.write_text(f"target-url = {a.url} name=a\n"
                    f"target-url = {b.url} name=b\nhealth-interval = 1\n")
    port = free_port()
    d = daemon_factory.spawn([
        "--host", "127.0.0.1", "--port", str(port), "--workers", "4",
        "--db", str(tmp_path / "k.db"), "--master-key", MASTER_KEY,
        "--config", str(conf)], port=port, master_key=MASTER_KEY)
    assert log_line(d, r"upstream b up")
    stop = threading.Event()
    statuses = []

    def load():
        while not stop.is_set():
            statuses.append(chat(d, "m").status)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    conf.write_text(f"target-url = {a.url} name=a\n"
                    f"target-url = {c.url} name=c\nhealth-interval = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    assert log_line(d, r"upstream c up", timeout=5), d.stderr_text()
    # c has the model loaded: the new workers send it everything.
    assert wait_until(lambda: len(c.requests_to("/api/chat")) > 20, 10)
    n = len(b.requests_to("/api/chat"))
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    assert len(b.requests_to("/api/chat")) == n, "b still gets requests"
    assert statuses and set(statuses) == {200}, \
        [s for s in statuses if s != 200]


def test_management_header(daemon_factory, request):
    a = box(request, "a", tags=["m"])
    b = box(request, "b", tags=["m"])
    d = start(daemon_factory, [a, b])
    pull = b'{"model":"m","stream":false}'
    # No header: the first healthy box in configuration order.
    r = d.request("POST", "/api/pull", headers=JSON_CT, body=pull)
    assert r.status == 200 and r.header("X-Ollaguard-Upstream") == "a"
    assert len(a.requests_to("/api/pull")) == 1
    pin = [("X-Ollaguard-Upstream", "b")]
    r = d.request("POST", "/api/pull", headers=JSON_CT + pin, body=pull)
    assert r.status == 200 and r.header("X-Ollaguard-Upstream") == "b"
    got = b.requests_to("/api/pull")
    assert len(got) == 1 and got[0].header("X-Ollaguard-Upstream") is None
    # A manage key may pick the box; its responses do not name it.
    mk = add_key(d, "ops", "read,infer,manage")
    r = d.request("POST", "/api/pull", key=mk, headers=JSON_CT + pin,
                  body=pull)
    assert r.status == 200 and not r.has_header("X-Ollaguard-Upstream")
    assert len(b.requests_to("/api/pull")) == 2
    # Another key may not, even on an endpoint it may use.
    k = add_key(d, "user", "read,infer")
    r = chat(d, "m", key=k, headers=pin)
    assert r.status == 403 and "manage" in r.json()["error"]
    r = d.request("POST", "/api/pull", headers=JSON_CT +
                  [("X-Ollaguard-Upstream", "nope")], body=pull)
    assert r.status == 400 and "nope" in r.json()["error"]
    assert len(a.requests_to("/api/pull")) == 1
    assert len(b.requests_to("/api/pull")) == 2
