"""
Several upstreams, configured: target-url repeated as a flag and in the
config file, TARGET_URL as a comma list, options after the URL,
--check-config printing the list, and errors that name the bad option.
One target-url keeps today's behaviour.
"""

import pytest

from conftest import MASTER_KEY
from stub_upstream import TAGS_BODY


def check(daemon_factory, tmp_path, args, env=None):
    return daemon_factory.run(["--check-config", "--db",
                               str(tmp_path / "x.db"), *args], env=env)


def upstream_lines(out):
    return [l for l in out.splitlines() if l.startswith("# upstream ")]


def test_check_config_lists_flags(daemon_factory, tmp_path):
    p = check(daemon_factory, tmp_path, [
        "--target-url", "http://gpu1:11434 name=gpu1 weight=2 max-conns=8",
        "--target-url=http://127.0.0.1:11435"])
    assert p.returncode == 0, p.stderr
    assert upstream_lines(p.stdout) == [
        "# upstream gpu1: http://gpu1:11434 weight 2 max-conns 8",
        "# upstream 127.0.0.1:11435: http://127.0.0.1:11435 weight 1 "
        "max-conns 0"]
    assert 'target-url = "http://gpu1:11434 name=gpu1 weight=2 ' \
        'max-conns=8"\n' in p.stdout


def test_check_config_file_and_environment(daemon_factory, tmp_path):
    conf = tmp_path / "o.conf"
    conf.write_text("target-url = http://a:1 name=a\n"
                    "target-url = 'http://b:2 weight=3'\n")
    p = check(daemon_factory, tmp_path, ["--config", str(conf)])
    assert p.returncode == 0, p.stderr
    assert [l.split(":")[0] for l in upstream_lines(p.stdout)] == \
        ["# upstream a", "# upstream b"]
    # The environment replaces the file's list, as it would one value.
    p = check(daemon_factory, tmp_path, ["--config", str(conf)],
              env={"TARGET_URL": "http://c:3 name=c, http://d:4 name=d"})
    assert p.returncode == 0, p.stderr
    assert [l.split(":")[0] for l in upstream_lines(p.stdout)] == \
        ["# upstream c", "# upstream d"]


@pytest.mark.parametrize("value,msg", [
    ("http://h:1 colour=red", 'unknown option "colour=red"'),
    ("http://h:1 weight=0", 'weight "0": expected 1 to 1000'),
    ("http://h:1 max-conns=x", 'max-conns "x": expected 0 to 100000'),
    ("http://h:1 name=a,b", 'name "a,b"'),
], ids=["unknown", "weight", "max-conns", "name"])
def test_bad_option_is_named(daemon_factory, tmp_path, value, msg):
    p = check(daemon_factory, tmp_path, ["--target-url", value])
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr
    assert "# configuration FAILED" in p.stdout
    # Starting fails the same way, before listening.
    p = daemon_factory.run(["--db", str(tmp_path / "x.db"),
                            "--target-url", value])
    assert p.returncode != 0 and msg in p.stderr, p.stderr


def test_same_name_twice(daemon_factory, tmp_path):
    p = check(daemon_factory, tmp_path, ["--target-url", "http://a:1 name=x",
                                         "--target-url", "http://b:1 name=x"])
    assert p.returncode != 0
    assert 'name "x" is used twice' in p.stderr, p.stderr


def test_one_upstream_with_options_serves(daemon_factory, stub):
    d = daemon_factory(target_url=f"{stub.url} name=only weight=2")
    r = d.get("/api/tags", key=MASTER_KEY)
    assert r.status == 200 and r.body == TAGS_BODY, r
