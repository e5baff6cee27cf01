"""
The admin page in a real browser: Debian's headless Chromium driven by
playwright-core (tests/browser/, installed by make deps), one node run
per scenario (tests/browser/admin.mjs), with the daemon side checked
here between them: sign in wrong then right, create a key and read it
from the dialog, use it through the proxy, narrow its models and see
403, revoke it and see 401; the usage chart's bars against keyctl usage;
a key name made of HTML shown as text; a stream in progress in the live
view.  Screenshots of a failure land in $OLLAGUARD_BUILD/browser/.

The daemon does not fill the usage table yet (metering is merged
separately), so the usage test seeds it with sqlite3.
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest import BUILD, REPO, keyctl, keyctl_add
from test_usage_keyctl import SCHEMA as USAGE_SCHEMA

BROWSER_DIR = os.path.join(REPO, "tests", "browser")
SCRIPT = os.path.join(BROWSER_DIR, "admin.mjs")
CHROMIUM = "/usr/bin/chromium"
OUT = os.path.join(BUILD, "browser")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and shutil.which("node") and
         os.path.isdir(os.path.join(BROWSER_DIR, "node_modules",
                                    "playwright-core"))),
    reason="chromium, node or tests/browser/node_modules missing "
           "(make deps installs them)")


def page(d, scenario, *args):
    """Runs one scenario against daemon d; what it read, as JSON."""
    p = subprocess.run(["node", SCRIPT, scenario, f"http://{d.hostport}",
                        d.master_key, OUT, *args], capture_output=True,
                       text=True, timeout=60, cwd=BROWSER_DIR)
    assert p.returncode == 0, \
        f"browser scenario {scenario} failed (screenshot in {OUT}):\n" \
        f"{p.stderr}{p.stdout}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def chat(d, key, model):
    return d.request("POST", "/api/chat", key=key,
                     body=json.dumps({"model": model}).encode()).status


def test_sign_in_create_use_edit_revoke(daemon, stub):
    got = page(daemon, "signin")
    assert "Wrong master key" in got["wrong"]
    assert got["stored"] and got["cleared"]
    # The issue asks for < 100 ms on loopback; shared CI cores get slack.
    assert got["load_ms"] < 1000, got
    print(f"admin page load: {got['load_ms']:.0f} ms")

    got = page(daemon, "create", "browser-made")
    key = got["key"]
    assert "will not be shown again" in got["warning"]
    assert len(key) >= 32 and key not in keyctl(daemon.db, "list").stdout
    assert chat(daemon, key, "llama3") == 200
    assert chat(daemon, key, "qwen2") == 200

    got = page(daemon, "edit", "browser-made", "llama3")
    assert "llama3" in got["models"]
    for _ in range(3):
        assert chat(daemon, key, "qwen2") == 403
        assert chat(daemon, key, "llama3") == 200

    page(daemon, "revoke", "browser-made")
    for _ in range(3):
        assert chat(daemon, key, "llama3") == 401


def test_usage_chart_matches_keyctl(daemon):
    keyctl_add(daemon.db, name="team-a")
    keyctl_add(daemon.db, name="team-b")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = lambda n: (today - datetime.timedelta(days=n)).isoformat()
    rows = [(1, "llama3:latest", day(0), "", 4, 0, 400, 800),
            (2, "llama3:latest", day(0), "", 2, 1, 100, 50),
            (1, "qwen2:7b", day(3), "", 7, 0, 700, 1400),
            (2, "qwen2:7b", day(29), "", 1, 0, 10, 20),
            (1, "llama3:latest", day(40), "", 9, 0, 999, 999)]
    con = sqlite3.connect(daemon.db)
    con.execute(USAGE_SCHEMA)
    con.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                    rows)
    con.commit()
    con.close()
    want = {r["day"]: r["prompt_tokens"] + r["completion_tokens"]
            for r in json.loads(keyctl(daemon.db, "usage", "--by", "day",
                                       "--since", "29d", "--json").stdout)}
    got = page(daemon, "usage")
    assert got["key"] == want
    assert got["model"] == want
    assert day(40) not in got["key"]
    # The pictures for the README, and the page on a phone-sized screen.
    assert page(daemon, "shot") == {"phone_overflows": False}


def test_html_name_is_shown_as_text(daemon):
    name = "<img src=x onerror=alert(1)>"
    keyctl(daemon.db, "add", "--name", name)
    got = page(daemon, "xss")
    assert got == {"text": name, "imgs": 0}


def test_live_view_shows_a_stream(daemon, stub):
    key = keyctl(daemon.db, "add", "--name", "live-streamer", "--allow",
                 "read,infer,manage").stdout.strip()
    conn = daemon.connect(timeout=15)
    conn.send(b"GET /stream/endless HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + key.encode() + b"\r\n\r\n")
    got = page(daemon, "live", "live-streamer")
    assert got["rows"] >= 1
    conn.close()
