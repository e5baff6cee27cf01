"""
Configuration: --help, --flag=value, environment variables, the config
file, precedence flag > env > file > default, the master key file, and
errors that name file and line.
"""

import re

import pytest

from conftest import (KEY_RE, MASTER_KEY, assert_error_response,
                      free_port, log_line)
from stub_upstream import TAGS_BODY

FLAGS = ["--host", "--port", "--target-url", "--master-key",
         "--master-key-file", "--prefix", "--timeout", "--db", "--workers",
         "--config", "--backlog", "--keepalive-timeout", "--log-level"]


def assert_serves(d, key=MASTER_KEY):
    r = d.get("/api/tags", key=key)
    assert r.status == 200 and r.body == TAGS_BODY, r


def test_help_lists_every_flag(daemon_factory):
    p = daemon_factory.run(["--help"])
    assert p.returncode == 0, p.stderr
    missing = [f for f in FLAGS if f not in p.stdout]
    assert not missing, f"--help does not mention {missing}:\n{p.stdout}"


@pytest.mark.parametrize("args", [
    ["--no-such-flag", "1"],
    ["--port", "0"],
    ["--port", "65536"],
    ["--port", "abc"],
    ["--workers", "0"],
    ["--timeout", "-1"],
    ["--target-url", "ftp://127.0.0.1:1"],
    ["--host", "not-an-address"],
    ["--log-level", "loud"],
    ["--port"],
    ["stray-argument"],
], ids=lambda a: " ".join(a))
def test_bad_flags_exit_nonzero(daemon_factory, tmp_path, args):
    p = daemon_factory.run(["--db", str(tmp_path / "x.db"), *args])
    assert p.returncode != 0
    assert p.stderr.strip(), "no message on stderr"


def test_master_key_and_file_both_set_is_an_error(daemon_factory, tmp_path):
    kf = tmp_path / "mk"
    kf.write_text("abc\n")
    p = daemon_factory.run(["--master-key", "x", "--master-key-file",
                            str(kf), "--db", str(tmp_path / "x.db")])
    assert p.returncode != 0 and p.stderr.strip()


def test_flag_equals_form(daemon_factory, stub, tmp_path):
    port = free_port()
    d = daemon_factory.spawn([
        "--host=127.0.0.1", f"--port={port}", f"--target-url={stub.url}",
        f"--master-key={MASTER_KEY}", "--prefix=eq-", "--timeout=5",
        f"--db={tmp_path / 'eq.db'}", "--workers=2", "--backlog=64",
        "--keepalive-timeout=5", "--log-level=debug"],
        port=port, master_key=MASTER_KEY, prefix="eq-",
        db=str(tmp_path / "eq.db"))
    assert_serves(d)
    r = d.generate({})
    assert r.status == 200 and re.fullmatch("eq-" + KEY_RE, r.json()["key"])


def test_environment_only(daemon_factory, stub, tmp_path):
    port = free_port()
    d = daemon_factory.spawn([], env={
        "OLLAGUARD_HOST": "127.0.0.1", "OLLAGUARD_PORT": str(port),
        "TARGET_URL": stub.url, "MASTER_KEY": MASTER_KEY,
        "OLLAGUARD_PREFIX": "env-", "OLLAGUARD_TIMEOUT": "5",
        "OLLAGUARD_DB": str(tmp_path / "env.db"), "OLLAGUARD_WORKERS": "2"},
        port=port, master_key=MASTER_KEY, db=str(tmp_path / "env.db"))
    assert_serves(d)
    r = d.generate({})
    assert r.status == 200 and re.fullmatch("env-" + KEY_RE, r.json()["key"])
    assert (tmp_path / "env.db").exists(), "OLLAGUARD_DB not used"


def write_config(path, port, stub, extra=""):
    path.write_text(
        "# ollaguard test config\n"
        "\n"
        "host = 127.0.0.1\n"
        f"port = {port}   # trailing comment\n"
        f'target-url = "{stub.url}"\n'
        f"master-key = '{MASTER_KEY}'\n"
        "prefix = \"cf-\"\n"
        "workers = 2\n"
        f"db = {path.parent / 'cf.db'}\n"
        + extra)


def test_config_file(daemon_factory, stub, tmp_path):
    port = free_port()
    cfg = tmp_path / "ollaguard.conf"
    write_config(cfg, port, stub)
    d = daemon_factory.spawn(["--config", str(cfg)], port=port,
                             master_key=MASTER_KEY)
    assert_serves(d)
    r = d.generate({})
    assert r.status == 200 and re.fullmatch("cf-" + KEY_RE, r.json()["key"])
    assert (tmp_path / "cf.db").exists()


def test_config_file_from_environment(daemon_factory, stub, tmp_path):
    port = free_port()
    cfg = tmp_path / "env.conf"
    write_config(cfg, port, stub)
    d = daemon_factory.spawn([], env={"OLLAGUARD_CONFIG": str(cfg)},
                             port=port, master_key=MASTER_KEY)
    assert_serves(d)


def test_precedence_flag_env_file(daemon_factory, stub, tmp_path):
    p_file, p_env, p_flag = free_port(), free_port(), free_port()
    cfg = tmp_path / "prec.conf"
    write_config(cfg, p_file, stub)
    cfg.write_text(cfg.read_text().replace(MASTER_KEY, "mk-from-file"))
    env = {"OLLAGUARD_PORT": str(p_env), "MASTER_KEY": "mk-from-env"}

    # flag beats env beats file
    d = daemon_factory.spawn(["--config", str(cfg), "--port", str(p_flag),
                              "--master-key", "mk-from-flag"],
                             env=env, port=p_flag)
    assert_serves(d, "mk-from-flag")
    assert_error_response(d.get("/api/tags", key="mk-from-env"), 401)
    assert_error_response(d.get("/api/tags", key="mk-from-file"), 401)
    d.stop()

    # env beats file
    d = daemon_factory.spawn(["--config", str(cfg)], env=env, port=p_env)
    assert_serves(d, "mk-from-env")
    assert_error_response(d.get("/api/tags", key="mk-from-file"), 401)
    d.stop()

    # file beats default
    d = daemon_factory.spawn(["--config", str(cfg)], port=p_file)
    assert_serves(d, "mk-from-file")


@pytest.mark.parametrize("content", ["s3cret-key\n", "s3cret-key",
                                     "s3cret-key\r\n"],
                         ids=["newline", "no-newline", "crlf"])
def test_master_key_file(daemon_factory, tmp_path, content):
    kf = tmp_path / "master.key"
    kf.write_text(content)
    d = daemon_factory(master_key=None,
                       extra_args=["--master-key-file", str(kf)])
    assert_serves(d, "s3cret-key")
    assert_error_response(d.get("/api/tags", key="s3cret-ke"), 401)
    r = d.generate({}, key="s3cret-key")
    assert r.status == 200, r


def test_master_key_file_from_environment(daemon_factory, tmp_path):
    kf = tmp_path / "master.key"
    kf.write_text("env-file-key\n")
    d = daemon_factory(master_key=None, env={"MASTER_KEY_FILE": str(kf)})
    assert_serves(d, "env-file-key")


@pytest.mark.parametrize("body,line", [
    ("host = 127.0.0.1\nport = 4000\nno-such-setting = 1\n", 3),
    ("# c\nport = abc\n", 2),
    ("\n\n\nworkers = 0\n", 4),
    ("target-url = ftp://x\n", 1),
    ("port 4000\n", 1),
    ('prefix = "unterminated\n', 1),
    ("log-level = loud\n", 1),
], ids=["unknown", "bad-port", "bad-workers", "bad-url", "no-equals",
        "unterminated", "bad-log-level"])
def test_config_errors_name_file_and_line(daemon_factory, tmp_path, body,
                                          line):
    cfg = tmp_path / "bad.conf"
    cfg.write_text(body)
    p = daemon_factory.run(["--config", str(cfg), "--db",
                            str(tmp_path / "x.db")])
    assert p.returncode != 0
    assert f"{cfg}:{line}:" in p.stderr, \
        f"stderr does not say {cfg}:{line}: -- {p.stderr!r}"


def test_missing_config_file_is_an_error(daemon_factory, tmp_path):
    p = daemon_factory.run(["--config", str(tmp_path / "nope.conf")])
    assert p.returncode != 0
    assert "nope.conf" in p.stderr


# ---------------------------------------------------------------------------
# What a first try found (issue 15): a target URL libcurl cannot use, the
# credentials a URL may carry, authentication left off, the db path.


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://[::1",
                                 "http://127.0.0.1:0"])
def test_unusable_target_url_is_refused_at_start_and_by_check(
        daemon_factory, tmp_path, url):
    """A URL the proxy's libcurl would reject on every request is refused
    when the daemon starts, the same way --check-config refuses it."""
    port = free_port()
    start = daemon_factory.run(["--host", "127.0.0.1", "--port", str(port),
                                "--target-url", url, "--master-key",
                                MASTER_KEY, "--db", str(tmp_path / "t.db")])
    assert start.returncode == 1, (start.stdout, start.stderr)
    check = daemon_factory.run(["--check-config", "--target-url", url,
                                "--master-key", MASTER_KEY, "--db",
                                str(tmp_path / "t.db")])
    assert check.returncode == 1, (check.stdout, check.stderr)
    for p in (start, check):
        assert "target-url" in p.stderr and url in p.stderr, p.stderr
    assert start.stderr.splitlines()[-1] == check.stderr.splitlines()[-1]


def test_target_url_credentials_are_redacted(daemon_factory, stub, tmp_path):
    """user:password in the target URL is sent upstream as Basic auth
    but never shown: not in the log, not by --check-config, not in an
    error about the URL."""
    url = stub.url.replace("http://", "http://alice:s3cret-pw@")
    shown = stub.url.replace("http://", "http://alice:***@")
    d = daemon_factory(target_url=url)
    assert_serves(d)
    assert stub.requests[-1].header("Authorization").startswith("Basic ")
    check = daemon_factory.run(["--check-config", "--target-url", url,
                                "--db", str(tmp_path / "c.db")])
    assert check.returncode == 0, check.stderr
    assert f'target-url = "{shown}"' in check.stdout.splitlines()
    bad = daemon_factory.run(["--check-config", "--target-url",
                              url + ":99999", "--db", str(tmp_path / "c.db")])
    assert bad.returncode == 1 and "alice:***@" in bad.stderr, bad.stderr
    d.stop()
    for text in (d.stderr_text(), check.stdout, check.stderr, bad.stderr):
        assert "s3cret-pw" not in text
    assert f"forwarding to {shown}" in d.stderr_text()


def test_check_config_says_when_authentication_is_off(daemon_factory,
                                                      tmp_path):
    off = daemon_factory.run(["--check-config", "--db",
                              str(tmp_path / "off.db")])
    assert off.returncode == 0, off.stderr
    assert "AUTHENTICATION IS OFF" in off.stdout, off.stdout
    assert "--master-key-file" in off.stderr, off.stderr
    on = daemon_factory.run(["--check-config", "--db",
                             str(tmp_path / "off.db"), "--master-key",
                             MASTER_KEY])
    assert on.returncode == 0, on.stderr
    assert "AUTHENTICATION IS OFF" not in on.stdout + on.stderr
    assert on.stdout.splitlines()[-1] == "# configuration OK"


def test_startup_warning_points_to_the_key_file(daemon_factory):
    d = daemon_factory(master_key=None)
    # The line comes just after the port opens: wait for it.
    line = log_line(d, "AUTHENTICATION IS OFF")
    assert line, d.stderr_text()
    assert "--master-key-file" in line and "MASTER_KEY_FILE" in line
    assert "Set --master-key " not in line


def test_db_path_is_normalised(daemon_factory, tmp_path):
    (tmp_path / "sub").mkdir()
    p = daemon_factory.run(["--check-config", "--master-key", MASTER_KEY,
                            "--db", "./sub/../ollaguard.db"])
    assert p.returncode == 0, p.stderr
    assert f'db = "{tmp_path.resolve()}/ollaguard.db"' in \
        p.stdout.splitlines(), p.stdout
    assert "/./" not in p.stdout and "/../" not in p.stdout


@pytest.mark.parametrize("how", ["flag", "flag-equals", "env", "file",
                                 "key-file-flag", "key-file-env"])
def test_empty_master_key_is_an_error(daemon_factory, tmp_path, how):
    """An empty master key would silently mean "no master key" (and with
    no key in the database, no authentication): it is refused at start,
    and the message names the setting, never a key."""
    db = ["--db", str(tmp_path / "x.db")]
    env = None
    if how == "flag":
        args = ["--master-key", ""]
    elif how == "flag-equals":
        args = ["--master-key="]
    elif how == "env":
        args, env = [], {"MASTER_KEY": ""}
    elif how == "file":
        cfg = tmp_path / "ollaguard.conf"
        cfg.write_text('master-key = ""\n')
        args = ["--config", str(cfg)]
    elif how == "key-file-flag":
        args = ["--master-key-file", ""]
    else:
        args, env = [], {"MASTER_KEY_FILE": ""}
    p = daemon_factory.run([*args, *db], env=env)
    assert p.returncode != 0, p.stderr
    assert re.search(r"master-key(-file)?: empty", p.stderr), p.stderr


def test_empty_master_key_on_reload_keeps_the_old_one(daemon_factory, stub,
                                                      tmp_path):
    import signal
    from conftest import log_line

    port = free_port()
    cfg = tmp_path / "ollaguard.conf"
    base = (f"host = 127.0.0.1\nport = {port}\ntarget-url = {stub.url}\n"
            f"db = {tmp_path / 'r.db'}\n")
    cfg.write_text(base + "master-key = mk-before-reload\n")
    d = daemon_factory.spawn(["--config", str(cfg)], port=port)
    assert_serves(d, "mk-before-reload")
    cfg.write_text(base + 'master-key = ""\n')
    d.proc.send_signal(signal.SIGHUP)
    line = log_line(d, r"reload failed")
    assert line and "master-key: empty" in line, d.stderr_text()
    assert d.alive()
    assert_serves(d, "mk-before-reload")
    assert_error_response(d.get("/api/tags", key=None), 401)
