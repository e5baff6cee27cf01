"""
Usage metering and quotas (issue 12), through the real daemon: the stub
reports known token counts in every form; the usage table, keyctl usage,
the access log and GET /metrics must all agree with them.
"""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import (KEYCTL, HttpConn, bearer, children, daemon_env,
                      keyctl, keyctl_add)
from stub_upstream import (SSE_DONE, SSE_USAGE_CHUNK, SSE_USAGE_EVENTS,
                           USAGE_FORMS)

PATHS = {
    "ndjson": "/api/chat",
    "json": "/api/generate",
    "embed": "/api/embed",
    "oai-json": "/v1/chat/completions",
    "sse": "/v1/chat/completions",
    "sse-none": "/v1/chat/completions",
}


def ask(d, key, form, *, headers=(), body=None, conn=None):
    """One metered request of the given form; the response."""
    if body is None:
        body = {"model": "whatever", "stream": form.startswith("sse")}
        if form == "sse":
            body["stream_options"] = {"include_usage": True}
    data = json.dumps(body).encode()
    hdrs = (bearer(key) if key else []) + [
        ("Content-Type", "application/json")] + list(headers)
    target = PATHS[form] + "?usage=" + form
    if conn is not None:
        return conn.request("POST", target, hdrs, data)
    return d.request("POST", target, key=None, headers=hdrs, body=data)


def counts(form):
    c = USAGE_FORMS[form][1]
    return c if c is not None else (0, 0)


def metrics_text(d, until=None):
    """/metrics; with until, polled (2 s at most) until until(text): a
    response's counts are added just after its last byte went out, so
    the next request, on another worker, may come first."""
    end = time.monotonic() + 2
    while True:
        r = d.get("/metrics")
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("text/plain")
        text = r.body.decode()
        if until is None or until(text) or time.monotonic() > end:
            return text
        time.sleep(0.05)


def promtool_ok(text):
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian prometheus) is not installed")
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def series(text, name):
    """{labels-string: value} of one metric's samples."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1:].rsplit("} ", 1)
            out[labels] = float(value)
    return out


def label(labels, name):
    for part in labels.split('",'):
        k, _, v = part.partition('="')
        if k == name:
            return v.rstrip('"')
    return None


def usage_rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT key_id, model, user, sum(requests), sum(errors),"
            " sum(prompt_tokens), sum(completion_tokens) FROM usage"
            " GROUP BY key_id, model, user").fetchall()
    finally:
        con.close()


def test_mixed_parallel_clients_all_agree(daemon_factory, tmp_path):
    """16 clients, 4 workers, every form: table, keyctl usage --json, the
    access log and /metrics add up to exactly what the stub reported."""
    log = tmp_path / "access.log"
    d = daemon_factory(workers=4, extra_args=[
        "--access-log", str(log), "--access-log-format", "json",
        "--min-spare", "4"])
    keys = {"alice": d.add_key(name="alice"), "bob": d.add_key(name="bob")}
    want = {}                       # (key, model) -> [req, prompt, compl]
    lock = threading.Lock()
    errors = []

    def client(seed):
        rnd = random.Random(seed)
        try:
            with d.connect(10) as c:
                for _ in range(12):
                    name = rnd.choice(list(keys))
                    form = rnd.choice(list(USAGE_FORMS))
                    r = ask(d, keys[name], form, conn=c)
                    if r.status != 200:
                        errors.append((form, r.status, r.body))
                        continue
                    p, n = counts(form)
                    model = USAGE_FORMS[form][0] if form != "sse-none" \
                        else ""
                    with lock:
                        w = want.setdefault((name, model), [0, 0, 0])
                        w[0] += 1
                        w[1] += p
                        w[2] += n
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:5]
    total = sum(w[0] for w in want.values())
    assert total == 16 * 12

    # /metrics, live, as promtool reads it.
    text = metrics_text(d, lambda t: sum(
        v for k, v in series(t, "ollaguard_requests_total").items()
        if label(k, "key") in keys) == total)
    promtool_ok(text)
    got = {}
    for labels, v in series(text, "ollaguard_tokens_total").items():
        k = (label(labels, "key"), label(labels, "model"))
        if k[0] not in keys:
            continue
        t = label(labels, "type")
        got.setdefault(k, [0, 0])[0 if t == "prompt" else 1] += int(v)
    for k, w in want.items():
        assert got.get(k, [0, 0]) == [w[1], w[2]], (k, got.get(k), w)
    reqs = {}
    for labels, v in series(text, "ollaguard_requests_total").items():
        k = (label(labels, "key"), label(labels, "model"))
        if k[0] in keys:
            reqs[k] = reqs.get(k, 0) + int(v)
    assert reqs == {k: w[0] for k, w in want.items()}
    nonone = sum(w[0] for k, w in want.items() if k[1] == "")
    line = [x for x in text.splitlines()
            if x.startswith("ollaguard_unmetered_responses_total ")]
    assert line and int(float(line[0].split()[1])) == nonone

    # Stop: the workers flush at exit.
    d.stop()
    ids = {name: json.loads(keyctl(d.db, "show", name, "--json").stdout)
           ["id"] for name in keys}
    rows = usage_rows(d.db)
    table = {}
    for key_id, model, user, nreq, nerr, p, n in rows:
        name = next(k for k, i in ids.items() if i == key_id)
        table[(name, model)] = [nreq, p, n]
        assert nerr == 0 and user == ""
    assert table == {k: w for k, w in want.items()}

    out = json.loads(keyctl(d.db, "usage", "--by", "key,model",
                            "--json").stdout)
    viakeyctl = {(o["key"], o["model"]): [o["requests"], o["prompt_tokens"],
                                          o["completion_tokens"]]
                 for o in out}
    assert viakeyctl == table

    lines = [json.loads(x) for x in log.read_text().splitlines()]
    fromlog = {}
    for o in lines:
        if o["key_name"] in keys and o["status"] == 200:
            w = fromlog.setdefault((o["key_name"], o["model"] or ""),
                                   [0, 0, 0])
            w[0] += 1
            w[1] += o["prompt_tokens"]
            w[2] += o["completion_tokens"]
            assert o["ttfb_ms"] is not None
            # Ollama's load_duration (ns) as the stub reports it.
            want_load = {"m-ndjson": 2.5, "m-json": 1.5}.get(o["model"])
            assert o["load_ms"] == want_load, o
    assert fromlog == table


def test_tokens_per_day_quota_across_workers(daemon_factory, tmp_path):
    """tokens-per-day 1000: 429 once the stub has reported 1000 tokens,
    whichever worker serves; the next UTC day (clock-offset) passes."""
    db = tmp_path / "q.db"
    key = keyctl_add(db, name="q")
    keyctl(db, "set", "q", "--tokens-per-day", "1000")
    d = daemon_factory(workers=4, db=db, extra_args=["--min-spare", "4"])
    per = sum(counts("ndjson"))             # 33 a request
    spent = 0
    refused = None
    lock = threading.Lock()

    def client():
        nonlocal spent, refused
        with d.connect(10) as c:
            for _ in range(30):
                r = ask(d, key, "ndjson", conn=c)
                with lock:
                    if r.status == 200:
                        spent += per
                    elif r.status == 429 and refused is None:
                        refused = (r, spent)
                if r.status == 429:
                    return

    ts = [threading.Thread(target=client) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert refused is not None, "never refused"
    r, _ = refused
    # The daemon counts a response's tokens once it has ended, so it
    # refuses only once the stub reported 1000; the overshoot is at most
    # what the 4 clients had in flight when the budget ran out.
    assert 1000 <= spent < 1000 + 4 * per, spent
    assert int(r.header("Retry-After")) > 0
    assert "tokens-per-day" in r.json()["error"]
    assert ask(d, key, "ndjson").status == 429
    d.stop()

    # The next UTC day, by clock-offset (a restart, as a test would).
    d2 = daemon_factory(workers=2, db=db,
                        extra_args=["--clock-offset", "86400"])
    assert ask(d2, key, "ndjson").status == 200
    d2.stop()
    env = daemon_env({"OLLAGUARD_CLOCK_OFFSET": "86400"})
    p = subprocess.run([KEYCTL, "--db", str(db), "usage", "--by", "day",
                        "--json"], capture_output=True, text=True, env=env,
                       timeout=15)
    days = json.loads(p.stdout)
    assert len(days) == 2 and days[1]["prompt_tokens"] == counts("ndjson")[0]


def test_requests_per_day_and_db_seed(daemon_factory, tmp_path):
    """Counters are seeded from the usage table after a restart."""
    db = tmp_path / "r.db"
    key = keyctl_add(db, name="r")
    keyctl(db, "set", "r", "--requests-per-day", "3")
    d = daemon_factory(workers=2, db=db)
    assert [ask(d, key, "json").status for _ in range(4)] == \
        [200, 200, 200, 429]
    d.stop()
    d2 = daemon_factory(workers=2, db=db)
    r = ask(d2, key, "json")
    assert r.status == 429 and "requests-per-day" in r.json()["error"]


def test_stream_usage_add(daemon_factory):
    """openai-stream-usage = add: a client that did not ask gets the very
    bytes the stub sends such a client; the request is metered anyway;
    a client that asked still gets its usage chunk."""
    d = daemon_factory(workers=2, extra_args=["--openai-stream-usage",
                                              "add"])
    key = d.add_key(name="s")
    plain = b"".join(SSE_USAGE_EVENTS) + SSE_DONE
    r = ask(d, key, "sse", body={"model": "x", "stream": True})
    assert r.status == 200 and r.body == plain
    r = ask(d, key, "sse")
    assert r.body == b"".join(SSE_USAGE_EVENTS) + SSE_USAGE_CHUNK + SSE_DONE
    def toks(text):
        return {label(k, "type"): v for k, v in
                series(text, "ollaguard_tokens_total").items()
                if label(k, "key") == "s"}
    want = {"prompt": 18, "completion": 20}
    assert toks(metrics_text(d, lambda t: toks(t) == want)) == want


def test_stream_usage_off_leaves_it_unmetered(daemon_factory):
    d = daemon_factory(workers=1)
    key = d.add_key(name="s")
    r = ask(d, key, "sse", body={"model": "x", "stream": True})
    assert r.body == b"".join(SSE_USAGE_EVENTS) + SSE_DONE
    text = metrics_text(d, lambda t:
                        "ollaguard_unmetered_responses_total 1" in t)
    assert "ollaguard_unmetered_responses_total 1" in text


def test_compressed_answer_is_unmetered(daemon_factory):
    """A body that is not identity-encoded is relayed untouched and
    never read: the request is recorded without tokens."""
    d = daemon_factory(workers=1, extra_args=["--access-log-format",
                                              "json"])
    key = d.add_key(name="z")
    r = d.request("POST", "/api/generate?usage=json-gzip", key=key,
                  body=b'{"model":"m"}')
    assert r.status == 200 and r.header("Content-Encoding") == "gzip"
    text = metrics_text(d, lambda t:
                        "ollaguard_unmetered_responses_total 1" in t)
    assert "ollaguard_unmetered_responses_total 1" in text
    toks = [v for k, v in series(text, "ollaguard_tokens_total").items()
            if label(k, "key") == "z"]
    assert sum(toks) == 0


def test_per_user_budgets(daemon_factory, tmp_path):
    """A key marked trust-user-header: each Open WebUI user has its own
    daily budget and its own usage rows; the header means nothing on a
    key without the mark."""
    db = tmp_path / "u.db"
    webui = keyctl_add(db, name="webui")
    keyctl(db, "set", "webui", "--trust-user-header",
           "--user-tokens-per-day", "60")
    other = keyctl_add(db, name="other")
    d = daemon_factory(workers=2, db=db)
    ann = [("X-OpenWebUI-User-Email", "ann@example.org")]
    ben = [("X-OpenWebUI-User-Name", "Ben")]
    # One connection: a response's tokens are counted just after its
    # last byte, so a next request on another connection could come
    # first (the bounded overshoot the README describes).
    with d.connect() as c:
        got = [ask(d, webui, "ndjson", headers=ann, conn=c).status
               for _ in range(3)]
    assert got == [200, 200, 429], got
    r = ask(d, webui, "ndjson", headers=ann)
    assert "user-tokens-per-day" in r.json()["error"]
    assert ask(d, webui, "ndjson", headers=ben).status == 200
    assert ask(d, webui, "ndjson").status == 200        # no user: no budget
    for _ in range(3):
        assert ask(d, other, "ndjson", headers=ann).status == 200
    d.stop()
    rows = {(k, u): (n, p) for k, m, u, n, e, p, c in usage_rows(db)}
    ids = {n: json.loads(keyctl(db, "show", n, "--json").stdout)["id"]
           for n in ("webui", "other")}
    assert rows[(ids["webui"], "ann@example.org")] == (2, 22)
    assert rows[(ids["webui"], "Ben")] == (1, 11)
    assert rows[(ids["webui"], "")] == (1, 11)
    assert rows[(ids["other"], "")] == (3, 33)
    out = json.loads(keyctl(db, "usage", "webui", "--by", "user",
                            "--json").stdout)
    assert {o["user"] for o in out} == {"", "ann@example.org", "Ben"}


def test_metrics_access(daemon_factory, stub):
    """The master key always; no key only from metrics-allow; a wrong
    key 401; any other key or address 403.  Never forwarded."""
    d = daemon_factory(workers=1, extra_args=["--metrics-allow",
                                              "10.0.0.0/8"])
    key = d.add_key(name="k")
    assert d.get("/metrics").status == 200
    assert d.get("/metrics", key=None).status == 403
    assert d.get("/metrics", key=key).status == 403
    assert d.get("/metrics", key="wrong-key-0123456789").status == 401
    d2 = daemon_factory(workers=1)
    assert d2.get("/metrics", key=None).status == 200
    text = metrics_text(d)
    assert 'ollaguard_auth_failures_total{reason="invalid-key"}' in text
    assert "ollaguard_build_info{" in text
    assert stub.requests_to("/metrics") == []


def test_limited_counted(daemon_factory, tmp_path):
    db = tmp_path / "l.db"
    key = keyctl_add(db, name="lim")
    keyctl(db, "set", "lim", "--requests-per-day", "1")
    d = daemon_factory(workers=1, db=db)
    assert ask(d, key, "json").status == 200
    assert ask(d, key, "json").status == 429
    text = metrics_text(d)
    assert ('ollaguard_limited_total{key="lim",limit="requests-per-day"} 1'
            in text), text


def test_sigkill_mid_flush_leaves_db_consistent(daemon_factory):
    """Workers killed with SIGKILL while they flush: the database stays
    consistent and holds no more than was served."""
    d = daemon_factory(workers=4, extra_args=["--min-spare", "4"])
    key = d.add_key(name="k")
    stop = threading.Event()
    served = [0]

    def load():
        while not stop.is_set():
            try:
                with d.connect(5) as c:
                    for _ in range(20):
                        if ask(d, key, "json", conn=c).status == 200:
                            served[0] += 1
            except Exception:       # noqa: BLE001 - a killed worker
                pass

    ts = [threading.Thread(target=load) for _ in range(4)]
    for t in ts:
        t.start()
    end = time.monotonic() + 6
    while time.monotonic() < end:
        time.sleep(0.7)
        kids = children(d.proc.pid)
        if kids:
            os.kill(random.choice(kids), signal.SIGKILL)
    stop.set()
    for t in ts:
        t.join(30)
    d.stop()
    con = sqlite3.connect(d.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n, p = con.execute("SELECT sum(requests), sum(prompt_tokens) "
                       "FROM usage").fetchone()
    con.close()
    assert n is not None and 0 < n <= served[0] + 8
    assert p == 7 * n


def test_export_with_usage_and_import(daemon_factory, tmp_path):
    """export --with-usage carries the usage table; import adds it to
    another database under the same keys (by hash)."""
    db = tmp_path / "a.db"
    key = keyctl_add(db, name="mover")
    d = daemon_factory(workers=1, db=db)
    for form in ("ndjson", "json", "oai-json"):
        assert ask(d, key, form).status == 200
    assert ask(d, None, "json", headers=bearer(d.master_key)).status == 200
    d.stop()
    plain = json.loads(keyctl(db, "export").stdout)
    assert "usage" not in plain
    exp = tmp_path / "exp.json"
    keyctl(db, "export", "--with-usage", exp)
    doc = json.loads(exp.read_text())
    assert len(doc["usage"]) == 4
    other = tmp_path / "b.db"
    keyctl_add(other, name="first")     # ids differ in the new home
    p = keyctl(other, "import", exp)
    assert "4 usage rows added" in p.stdout and "not read" not in p.stderr
    before = json.loads(keyctl(db, "usage", "--by", "key,model",
                               "--json").stdout)
    after = json.loads(keyctl(other, "usage", "--by", "key,model",
                              "--json").stdout)
    assert after == before
