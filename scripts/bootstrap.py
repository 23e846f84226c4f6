#!/usr/bin/env python3
"""Set up whatever is missing, then launch Folio or run its test suite.

    python3 scripts/bootstrap.py run [FOLIO ARGS...]   # the app (the window; or CLI args)
    python3 scripts/bootstrap.py test [PYTEST ARGS...] # lint + the whole test suite

Idempotent: the virtual environment (.venv at the repo root) is reused while pyproject.toml
is unchanged, llama-cpp-python is compiled once per machine (pip's wheel cache keeps the
build), and the default models are only fetched if their verified copies are missing.
Only the standard library is used here, so this runs on a bare Python >= 3.10.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".folio-installed"

# llama.cpp's default build uses -march=native; on CPUs reporting AMX that build crashes on
# every multi-token batch, and a native build would not run on other people's CPUs anyway.
# GPU users override with FOLIO_CMAKE_ARGS (see README: CUDA and Metal).
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)


def say(msg: str) -> None:
    print(f"[folio setup] {msg}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list[str], **kw: object) -> None:
    result = subprocess.run(cmd, cwd=ROOT, **kw)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(f"[folio setup] failed ({result.returncode}): {' '.join(map(str, cmd))}")


def wanted_stamp() -> str:
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    h.update(os.environ.get("FOLIO_CMAKE_ARGS", PORTABLE_CMAKE_ARGS).encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - run by whatever python3 the user has
        sys.exit("Folio needs Python 3.10 or newer")
    if not venv_python().exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    if STAMP.exists() and STAMP.read_text().strip() == wanted_stamp():
        return
    started = time.monotonic()
    say("installing Folio and its dependencies (the first time compiles llama.cpp: ~8 min)")
    env = dict(os.environ)
    env["CMAKE_ARGS"] = os.environ.get("FOLIO_CMAKE_ARGS", PORTABLE_CMAKE_ARGS)
    py = str(venv_python())
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env=env)
    run([py, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], env=env)
    STAMP.write_text(wanted_stamp())
    say(f"dependencies ready in {time.monotonic() - started:.0f} s")


def ensure_models() -> None:
    run([str(venv_python()), "-m", "desktop.models.setup_defaults"])


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test", "setup"):
        print(__doc__)
        return 2
    action, rest = argv[0], argv[1:]
    started = time.monotonic()
    ensure_venv()
    ensure_models()
    say(f"setup done in {time.monotonic() - started:.1f} s")
    py = str(venv_python())
    if action == "setup":
        return 0
    if action == "run":
        return subprocess.call([py, "-m", "desktop", *rest], cwd=ROOT)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for check in ([py, "-m", "ruff", "check", "desktop", "tests", "scripts"], [py, "-m", "mypy"]):
        say("running " + " ".join(check[2:]))
        if subprocess.call(check, cwd=ROOT, env=env) != 0:
            return 1
    return subprocess.call([py, "-m", "pytest", *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
