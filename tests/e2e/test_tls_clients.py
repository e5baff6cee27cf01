"""
The real client libraries over https: ollama-js and openai-node
(tests/clients/, installed by make deps) make a chat, a streamed chat
and a model list each through the daemon with TLS on, trusting the
test's CA through NODE_EXTRA_CA_CERTS; with another CA both refuse the
daemon's certificate and nothing reaches Ollama.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import MASTER_KEY, REPO
from test_tls import certs, pem, pki, tls_daemon  # noqa: F401 (fixtures)

CLIENTS_DIR = os.path.join(REPO, "tests", "clients")
SCRIPT = os.path.join(CLIENTS_DIR, "clients.mjs")
PIECES = ["Hel", "lo", "!"]

pytestmark = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("openssl") and
         all(os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules", p))
             for p in ("ollama", "openai"))),
    reason="node, openssl or tests/clients/node_modules missing "
           "(make deps installs them)")


# What Ollama answers, in its own API and in its OpenAI one; "stream"
# picks a whole reply or the PIECES one by one.

def ollama_chat(ex):
    def line(content, done):
        return {"model": "llama3", "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": content},
                "done": done, **({"done_reason": "stop"} if done else {})}
    if not json.loads(ex.req.body).get("stream", True):
        ex.respond_json(200, line("".join(PIECES), True))
        return
    ex.send_head(200, [("Content-Type", "application/x-ndjson"),
                       ("Transfer-Encoding", "chunked")])
    for i, p in enumerate(PIECES):
        ex.send_chunk(json.dumps(line(p, i == len(PIECES) - 1)).encode() +
                      b"\n")
    ex.end_chunks()


def openai_chat(ex):
    def reply(kind, choice):
        return {"id": "chatcmpl-1", "object": kind, "created": 1767225600,
                "model": "llama3", "choices": [{"index": 0, **choice}]}
    if not json.loads(ex.req.body).get("stream", False):
        ex.respond_json(200, reply("chat.completion", {
            "message": {"role": "assistant", "content": "".join(PIECES)},
            "finish_reason": "stop"}))
        return
    ex.send_head(200, [("Content-Type", "text/event-stream"),
                       ("Transfer-Encoding", "chunked")])
    for i, p in enumerate(PIECES):
        last = i == len(PIECES) - 1
        event = reply("chat.completion.chunk", {
            "delta": {"content": p},
            "finish_reason": "stop" if last else None})
        ex.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
    ex.send_chunk(b"data: [DONE]\n\n")
    ex.end_chunks()


def run_clients(d, pki, ca):  # noqa: F811
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=pem(pki, ca))
    r = subprocess.run(["node", SCRIPT, f"https://localhost:{d.port}",
                        MASTER_KEY], cwd=CLIENTS_DIR, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def chat_stub(stub):
    stub.handlers["/api/chat"] = ollama_chat
    stub.handlers["/v1/chat/completions"] = openai_chat
    return stub


# certs and pki are test_tls's fixtures.
def test_clients_over_https(daemon_factory, certs, pki,  # noqa: F811
                            chat_stub):
    d = tls_daemon(daemon_factory, certs)
    out = run_clients(d, pki, "ca")
    for lib, models in (("ollama", ["llama3:8b"]),
                        ("openai", ["llama3:latest", "qwen2:7b",
                                    "mistral:latest"])):
        assert out[lib] == {"chat": "Hello!", "stream": PIECES,
                            "models": models}, out
    # Each library's requests went through, marked as https.
    for path in ("/api/chat", "/v1/chat/completions"):
        seen = chat_stub.requests_to(path)
        assert len(seen) == 2
        assert all(r.header("X-Forwarded-Proto") == "https" for r in seen)


def test_clients_refuse_wrong_ca(daemon_factory, certs, pki,  # noqa: F811
                                 chat_stub):
    d = tls_daemon(daemon_factory, certs)
    out = run_clients(d, pki, "otherca")
    for lib in ("ollama", "openai"):
        error = out[lib].get("error", "")
        assert "UNABLE_TO_VERIFY_LEAF_SIGNATURE" in error, out
    time.sleep(0.2)
    assert not chat_stub.requests_to("/api/chat")
    assert not chat_stub.requests_to("/v1/chat/completions")
