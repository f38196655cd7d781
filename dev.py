#!/usr/bin/env python3
"""The two commands, and a few more. Needs only Python 3.11+ and git.

    python3 dev.py up      # virtualenv, install, migrate, demo data, serve on http://127.0.0.1:8000 (PORT=…)
    python3 dev.py test    # the whole test suite (DATABASE_URL=postgres://… runs it on PostgreSQL)
    python3 dev.py lint    # ruff, formatting, migrations and translations up to date
    python3 dev.py bench   # the benchmarks in bench/ (figures go in docs/benchmarks.md)

Everything a command needs is installed here: the virtualenv in .venv/, and for the browser tests
Debian's chromium and fonts-wqy-microhei through apt-get when running as root on Debian.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("CHANLIAN_VENV", ROOT / ".venv"))
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
CHROMIUM = os.environ.get("CHANLIAN_CHROMIUM", "/usr/bin/chromium")


def run(*cmd, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=kw.pop("cwd", ROOT), **kw)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Chanlian needs Python 3.11 or newer.")
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
        run(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    stamp = VENV / f".chanlian-installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        target = f".[{extras}]" if extras else "."
        run(PY, "-m", "pip", "install", "-q", "-e", target)
        stamp.write_text(digest)


def chanlian(*args, env=None) -> None:
    run(PY, "-m", "chanlian", *args, env=env)


def ensure_browser() -> None:
    """Debian's chromium and a CJK font, for the Playwright tests (never a downloaded browser), and
    poppler-utils (pdftotext, pdftoppm) for the contract PDF tests."""
    have_font = (
        shutil.which("fc-list")
        and "WenQuanYi" in subprocess.run(["fc-list"], capture_output=True, text=True).stdout
    )
    if Path(CHROMIUM).exists() and have_font and shutil.which("pdftoppm"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=env)
        run(
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
            "fonts-wqy-microhei",
            "fontconfig",
            "poppler-utils",
            env=env,
        )
    else:
        print(
            f"note: {CHROMIUM} or fonts-wqy-microhei missing and apt-get unavailable as root; "
            "browser tests will be skipped (install Debian's chromium and fonts-wqy-microhei)."
        )


def cmd_up(args) -> None:
    ensure_venv("")
    env = {**os.environ, "CHANLIAN_DEMO": "1"}
    chanlian("migrate", "--noinput", env=env)
    chanlian("demo", env=env)
    chanlian("insights", "refresh", env=env)  # the cockpit's analytics store, from the demo's orders
    chanlian("insights", "index-release", "--categories", env=env)  # the price index from those orders
    port = os.environ.get("PORT", "8000")
    chanlian("serve", "--bind", f"127.0.0.1:{port}", *args, env=env)


def cmd_test(args) -> None:
    ensure_venv("dev")
    ensure_browser()
    result = subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT)
    sys.exit(result.returncode)


def cmd_lint(args) -> None:
    ensure_venv("dev")
    run(PY, "-m", "ruff", "check", "src", "tests", "bench", "dev.py")
    run(PY, "-m", "ruff", "format", "--check", "src", "tests", "bench", "dev.py")
    chanlian("makemigrations", "--check", "--dry-run")
    run(PY, "scripts/check_messages.py")


def cmd_bench(args) -> None:
    ensure_venv("dev")
    run(PY, "bench/run.py", *args)


COMMANDS = {"up": cmd_up, "test": cmd_test, "lint": cmd_lint, "bench": cmd_bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
