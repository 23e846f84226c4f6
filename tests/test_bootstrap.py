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
