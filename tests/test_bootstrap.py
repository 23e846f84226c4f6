"""The setup script's decisions (not the slow installs themselves)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STAMP", tmp_path / "stamp")
    return module


def test_llama_pin_matches_pyproject(bootstrap) -> None:  # type: ignore[no-untyped-def]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert bootstrap.LLAMA_REQUIREMENT in deps


def test_portable_build_flags_never_native(bootstrap, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("FOLIO_CMAKE_ARGS", raising=False)
    assert "-DGGML_NATIVE=OFF" in bootstrap.cmake_args()


def test_second_setup_installs_nothing_and_new_flags_rebuild(bootstrap, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(bootstrap, "venv_python", lambda: Path(__file__))  # "exists"
    monkeypatch.delenv("FOLIO_CMAKE_ARGS", raising=False)
    bootstrap.ensure_venv(("dev",))
    assert any("-e" in c for c in calls) and json.loads(bootstrap.STAMP.read_text())
    calls.clear()
    bootstrap.ensure_venv(("dev",))
    assert calls == [], "an unchanged setup must not run pip at all"
    monkeypatch.setenv("FOLIO_CMAKE_ARGS", "-DGGML_CUDA=on -DGGML_NATIVE=OFF")
    bootstrap.ensure_venv(("dev",))
    assert any("--force-reinstall" in c and "--no-cache-dir" in c for c in calls)


def test_extras_accumulate_so_actions_do_not_fight(bootstrap, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(bootstrap, "venv_python", lambda: Path(__file__))
    monkeypatch.delenv("FOLIO_CMAKE_ARGS", raising=False)
    bootstrap.ensure_venv(bootstrap.EXTRAS["test"])
    assert [c for c in calls if "-e" in c][-1][-1] == ".[dev,package,train]"
    calls.clear()
    bootstrap.ensure_venv(bootstrap.EXTRAS["run"])  # a subset: nothing to install
    bootstrap.ensure_venv(bootstrap.EXTRAS["package"])
    assert calls == []


def test_llama_server_is_built_once(bootstrap, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    cache = tmp_path / "cache"
    source = cache / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp" / "tools" / "server"
    source.mkdir(parents=True)  # the sources already fetched: no pip download
    target = tmp_path / "venv" / "bin" / "llama-server"

    def fake_run(cmd: list[str], **kw: object) -> None:
        calls.append(cmd)
        if "--build" in cmd:  # what cmake would leave behind
            built = cache / "build" / "bin" / "llama-server"
            built.parent.mkdir(parents=True, exist_ok=True)
            built.write_text("binary")

    monkeypatch.setattr(bootstrap, "run", fake_run)
    monkeypatch.setattr(bootstrap, "server_cache", lambda: cache)
    monkeypatch.setattr(bootstrap, "llama_server_path", lambda: target)
    monkeypatch.setattr(bootstrap, "SERVER_STAMP", tmp_path / "server-stamp")
    monkeypatch.delenv("FOLIO_CMAKE_ARGS", raising=False)
    bootstrap.ensure_llama_server()
    configure = next(c for c in calls if "-S" in c)
    assert "-DGGML_NATIVE=OFF" in configure and "-DBUILD_SHARED_LIBS=OFF" in configure
    assert any("llama-server" in c for c in calls if "--build" in c)
    assert target.read_text() == "binary"
    calls.clear()
    bootstrap.ensure_llama_server()
    assert calls == [], "a second setup must not touch cmake"
    monkeypatch.setenv("FOLIO_CMAKE_ARGS", "-DGGML_NATIVE=OFF -DGGML_CUDA=on")
    bootstrap.ensure_llama_server()
    assert any("-DGGML_CUDA=on" in c for c in calls), "new flags rebuild the server"
