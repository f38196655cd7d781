"""The ``chanlian`` console script and its production server, as an operator runs them."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"CHANLIAN_DATA_DIR": str(tmp_path), "CHANLIAN_DEMO": "1", **extra})
    return env


def test_production_refuses_the_default_secret_key(tmp_path):
    env = _env(tmp_path)
    env.pop("CHANLIAN_DEMO")
    r = subprocess.run(
        [sys.executable, "-m", "chanlian", "serve"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode != 0
    assert "CHANLIAN_SECRET_KEY" in r.stderr


@pytest.mark.slow
def test_migrate_demo_serve_and_audit_verify(tmp_path):
    env = _env(tmp_path)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "chanlian", *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )

    assert run("migrate", "--noinput").returncode == 0
    first = run("demo")
    assert first.returncode == 0, first.stderr
    assert "operator" in first.stdout and "chanlian-demo" in first.stdout
    again = run("demo")
    assert again.returncode == 0 and "already loaded" in again.stdout
    verified = run("audit-verify")
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stderr

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chanlian", "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chanlian serve did not answer")
        assert body == b"ok"
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5)
        assert page.status == 200
        static = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/vendor/htmx.min.js", timeout=5)
        assert static.status == 200
    finally:
        server.terminate()
        out = server.communicate(timeout=20)[0]
    assert "gunicorn" in out.lower() or "Booting worker" in out, out
