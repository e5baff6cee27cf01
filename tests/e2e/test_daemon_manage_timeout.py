"""
manage-timeout: a call in the policy's manage class (a model download
with /api/pull, push, create, copy, blob uploads) may be silent for much
longer than --timeout allows a generation; by default nothing cuts it.
"""

import json

import pytest

from conftest import assert_error_response

PULL = json.dumps({"model": "llama3", "stream": False}).encode()


@pytest.mark.parametrize("path", ["/api/pull", "/api/create", "/api/push",
                                  "/api/copy",
                                  "/api/blobs/sha256:0123abcd"])
def test_a_silent_pull_outlives_timeout(daemon_factory, stub, path):
    d = daemon_factory(timeout=1)
    r = d.request("POST", f"{path}?silent=2.5", body=PULL, timeout=10)
    assert r.status == 200, r
    assert r.json()["target"].startswith(path)


def test_a_silent_generate_is_cut_at_timeout(daemon_factory, stub):
    d = daemon_factory(timeout=1)
    r = d.request("POST", "/api/generate?silent=2.5", body=PULL, timeout=10)
    assert_error_response(r, 504)


def test_manage_timeout_limits_a_pull_when_set(daemon_factory, stub):
    d = daemon_factory(timeout=30, extra_args=["--manage-timeout", "1"])
    r = d.request("POST", "/api/pull?silent=2.5", body=PULL, timeout=10)
    assert_error_response(r, 504)
    r = d.request("POST", "/api/generate?silent=1.5", body=PULL, timeout=10)
    assert r.status == 200, r
