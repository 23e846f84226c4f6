#!/usr/bin/env python3
"""Set up whatever is missing, then launch Folio or run its test suite.

    python3 scripts/bootstrap.py run [FOLIO ARGS...]   # the app (the window; or CLI args)
    python3 scripts/bootstrap.py test [PYTEST ARGS...] # lint + the whole test suite
    python3 scripts/bootstrap.py package [build|smoke|all]  # dist/folio bundle (PyInstaller)

`test` also installs the `train` extra (torch CPU, transformers, peft), so the training tests
run; `run` and `setup` leave it out (Teach a style… then says how to add it).

`setup` and `test` also build llama.cpp's llama-server into .venv/bin (for `--engine` and its
tests; docs/server.md).

Idempotent: the virtual environment (.venv at the repo root) is reused while pyproject.toml
is unchanged, llama-cpp-python is compiled once per machine (pip's wheel cache keeps the
build), and the default models are only fetched if their verified copies are missing.
Only the standard library is used here, so this runs on a bare Python >= 3.10.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
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


# Kept equal to the pin in pyproject.toml (checked by tests/test_bootstrap.py).
LLAMA_REQUIREMENT = "llama-cpp-python==0.3.36"


def say(msg: str) -> None:
    print(f"[folio setup] {msg}", flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list[str], **kw: object) -> None:
    result = subprocess.run(cmd, cwd=ROOT, **kw)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(f"[folio setup] failed ({result.returncode}): {' '.join(map(str, cmd))}")


def cmake_args() -> str:
    return os.environ.get("FOLIO_CMAKE_ARGS", PORTABLE_CMAKE_ARGS)


# The optional extras each action needs; the environment keeps every extra once installed.
# The tests include training (`train`: torch CPU, transformers, peft) and the bundle's
# checks (`package`); the app itself needs neither.
EXTRAS = {
    "run": ("dev",),
    "setup": ("dev",),
    "test": ("dev", "train", "package"),
    "package": ("package",),
}


def wanted_stamp(extras: tuple[str, ...]) -> dict[str, str]:
    return {
        "pyproject": hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
        "cmake_args": cmake_args(),
        "python": sys.version,
        "extras": ",".join(sorted(set(extras))),
    }


def read_stamp() -> dict[str, str]:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def ensure_venv(extras: tuple[str, ...]) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - run by whatever python3 the user has
        sys.exit("Folio needs Python 3.10 or newer")
    if not venv_python().exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = read_stamp()
    had = tuple(e for e in stamp.get("extras", "").split(",") if e)
    wanted = wanted_stamp(had + extras)
    if stamp == wanted:
        return
    started = time.monotonic()
    say("installing Folio and its dependencies (the first time compiles llama.cpp: ~8 min)")
    env = dict(os.environ, CMAKE_ARGS=cmake_args())
    py = str(venv_python())
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env=env)
    if stamp and stamp.get("cmake_args") != wanted["cmake_args"]:
        # pip keeps an installed llama-cpp-python and its cached wheel whatever CMAKE_ARGS
        # says, so a new build (CUDA, Metal) must be forced past both.
        say("llama.cpp build flags changed: rebuilding llama-cpp-python")
        run(
            [
                py,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--force-reinstall",
                "--no-deps",
                "--no-cache-dir",
                LLAMA_REQUIREMENT,
            ],
            env=env,
        )
    run([py, "-m", "pip", "install", "--quiet", "-e", f".[{wanted['extras']}]"], env=env)
    STAMP.write_text(json.dumps(wanted))
    say(f"dependencies ready in {time.monotonic() - started:.0f} s")


# llama.cpp's OpenAI-compatible server, built from the very llama.cpp that llama-cpp-python
# vendors (its source distribution carries tools/server), for `--engine` and its tests.
# Static, so the one file in .venv/bin is the whole server. Without its web UI: by default
# llama.cpp's build downloads the prebuilt UI from huggingface.co (tools/ui, LLAMA_USE_PREBUILT_UI
# ON), which setup must not do; Folio only uses the server's HTTP API.
SERVER_CMAKE_ARGS = (
    "-DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
    "-DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DBUILD_SHARED_LIBS=OFF "
    "-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DCMAKE_BUILD_TYPE=Release"
)
SERVER_STAMP = VENV / ".folio-llama-server"


def llama_server_path() -> Path:
    return VENV / ("Scripts/llama-server.exe" if os.name == "nt" else "bin/llama-server")


def server_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "folio" / "llama-server"


def ensure_llama_server() -> None:
    """Build llama-server into the venv once (about 10 minutes on 2 cores); the sources and
    the build folder stay in the user's cache, so a new venv only copies the binary."""
    flags = f"{cmake_args()} {SERVER_CMAKE_ARGS}"
    wanted = {"requirement": LLAMA_REQUIREMENT, "cmake_args": flags}
    target = llama_server_path()
    try:
        if target.is_file() and json.loads(SERVER_STAMP.read_text()) == wanted:
            return
    except (OSError, ValueError):
        pass
    if not shutil.which("cmake"):
        say("cmake not found: skipping llama-server (only `--engine` with a local server needs it)")
        return
    started = time.monotonic()
    cache = server_cache()
    version = LLAMA_REQUIREMENT.split("==")[1]
    source = cache / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not (source / "tools" / "server").is_dir():
        say(f"fetching the llama.cpp sources of {LLAMA_REQUIREMENT}")
        cache.mkdir(parents=True, exist_ok=True)
        run(
            [str(venv_python()), "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", LLAMA_REQUIREMENT, "-d", str(cache)]
        )  # fmt: skip
        with tarfile.open(cache / f"llama_cpp_python-{version}.tar.gz") as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12
                tar.extractall(cache, filter="data")
            else:  # pragma: no cover
                tar.extractall(cache)  # noqa: S202 - PyPI's own sdist of the pinned version
    build = cache / "build"
    flags_file = cache / "build-flags.txt"
    if build.exists() and (not flags_file.is_file() or flags_file.read_text() != flags):
        shutil.rmtree(build)  # other flags: a clean build, not a mix
    say("building llama-server (the first time takes ~10 min)")
    run(["cmake", "-S", str(source), "-B", str(build), *flags.split()], stdout=subprocess.DEVNULL)
    flags_file.write_text(flags)
    jobs = str(os.cpu_count() or 2)
    run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs])
    built = build / "bin" / target.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, target)
    SERVER_STAMP.write_text(json.dumps(wanted))
    say(f"llama-server ready at {target} in {time.monotonic() - started:.0f} s")


def ensure_models() -> None:
    run([str(venv_python()), "-m", "desktop.models.setup_defaults"])


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__)
        return 2
    action, rest = argv[0], argv[1:]
    started = time.monotonic()
    ensure_venv(EXTRAS[action])
    ensure_models()
    if action in ("setup", "test"):
        ensure_llama_server()
    say(f"setup done in {time.monotonic() - started:.1f} s")
    py = str(venv_python())
    if action == "setup":
        return 0
    if action == "run":
        return subprocess.call([py, "-m", "desktop", *rest], cwd=ROOT)
    if action == "package":
        return subprocess.call([py, "packaging/build.py", *(rest or ["all"])], cwd=ROOT)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    lint = [py, "-m", "ruff", "check", "desktop", "tests", "scripts", "packaging"]
    for check in (lint, [py, "-m", "mypy"]):
        say("running " + " ".join(check[2:]))
        if subprocess.call(check, cwd=ROOT, env=env) != 0:
            return 1
    return subprocess.call([py, "-m", "pytest", *rest], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
