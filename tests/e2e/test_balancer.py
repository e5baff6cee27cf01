"""
Behind a load balancer: HAProxy (from Debian) in front of the daemon,
sending the PROXY protocol (send-proxy, send-proxy-v2; plain and with
TLS passed through) or adding X-Forwarded-For (option forwardfor).  The
access log, the fail2ban line, upstream's X-Forwarded-For and the
per-address connection limit see the real client (127.0.0.2/.3), never
the balancer; an untrusted peer's forged X-Forwarded-For is ignored and
its PROXY header is a bad request.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (HttpConn, MASTER_KEY, bearer, build_request, free_port,
                      log_line, wait_until)
from stub_upstream import TAGS_BODY
from test_tls import pki  # noqa: F401 (the CA and certificates)

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
pytestmark = pytest.mark.skipif(HAPROXY is None,
                                reason="haproxy missing (make deps)")

CLIENT = "127.0.0.2"
OTHER = "127.0.0.3"


def conn_from(src, port, timeout=5):
    """An HttpConn whose socket comes from address src."""
    c = HttpConn.__new__(HttpConn)
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(src, 0))
    c.timeout = timeout
    c.buf = bytearray()
    c.raw = bytearray()
    c.eof = False
    return c


class Haproxy:
    def __init__(self, tmp_path, backend_port, mode, server_opts):
        self.port = free_port()
        self.cfg = tmp_path / f"haproxy-{self.port}.cfg"
        http = mode == "http"
        self.cfg.write_text(f"""
global
    maxconn 100
defaults
    mode {mode}
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    {"option forwardfor" if http else ""}
    {"option http-server-close" if http else ""}
frontend fe
    bind 127.0.0.1:{self.port}
    default_backend be
backend be
    server s1 127.0.0.1:{backend_port} {server_opts}
""")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.cfg)],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_until(up, 5, 0.05):
            self.stop()
            pytest.fail(f"haproxy did not start: {self.proc.stdout.read()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def haproxy(tmp_path):
    started = []

    def start(backend_port, mode="tcp", server_opts=""):
        h = Haproxy(tmp_path, backend_port, mode, server_opts)
        started.append(h)
        return h
    yield start
    for h in started:
        h.stop()


def balanced(daemon_factory, tmp_path, *extra, trusted="127.0.0.1"):
    log = tmp_path / "access.json"
    d = daemon_factory(extra_args=(
        "--access-log", str(log), "--access-log-format", "json",
        "--trusted-proxies", trusted, *extra))
    d.access = log
    return d


def access(d, n, timeout=3):
    def lines():
        try:
            got = [json.loads(l) for l in d.access.read_text().splitlines()]
        except FileNotFoundError:
            return None
        return got if len(got) >= n else None
    got = wait_until(lines, timeout, 0.05)
    assert got, f"fewer than {n} access log lines"
    return got


def get(c, key=MASTER_KEY, headers=()):
    return c.get("/api/tags", bearer(key) + list(headers))


@pytest.mark.parametrize("opt", ["send-proxy", "send-proxy-v2"])
def test_proxy_protocol_names_the_client(daemon_factory, tmp_path, haproxy,
                                         stub, opt):
    d = balanced(daemon_factory, tmp_path, "--proxy-protocol")
    h = haproxy(d.port, "tcp", opt)
    c = conn_from(CLIENT, h.port)
    assert get(c).body == TAGS_BODY
    assert get(c).body == TAGS_BODY     # kept alive through the balancer
    c.close()
    c = conn_from(OTHER, h.port)
    assert get(c, key="wrong-key-0123456789").status == 401
    c.close()
    lines = access(d, 3)
    assert [l["client"] for l in lines] == [CLIENT, CLIENT, OTHER], lines
    assert log_line(d, f"auth failed: client={OTHER} reason=invalid-key")
    assert stub.last_request().header("X-Forwarded-For") == CLIENT


def test_proxy_protocol_with_tls(daemon_factory, tmp_path, haproxy, pki,
                                 stub):
    d = balanced(daemon_factory, tmp_path, "--proxy-protocol",
                 "--tls-cert", os.path.join(pki, "one.pem"),
                 "--tls-key", os.path.join(pki, "one.key"))
    h = haproxy(d.port, "tcp", "send-proxy-v2")
    c = conn_from(CLIENT, h.port)
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    assert get(c).body == TAGS_BODY
    c.close()
    assert access(d, 1)[0]["client"] == CLIENT


def test_forwardfor_names_the_client(daemon_factory, tmp_path, haproxy,
                                     stub):
    d = balanced(daemon_factory, tmp_path)
    h = haproxy(d.port, "http")
    c = conn_from(CLIENT, h.port)
    # What the client forges stays left of what HAProxy adds.
    r = get(c, headers=[("X-Forwarded-For", "6.6.6.6")])
    assert r.body == TAGS_BODY
    c.close()
    c = conn_from(OTHER, h.port)
    assert get(c, key="wrong-key-0123456789").status == 401
    c.close()
    lines = access(d, 2)
    assert [l["client"] for l in lines] == [CLIENT, OTHER], lines
    assert log_line(d, f"auth failed: client={OTHER} reason=invalid-key")
    assert stub.requests_to("/api/tags")[0].header(
        "X-Forwarded-For") == CLIENT


def test_untrusted_forwarded_for_is_ignored(daemon_factory, tmp_path, stub):
    d = balanced(daemon_factory, tmp_path)
    c = conn_from(OTHER, d.port)
    assert get(c, headers=[("X-Forwarded-For", "6.6.6.6")]).status == 200
    assert get(c, key="wrong-key-0123456789",
               headers=[("X-Forwarded-For", "6.6.6.7")]).status == 401
    c.close()
    assert [l["client"] for l in access(d, 2)] == [OTHER, OTHER]
    assert log_line(d, f"auth failed: client={OTHER} ")
    assert "6.6.6." not in d.stderr_text()
    assert stub.last_request().header("X-Forwarded-For") == OTHER


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 6.6.6.6 127.0.0.1 1234 4000\r\n",
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x06\x06\x06\x06\x7f\x00\x00\x01"
    b"\x04\xd2\x0f\xa0",
], ids=["v1", "v2"])
def test_untrusted_proxy_header_is_bad_request(daemon_factory, tmp_path,
                                               stub, header):
    d = balanced(daemon_factory, tmp_path, "--proxy-protocol")
    c = conn_from(OTHER, d.port)
    c.send(header + build_request("GET", "/api/tags", bearer(MASTER_KEY)))
    r = c.read_response()
    assert r.status == 400
    assert c.wait_closed(3)
    assert not stub.requests
    # An untrusted client without a header is served as plain HTTP.
    c = conn_from(OTHER, d.port)
    assert get(c).body == TAGS_BODY
    assert "6.6.6.6" not in d.access.read_text()


def test_trusted_peer_without_proxy_header_is_bad_request(daemon_factory,
                                                          tmp_path, stub):
    d = balanced(daemon_factory, tmp_path, "--proxy-protocol",
                 trusted=f"127.0.0.1, {CLIENT}")
    c = conn_from(CLIENT, d.port)
    c.send(build_request("GET", "/api/tags", bearer(MASTER_KEY)))
    r = c.read_response()
    assert r.status == 400 and b"PROXY" in r.body
    assert c.wait_closed(3)
    assert not stub.requests


def test_conn_limit_counts_the_named_client(daemon_factory, tmp_path,
                                            haproxy, stub):
    d = balanced(daemon_factory, tmp_path, "--proxy-protocol",
                 "--max-conns-per-ip", "1")
    h = haproxy(d.port, "tcp", "send-proxy")
    first = conn_from(CLIENT, h.port)
    assert get(first).status == 200
    second = conn_from(CLIENT, h.port)
    assert get(second).status == 429
    other = conn_from(OTHER, h.port)
    assert get(other).status == 200
    assert log_line(d, f"connection limit: client={CLIENT}")
    for c in (first, second, other):
        c.close()


def test_conn_limit_with_forwardfor(daemon_factory, tmp_path, stub):
    """Per request behind X-Forwarded-For: the balancer's own address is
    never counted, each named client is."""
    d = balanced(daemon_factory, tmp_path, "--max-conns-per-ip", "1")
    a = conn_from("127.0.0.1", d.port)
    b = conn_from("127.0.0.1", d.port)
    assert get(a, headers=[("X-Forwarded-For", CLIENT)]).status == 200
    assert get(b, headers=[("X-Forwarded-For", OTHER)]).status == 200
    assert get(b, headers=[("X-Forwarded-For", CLIENT)]).status == 429
