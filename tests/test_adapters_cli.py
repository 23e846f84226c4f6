"""`folio adapters list [--json]` and `--adapter NAME[:SCALE]` parsing and application."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from desktop.adapters import install_adapter
from desktop.adapters.synth import write_lora
from desktop.cli import adapters_cmd
from desktop.cli.adapters_cmd import apply_adapter_args, parse_adapter_spec
from desktop.config import Config
from desktop.errors import AdapterError
from desktop.paths import Locations
from desktop.session import Session
from desktop.settings import Settings
from tests.conftest import require_default_model
from tests.fakes import ScriptedEngine

MODEL = require_default_model("chat")


@pytest.fixture(autouse=True)
def _only_user_adapters(only_user_adapters: None) -> None:
    """These tests are about the user's folder; the shipped demo adapters are left out."""


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("made")
    return {
        "calm": write_lora(MODEL, d / "calm.gguf", seed=1, description="Calm"),
        "wide": write_lora(MODEL, d / "wide.gguf", seed=2, mismatch=True),
    }


@pytest.fixture
def installed(made: dict[str, Path], locations: Locations) -> Path:
    user = locations.user_adapters_dir
    user.mkdir(parents=True)
    for path in made.values():
        (user / path.name).write_bytes(path.read_bytes())
    (user / "wide.toml").write_text('description = "Too wide"\n', encoding="utf-8")
    return user


def run(argv: list[str], tmp_path: Path) -> int:
    parser = argparse.ArgumentParser(prog="folio")
    parser.add_argument("--library", type=Path, default=tmp_path / "lib.sqlite")
    adapters_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_list_json_shows_compatibility(
    installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["adapters", "list", "--json"], tmp_path) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["id"] == "smollm2-135m-instruct"
    rows = {a["name"]: a for a in report["adapters"]}
    assert set(rows) == {"calm", "wide"}
    assert rows["calm"]["compatible"] is True and rows["calm"]["rank"] == 8
    assert rows["calm"]["description"] == "Calm" and rows["calm"]["source"] == "user"
    assert rows["wide"]["compatible"] is False and "does not fit" in rows["wide"]["reason"]
    assert rows["wide"]["description"] == "Too wide"


def test_list_text(installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adapters", "list"], tmp_path) == 0
    out = capsys.readouterr().out
    assert "calm" in out and " ok " in out and " NO " in out and "does not fit" in out
    assert run(["adapters"], tmp_path) == 0  # no action: list


def test_list_with_nothing_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["adapters", "list"], tmp_path) == 0
    assert "no adapters installed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calm", ("calm", 1.0)),
        ("calm:0.5", ("calm", 0.5)),
        (" calm:2 ", ("calm", 2.0)),
        ("calm:0", ("calm", 0.0)),
        (r"C:\styles\calm.gguf", (r"C:\styles\calm.gguf", 1.0)),
        (r"C:\styles\calm.gguf:1.5", (r"C:\styles\calm.gguf", 1.5)),
    ],
)
def test_parse_adapter_spec(text: str, expected: tuple[str, float]) -> None:
    assert parse_adapter_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("calm:loud", "bad adapter scale 'loud'"),
        ("calm:2.5", "from 0 to 2"),
        ("calm:-1", "from 0 to 2"),
        ("calm:nan", "from 0 to 2"),
        (":1", "missing adapter name"),
    ],
)
def test_bad_specs_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(AdapterError, match=message):
        parse_adapter_spec(text)


def test_unknown_or_repeated_names_fail_before_the_model_loads(
    installed: Path, fake_session: Session
) -> None:
    engine = fake_session.engine
    assert isinstance(engine, ScriptedEngine)
    with pytest.raises(AdapterError, match=r"unknown adapter 'clam'.*calm"):
        apply_adapter_args(fake_session, ["clam"])
    with pytest.raises(AdapterError, match="more than once: calm"):
        apply_adapter_args(fake_session, ["calm", "calm:0.5"])
    assert engine.adapter_calls == []
    apply_adapter_args(fake_session, ["calm:0.5", "wide"])
    assert engine.adapter_calls == [[("calm", 0.5), ("wide", 1.0)]]


@pytest.mark.slow
def test_apply_to_a_real_session(
    installed: Path, made: dict[str, Path], tmp_path: Path, locations: Locations
) -> None:
    config = Config.resolve(Settings(), locations, tmp_path / "lib.sqlite")
    with Session(config) as session:
        apply_adapter_args(session, ["calm:0.5", f"{made['calm']}:0"])
        assert session.engine.active_adapters == (("calm", 0.5),)
        with pytest.raises(AdapterError, match="'wide'.*does not fit"):
            apply_adapter_args(session, ["wide"])
        assert session.engine.active_adapters == (("calm", 0.5),)


def test_add_an_adapter_trained_elsewhere(
    made: dict[str, Path], tmp_path: Path, locations: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "elsewhere" / "calm.gguf"
    source.parent.mkdir()
    source.write_bytes(made["calm"].read_bytes())
    source.with_suffix(".toml").write_text('description = "Calm, from a friend"\n')
    assert run(["adapters", "add", str(source), "--json"], tmp_path) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "calm" and added["description"] == "Calm, from a friend"
    assert (locations.user_adapters_dir / "calm.toml").is_file()
    assert run(["adapters", "list", "--json"], tmp_path) == 0
    listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
    assert listed["calm"]["compatible"] is True and listed["calm"]["source"] == "user"

    wide = tmp_path / "wide.gguf"
    wide.write_bytes(made["wide"].read_bytes())
    with pytest.raises(AdapterError, match="does not fit"):
        run(["adapters", "add", str(wide)], tmp_path)
    assert not (locations.user_adapters_dir / "wide.gguf").exists()
    other = tmp_path / "other" / "calm.gguf"
    other.parent.mkdir()
    other.write_bytes(made["wide"].read_bytes())
    with pytest.raises(AdapterError, match="already installed"):
        install_adapter(other, locations.user_adapters_dir)
    with pytest.raises(AdapterError, match="is a .gguf file"):
        run(["adapters", "add", str(source.with_suffix(".toml"))], tmp_path)
