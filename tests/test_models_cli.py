"""`folio models ...`: list, import and verify through the command's own parser."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from desktop import paths
from desktop.cli import models_cmd
from desktop.errors import FolioError
from desktop.paths import Locations
from tests.test_models_catalog import write_gguf


def run_cli(argv: Sequence[str]) -> int:
    """Run `folio ARGV` with only the models subcommand registered, as `desktop.cli.main`
    would: a FolioError becomes exit status 1."""
    parser = argparse.ArgumentParser(prog="folio")
    parser.add_argument("--library", type=Path, default=None)
    models_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    try:
        return int(args.func(args))
    except FolioError:
        return 1


def test_list_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["models", "list", "--json"]) == 0

    data = json.loads(capsys.readouterr().out)
    rows = {m["id"]: m for m in data["models"]}
    default_chat = rows["smollm2-135m-instruct"]
    assert default_chat["default"] and default_chat["installed"]
    assert Path(default_chat["path"]).parent == paths.bundled_models_dir()
    assert rows["qwen2.5-1.5b-instruct"]["installed"] is False
    assert rows["qwen2.5-1.5b-instruct"]["path"] is None
    assert data["search_path"][0] == str(Locations.from_environment().user_models_dir)


def test_list_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["models"]) == 0  # `folio models` alone lists

    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "smollm2-135m-instruct" in ln)
    assert line.startswith("* ") and "98.4 MB" in line and "Apache-2.0" in line
    assert str(paths.bundled_models_dir()) in line


def test_import_then_list_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_gguf(tmp_path / "mine.gguf")

    assert run_cli(["models", "import", str(source), "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["imported"] and imported["id"] == "mine"

    assert run_cli(["models", "list", "--json"]) == 0
    rows = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert rows["mine"]["installed"] and rows["mine"]["imported"]

    assert run_cli(["models", "verify", "mine", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["models"][0]["status"] == "ok"

    installed = Locations.from_environment().user_models_dir / "mine.gguf"
    with open(installed, "r+b") as f:
        f.seek(-1, 2)
        f.write(b"\xff")  # flip the last byte: same size, different content
    assert run_cli(["models", "verify", "mine"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("bad")
    assert "failed verification (mine)" in captured.err


def test_verify_an_uninstalled_model_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["models", "verify", "qwen2.5-1.5b-instruct", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["models"][0]["status"] == "not-installed"


def test_errors_are_folio_errors(tmp_path: Path) -> None:
    with pytest.raises(FolioError, match="unknown model 'nope'"):
        models_cmd.cmd_pull(argparse.Namespace(id="nope", dest=None, json=True))
    with pytest.raises(FolioError, match="no such file"):
        models_cmd.cmd_import(argparse.Namespace(path=tmp_path / "missing.gguf", json=False))


def test_through_the_folio_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop.cli import main

    assert main(["models", "list", "--json"]) == 0
    assert {m["id"] for m in json.loads(capsys.readouterr().out)["models"]} >= {
        "smollm2-135m-instruct",
        "all-minilm-l6-v2-int8",
    }
    assert main(["models", "pull", "nope"]) == 1
    assert capsys.readouterr().err.startswith("folio: error: unknown model 'nope'")
