"""
Built-in TLS: certificates made here with the openssl command, clients
that check them (curl --cacert, Python's ssl), the handshake on the
header timeout's clock, plain HTTP on the TLS port, session resumption
across workers, a certificate reloaded while a stream runs, a bad pair
on reload, and https upstreams checked with target-ca or not at all.
"""

import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (HttpConn, MASTER_KEY, bearer, build_request, log_line,
                      wait_until)
from stub_upstream import NDJSON_LINES, TAGS_BODY, StubUpstream

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl missing")


def sh(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    sh(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
       f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem",
       cwd=d)


def make_cert(d, ca, name):
    """A certificate for localhost and 127.0.0.1, signed by ca."""
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh(OPENSSL, "req", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={name}",
       "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    sh(OPENSSL, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
       "-CAkey", f"{ca}.key", "-CAcreateserial", "-days", "2", "-extfile",
       "san.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "ca", "one")
    make_cert(d, "ca", "two")
    return d


def pem(pki, name):
    return os.path.join(pki, f"{name}.pem")


def der(pki, name):
    with open(pem(pki, name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


@pytest.fixture
def certs(pki, tmp_path):
    """The live pair the daemon serves, as copies a test may replace."""
    for ext in ("pem", "key"):
        shutil.copy(os.path.join(pki, f"one.{ext}"), tmp_path / f"live.{ext}")
    return str(tmp_path / "live.pem"), str(tmp_path / "live.key")


def tls_daemon(daemon_factory, certs, *extra, **kw):
    cert, key = certs
    return daemon_factory(extra_args=("--tls-cert", cert, "--tls-key", key,
                                      *extra), **kw)


def client_ctx(pki, ca="ca"):
    ctx = ssl.create_default_context(cafile=pem(pki, ca))
    return ctx


def tls_conn(d, pki, ca="ca", session=None, ctx=None):
    c = HttpConn("127.0.0.1", d.port)
    ctx = ctx or client_ctx(pki, ca)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost",
                             session=session)
    return c


def curl(d, pki, *args, ca="ca"):
    return subprocess.run(
        ["curl", "-sS", "--cacert", pem(pki, ca), "-H",
         f"Authorization: Bearer {MASTER_KEY}",
         f"https://localhost:{d.port}/api/tags", *args],
        capture_output=True, timeout=20)


def reload(d, pattern):
    d.proc.send_signal(signal.SIGHUP)
    assert log_line(d, pattern, 5), d.stderr_text()


# ---------------------------------------------------------------------------


def test_curl_with_cacert(daemon_factory, certs, pki, stub):
    d = tls_daemon(daemon_factory, certs)
    r = curl(d, pki, "-w", "%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == TAGS_BODY + b"200"
    # Ollama is told the client spoke https.
    assert stub.last_request().header("X-Forwarded-Proto") == "https"


def test_keepalive_and_stream(daemon_factory, certs, pki, stub):
    d = tls_daemon(daemon_factory, certs)
    c = tls_conn(d, pki)
    assert c.sock.selected_alpn_protocol() in (None, "http/1.1")
    for _ in range(3):
        assert c.get("/api/tags", bearer(MASTER_KEY)).body == TAGS_BODY
    c.send(build_request("POST", "/stream/ndjson", bearer(MASTER_KEY),
                         b'{"stream":true}'))
    r = c.read_head("POST")
    assert r.status == 200
    assert c.read_body_until(r, NDJSON_LINES[0], 5)
    stub.release("ndjson")
    c.read_body(r, deadline=10)
    assert r.complete and r.body == b"".join(NDJSON_LINES)
    assert c.get("/api/tags", bearer(MASTER_KEY)).body == TAGS_BODY
    c.close()


def test_alpn_http11(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    ctx = client_ctx(pki)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    c = tls_conn(d, pki, ctx=ctx)
    assert c.sock.selected_alpn_protocol() == "http/1.1"
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    c.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_protocols_refused(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    ctx = client_ctx(pki)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, OSError)):
        tls_conn(d, pki, ctx=ctx)


def test_wrong_ca_is_refused_by_clients(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_conn(d, pki, ca="otherca")
    r = curl(d, pki, ca="otherca")
    assert r.returncode == 60, r.stderr   # peer certificate not trusted
    # The daemon goes on.
    assert curl(d, pki).stdout == TAGS_BODY


def test_plain_http_to_tls_port_gets_400(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    c = HttpConn("127.0.0.1", d.port)
    c.send(build_request("GET", "/api/tags", bearer(MASTER_KEY)))
    r = c.read_response()
    assert r.status == 400
    assert b"HTTPS" in r.body
    assert c.wait_closed(3)
    # Not HTTP, not TLS: just closed.
    c = HttpConn("127.0.0.1", d.port)
    c.send(b"\x00\x01\x02\x03")
    assert c.wait_closed(3) and c.buf == b""


def test_stalled_handshake_closed_by_header_timeout(daemon_factory, certs,
                                                    pki):
    d = tls_daemon(daemon_factory, certs, "--header-timeout", "1",
                   workers=1)
    c = HttpConn("127.0.0.1", d.port, timeout=10)
    c.send(b"\x16\x03\x01\x02\x00")   # a record header, then silence
    t0 = time.monotonic()
    assert c.wait_closed(4), "a stalled handshake held the worker"
    assert 0.7 <= time.monotonic() - t0 <= 3
    # The only worker is free again.
    assert curl(d, pki).stdout == TAGS_BODY


def test_session_resumes_on_any_worker(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs, workers=4)
    ctx = client_ctx(pki)
    c = tls_conn(d, pki, ctx=ctx)
    assert c.get("/api/tags", bearer(MASTER_KEY)).status == 200
    sess = c.sock.session
    c.close()
    assert sess is not None and sess.has_ticket
    reused = 0
    for _ in range(8):
        c = tls_conn(d, pki, ctx=ctx, session=sess)
        assert c.get("/api/tags", bearer(MASTER_KEY)).status == 200
        reused += c.sock.session_reused
        c.close()
    assert reused == 8, f"{reused} of 8 reconnections resumed"


def test_openssl_s_client_reconnect_reused(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    r = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{d.port}", "-tls1_2",
         "-CAfile", pem(pki, "ca"), "-reconnect"],
        input=b"", capture_output=True, timeout=20)
    out = r.stdout.decode(errors="replace")
    assert out.count("Reused, TLSv1.2") >= 5, out


def test_reload_new_cert_while_stream_runs(daemon_factory, certs, pki, stub):
    d = tls_daemon(daemon_factory, certs)
    old = tls_conn(d, pki)
    assert old.sock.getpeercert(True) == der(pki, "one")
    old.send(build_request("POST", "/stream/ndjson?gate=tlsreload",
                           bearer(MASTER_KEY), b'{"stream":true}'))
    r = old.read_head("POST")
    assert old.read_body_until(r, NDJSON_LINES[0], 5)
    cert, key = certs
    shutil.copy(pem(pki, "two"), cert)
    shutil.copy(os.path.join(pki, "two.key"), key)
    reload(d, r"TLS certificate .* loaded")

    def new_cert():
        c = tls_conn(d, pki)
        got = c.sock.getpeercert(True)
        c.close()
        return got == der(pki, "two")
    assert wait_until(new_cert, 5, 0.1), "new connections kept the old cert"
    # The stream begun before the reload finishes on its connection.
    stub.release("tlsreload")
    old.read_body(r, deadline=10)
    assert r.complete and r.body == b"".join(NDJSON_LINES)


def test_reload_bad_pair_keeps_old(daemon_factory, certs, pki):
    d = tls_daemon(daemon_factory, certs)
    cert, key = certs
    # The certificate of two with the key of one: a mismatched pair.
    shutil.copy(pem(pki, "two"), cert)
    reload(d, r"does not match .*keeping the running certificate")
    c = tls_conn(d, pki)
    assert c.sock.getpeercert(True) == der(pki, "one")
    assert c.get("/api/tags", bearer(MASTER_KEY)).body == TAGS_BODY
    c.close()
    with open(key, "w") as f:
        f.write("not a key\n")
    reload(d, r"tls-key .*keeping the running certificate")
    assert curl(d, pki).stdout == TAGS_BODY


def test_bad_pair_at_start_fails(daemon_factory, pki, stub):
    r = daemon_factory.run(["--tls-cert", pem(pki, "two"), "--tls-key",
                            os.path.join(pki, "one.key"), "--target-url",
                            stub.url, "--port", "1"])
    assert r.returncode != 0
    assert "does not match" in r.stderr
    r = daemon_factory.run(["--tls-cert", pem(pki, "one")])
    assert r.returncode != 0 and "tls-key" in r.stderr
    r = daemon_factory.run(["--tls-cert", pem(pki, "two"), "--tls-key",
                            os.path.join(pki, "one.key"), "--check-config"])
    assert r.returncode != 0 and "does not match" in r.stderr


# ---------------------------------------------------------------------------
# https upstreams


class TlsStub(StubUpstream):
    def __init__(self, pki):
        super().__init__("127.0.0.1")
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(pem(pki, "one"),
                                 os.path.join(pki, "one.key"))

    def start(self):
        super().start()
        self._lsock = self.ctx.wrap_socket(self._lsock, server_side=True)
        return self

    @property
    def url(self):
        return f"https://localhost:{self.port}"


@pytest.fixture
def tls_stub(pki):
    s = TlsStub(pki).start()
    yield s
    s.stop()


def test_https_upstream_with_target_ca(daemon_factory, tls_stub, pki):
    d = daemon_factory(target_url=tls_stub.url,
                       extra_args=("--target-ca", pem(pki, "ca")))
    r = d.get("/api/tags")
    assert r.status == 200 and r.body == TAGS_BODY


def test_https_upstream_unknown_ca_is_502(daemon_factory, tls_stub, pki):
    d = daemon_factory(target_url=tls_stub.url,
                       extra_args=("--target-ca", pem(pki, "otherca")))
    assert d.get("/api/tags").status == 502


def test_https_upstream_insecure_warns(daemon_factory, tls_stub):
    d = daemon_factory(target_url=tls_stub.url,
                       extra_args=("--target-insecure",))
    assert log_line(d, "TARGET-INSECURE IS ON")
    r = d.get("/api/tags")
    assert r.status == 200 and r.body == TAGS_BODY


def test_https_upstream_offering_h2_gets_http11_and_a_large_body(
        daemon_factory, tls_stub, pki):
    """An https box that offers h2 first by ALPN is still spoken to in
    HTTP/1.1 (the daemon writes HTTP/1.1 bytes: agreeing on h2 would
    break every request), and a body larger than the socket buffers goes
    through whole on a fresh TLS 1.3 connection, whose session tickets
    arrive while the body is still being sent."""
    tls_stub.ctx.set_alpn_protocols(["h2", "http/1.1"])
    d = daemon_factory(target_url=tls_stub.url,
                       extra_args=("--target-ca", pem(pki, "ca")))
    body = os.urandom(8 << 20)
    r = d.request("POST", "/echo", body=body, timeout=30)
    assert r.status == 200, r
    assert r.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    socks = list(tls_stub._socks.values())
    assert socks and all(s.selected_alpn_protocol() in (None, "http/1.1")
                         for s in socks), \
        [s.selected_alpn_protocol() for s in socks]
    r = d.get("/api/tags")
    assert r.status == 200 and r.body == TAGS_BODY


def test_no_fresh_connection_dropped_across_reloads(daemon_factory, certs,
                                                    pki):
    """A retiring worker that has just finished a handshake still serves
    that client's first request (it comes a round trip later)."""
    d = tls_daemon(daemon_factory, certs)
    ctx = client_ctx(pki)
    bad = []
    end = time.monotonic() + 3
    n = 0
    next_hup = 0
    while time.monotonic() < end:
        if n == next_hup:
            d.proc.send_signal(signal.SIGHUP)
            next_hup += 10
        n += 1
        try:
            c = tls_conn(d, pki, ctx=ctx)
            r = c.get("/api/tags", bearer(MASTER_KEY))
            c.close()
            if r.status != 200:
                bad.append(r.status)
        except Exception as e:  # noqa: BLE001 (any failure counts)
            bad.append(repr(e))
    assert not bad, f"{len(bad)} of {n} failed: {bad[:3]}"


def test_root_only_key_read_before_privilege_drop(daemon_factory, pki):
    """The key is 0600 root: the daemon serving as nobody still has it,
    since the master read it as root; a reload, as nobody, cannot read
    it again and keeps the running pair, saying why."""
    import pwd
    import tempfile
    from test_ops_helpers import need_root

    need_root()
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    d_ = tempfile.mkdtemp(prefix="ollaguard-tls-")
    try:
        os.chmod(d_, 0o777)
        key = os.path.join(d_, "root-only.key")
        cert = os.path.join(d_, "one.pem")
        shutil.copy(os.path.join(pki, "one.key"), key)
        shutil.copy(pem(pki, "one"), cert)
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        d = daemon_factory(db=os.path.join(d_, "keys.db"),
                           env={"OLLAGUARD_USER": "nobody"},
                           extra_args=("--tls-cert", cert,
                                       "--tls-key", key))
        assert curl(d, pki).stdout == TAGS_BODY
        reload(d, r"tls-key .*Permission denied.*keeping the running")
        assert curl(d, pki).stdout == TAGS_BODY
    finally:
        shutil.rmtree(d_, ignore_errors=True)


def test_stream_chunk_is_one_record(daemon_factory, certs, pki, stub):
    """A chunk's size line, data and CRLF go out as one TLS record, not
    three: the records on the wire are counted under TLS 1.2."""
    d = tls_daemon(daemon_factory, certs)
    ctx = client_ctx(pki)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    raw = bytearray()

    def pump():
        data = out.read()
        if data:
            s.sendall(data)

    def feed():
        data = s.recv(65536)
        raw.extend(data)
        inc.write(data)
        return data
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump()
            feed()
    pump()
    start = len(raw)
    tls.write(build_request("POST", "/stream/ndjson?gate=records",
                            bearer(MASTER_KEY) + [("Connection", "close")],
                            b'{"stream":true}'))
    pump()
    stub.release("records")
    body = b""
    while True:
        try:
            data = tls.read(65536)
            if not data:
                break
            body += data
        except ssl.SSLWantReadError:
            if not feed():
                break
        except ssl.SSLZeroReturnError:
            break
    s.close()
    assert b"".join(NDJSON_LINES) in body.replace(b"\r\n", b"") or \
        all(line in body for line in NDJSON_LINES), body
    records, i = [], start
    while i + 5 <= len(raw):
        records.append(raw[i])
        i += 5 + int.from_bytes(raw[i + 3:i + 5], "big")
    app = records.count(23)
    # The head (with the first chunk, or alone), one per chunk, the last
    # chunk: never a record per piece of a chunk.
    assert 2 <= app <= len(NDJSON_LINES) + 2, f"{app} records: {records}"


def test_tls_client_that_stops_reading_is_dropped(daemon_factory, certs,
                                                  pki, stub):
    """The send timeout holds with TLS: a client that asks for a huge
    download and reads nothing frees the only worker after
    --send-timeout, and the upstream transfer is abandoned."""
    d = tls_daemon(daemon_factory, certs, "--min-spare", "0",
                   "--max-spare", "1", "--max-workers", "1",
                   "--send-timeout", "2", workers=1, timeout=10)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
    raw.settimeout(10)
    raw.connect(("127.0.0.1", d.port))
    stuck = client_ctx(pki).wrap_socket(raw, server_hostname="localhost")
    stuck.sendall(build_request("GET", f"/big-download?bytes={1 << 30}",
                                bearer(MASTER_KEY)))
    t0 = time.monotonic()
    assert stub.wait_for(lambda: stub.requests_to("/big-download"), 3)
    up = stub.connection(stub.requests_to("/big-download")[0].conn_id)
    time.sleep(0.5)
    c = tls_conn(d, pki)
    c.settimeout(15)
    assert c.get("/api/tags", bearer(MASTER_KEY)).body == TAGS_BODY
    assert 1.5 <= time.monotonic() - t0 <= 4
    assert up.closed.wait(5) and up.closed_by == "peer", stub.describe()
    assert "client-slow" in d.stderr_text()
    stuck.close()


def test_tls_keepalive_and_body_timeouts(daemon_factory, certs, pki, stub):
    """The client timeouts hold over TLS: an idle kept-alive connection
    is closed after --keepalive-timeout, a stalled body gets 408."""
    d = tls_daemon(daemon_factory, certs, "--body-timeout", "1",
                   keepalive_timeout=1)
    c = tls_conn(d, pki)
    assert c.get("/api/tags", bearer(MASTER_KEY)).status == 200
    t0 = time.monotonic()
    assert c.wait_closed(4), "idle TLS connection kept open"
    assert 0.7 <= time.monotonic() - t0 <= 3
    c = tls_conn(d, pki)
    c.send(build_request("POST", "/echo", bearer(MASTER_KEY) +
                         [("Content-Length", "100")]) + b"x" * 10)
    r = c.read_response("POST")
    assert r.status == 408, r
    assert c.wait_closed(3)
