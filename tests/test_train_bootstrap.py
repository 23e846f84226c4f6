"""Setup installs the training extra for the tests, not for the app, and remembers it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "STAMP", tmp_path / "stamp")
    monkeypatch.setattr(module, "venv_python", lambda: Path(__file__))  # "exists"
    monkeypatch.delenv("FOLIO_CMAKE_ARGS", raising=False)
    return module


def _installs(calls: list[list[str]]) -> list[str]:
    return [c[c.index("-e") + 1] for c in calls if "-e" in c]


def test_test_installs_train_and_run_keeps_it(bootstrap: Any, monkeypatch: Any) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: calls.append(cmd))
    bootstrap.ensure_venv(bootstrap.EXTRAS["run"])
    assert _installs(calls) == [".[dev]"]
    calls.clear()
    bootstrap.ensure_venv(bootstrap.EXTRAS["test"])
    assert _installs(calls) == [".[dev,package,train]"]
    assert json.loads(bootstrap.STAMP.read_text())["extras"] == "dev,package,train"
    calls.clear()
    bootstrap.ensure_venv(bootstrap.EXTRAS["run"])  # covered by what is installed
    bootstrap.ensure_venv(bootstrap.EXTRAS["test"])
    assert calls == []


def test_changed_pyproject_reinstalls_with_every_extra(bootstrap: Any, monkeypatch: Any) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "run", lambda cmd, **kw: calls.append(cmd))
    bootstrap.ensure_venv(bootstrap.EXTRAS["test"])
    stamp = json.loads(bootstrap.STAMP.read_text())
    stamp["pyproject"] = "an older pyproject.toml"
    bootstrap.STAMP.write_text(json.dumps(stamp))
    calls.clear()
    bootstrap.ensure_venv(bootstrap.EXTRAS["run"])
    assert _installs(calls) == [".[dev,package,train]"]


def test_train_extra_pins_the_cpu_torch() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    train = extras["train"]
    assert "torch==2.13.0" in train  # the CPU wheel on disk; PyPI's Linux torch is CUDA
    assert any(r.startswith("transformers") for r in train)
    assert any(r.startswith("peft") for r in train)
