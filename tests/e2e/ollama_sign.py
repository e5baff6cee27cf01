#!/usr/bin/env python3
"""ollama_sign: requests signed as the Ollama CLI signs them (OLLAMA_AUTH=1).

Ollama's Go client (api/client.go, auth/auth.go) signs the bytes
"METHOD,PATH?ts=UNIXTIME", where PATH is the API path without any query
and UNIXTIME the decimal seconds it also puts in the query as ts=, with
the Ed25519 key in ~/.ollama/id_ed25519, and sends

    Authorization: <pub>:<sig>

where <pub> is the second field of the key's authorized_keys line (the
standard base64, with padding, of the ssh-ed25519 wire blob) and <sig>
the standard base64 of the 64-byte signature.  No "Bearer", no body in
what is signed.

Used by the tests to make such requests:

    sign(key, "POST", "/api/chat", ts) -> (target, authorization)
    pubkey_line(key) -> "ssh-ed25519 AAAA... comment"

and from the shell:

    ollama_sign.py [--seed HEX] METHOD PATH [TS]
"""
import base64
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey)
from cryptography.hazmat.primitives.serialization import (
    Encoding, PublicFormat)


def key_from_seed(seed_hex):
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def new_key():
    return Ed25519PrivateKey.generate()


def _blob(key):
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    t = b"ssh-ed25519"
    return struct.pack(">I", len(t)) + t + struct.pack(">I", len(raw)) + raw


def pubkey_b64(key):
    return base64.b64encode(_blob(key)).decode()


def pubkey_line(key, comment="test@ollaguard"):
    return "ssh-ed25519 %s %s" % (pubkey_b64(key), comment)


def authorization(key, method, path, ts):
    """The Authorization value for METHOD PATH signed at ts."""
    msg = ("%s,%s?ts=%d" % (method, path, ts)).encode()
    sig = key.sign(msg)
    return "%s:%s" % (pubkey_b64(key), base64.b64encode(sig).decode())


def sign(key, method, path, ts=None):
    """The request target (with ts=) and the Authorization value."""
    if ts is None:
        ts = int(time.time())
    return "%s?ts=%d" % (path, ts), authorization(key, method, path, ts)


def main(argv):
    seed = None
    if len(argv) > 2 and argv[1] == "--seed":
        seed = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: ollama_sign.py [--seed HEX] METHOD PATH "
                         "[TS]\n")
        return 2
    key = key_from_seed(seed) if seed else new_key()
    ts = int(argv[3]) if len(argv) == 4 else None
    target, auth = sign(key, argv[1], argv[2], ts)
    print(pubkey_line(key))
    print(target)
    print(auth)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
