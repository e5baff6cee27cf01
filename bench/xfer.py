#!/usr/bin/python3
"""xfer.py: one large HTTP/1.1 download or upload, timed.

  xfer.py get  URL BYTES [KEY]   GET URL, read the body, count it
  xfer.py post URL BYTES [KEY]   POST BYTES of zeros with a Content-Length

Prints one JSON object: status, bytes moved, seconds and MB/s (10^6 bytes
per second, from the first byte sent to the last byte received).  An
upload's reply from ogb-upstream says how many bytes arrived; "received"
repeats it so the caller can check that nothing was lost.  Plain sockets
and a 1 MiB buffer keep the client out of the way: curl reads an upload
in 64 KiB pieces and tops out below the proxies under test.
"""
import json
import socket
import sys
import time
from urllib.parse import urlsplit

BUF = 1 << 20


def head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise OSError("connection closed in the response head")
        data += more
    h, _, rest = data.partition(b"\r\n\r\n")
    lines = h.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, rest


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mode, url, n = sys.argv[1], urlsplit(sys.argv[2]), int(sys.argv[3])
    key = sys.argv[4] if len(sys.argv) > 4 else ""
    auth = "Authorization: Bearer %s\r\n" % key if key else ""
    path = url.path + ("?" + url.query if url.query else "")
    sock = socket.create_connection((url.hostname, url.port), timeout=60)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    t0 = time.monotonic()
    out = {"mode": mode, "bytes": 0}
    if mode == "get":
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n"
                      % (path, url.netloc, auth)).encode())
        status, hdrs, rest = head(sock)
        got, buf = len(rest), bytearray(BUF)
        while True:
            k = sock.recv_into(buf)
            if k == 0:
                break
            got += k
        out.update(status=status, bytes=got)
    else:
        sock.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: "
                      "application/octet-stream\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n" % (path, url.netloc, auth, n)).encode())
        zeros, left = memoryview(bytes(BUF)), n
        try:
            while left:
                k = min(left, BUF)
                sock.sendall(zeros[:k])
                left -= k
        except OSError as e:
            out["error"] = str(e)
        out["bytes"] = n - left
        status, hdrs, rest = head(sock)
        body = rest
        while len(body) < int(hdrs.get("content-length", len(body))):
            more = sock.recv(65536)
            if not more:
                break
            body += more
        out["status"] = status
        try:
            out["received"] = json.loads(body).get("received", -1)
        except ValueError:
            out["received"] = -1
    dt = time.monotonic() - t0
    out.update(s=round(dt, 3), MBps=round(out["bytes"] / dt / 1e6, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError) as e:
        print(json.dumps({"status": 0, "bytes": 0, "s": 0, "MBps": 0, "error": str(e)}))
        sys.exit(1)
