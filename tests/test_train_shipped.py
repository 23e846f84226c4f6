"""The two shipped adapters in models/adapters: they fit the default model, carry their
sidecars (with the SQuAD attribution), training records with their data recipe, and eval
results; their training data is what our own generator writes from SQuAD v1.1 through
Folio's answer path (regenerated here from ../shared when it is there)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from desktop import paths
from desktop.adapters import adapters_for_model
from desktop.models.verify import sha256_file
from desktop.paths import Locations
from desktop.train import sidecar, squad_raft
from desktop.train.styles import BULLET_FORMAT, GROUNDED_FORMAT

SHIPPED = paths.bundled_models_dir() / "adapters"
NAMES = ("bullet-brief", "grounded")
FORMATS = {"bullet-brief": BULLET_FORMAT, "grounded": GROUNDED_FORMAT}
SQUAD = Path(__file__).resolve().parents[2] / "shared/train/squad1/train-v1.1.explorer.json.gz"


def _record(name: str) -> dict[str, object]:
    record = json.loads(sidecar.train_record_path(SHIPPED / f"{name}.gguf").read_text())
    assert isinstance(record, dict)
    return record


@pytest.mark.parametrize("name", NAMES)
def test_shipped_adapter_has_everything_beside_it(name: str) -> None:
    gguf = SHIPPED / f"{name}.gguf"
    assert gguf.is_file()
    side = sidecar.read_sidecar(gguf)
    assert side["name"] == name and side["description"]
    assert side["format_regex"] == FORMATS[name]
    assert "SQuAD v1.1" in str(side["attribution"]) and "CC BY-SA 4.0" in str(side["attribution"])
    record = _record(name)
    assert str(record["command"]).startswith("folio train-adapter ")
    result = record["result"]
    assert isinstance(result, dict) and result["parity"]["passed"]
    assert len(result["losses"]) == result["steps"] and result["examples_per_hour"] > 0
    recipe = record["data_recipe"]
    assert isinstance(recipe, dict)
    assert recipe["source_sha256"] == squad_raft.SOURCE_SHA256
    assert recipe["generator"] == "desktop.train.squad_raft"
    assert (sidecar.peft_dir(gguf) / "adapter_config.json").is_file()
    measured = sidecar.read_eval(gguf, Locations.from_environment().user_adapters_dir)
    assert measured is not None and measured["adapter"] == name and measured["summary"]


def test_a_fresh_clone_offers_both(chat_model_path: Path) -> None:
    where = Locations.from_environment()
    found = adapters_for_model(chat_model_path, where.adapter_dirs, where.cache_dir)
    verdicts = {i.name: (i.source, v.ok) for i, v in found}
    for name in NAMES:
        assert verdicts[name] == ("bundled", True)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_training_data_is_our_generators_output(name: str, tmp_path: Path) -> None:
    if not SQUAD.is_file():
        pytest.skip(f"the SQuAD training set is not here ({SQUAD}); nothing to regenerate")
    recipe = _record(name)["data_recipe"]
    assert isinstance(recipe, dict)
    argv = shlex.split(str(recipe["command"]))[3:]  # after python -m desktop.train.squad_raft
    out = tmp_path / str(recipe["output"])
    args = {a: argv[i + 1] for i, a in enumerate(argv) if a.startswith("--")}
    code = squad_raft.main(
        [argv[0], "--n", args["--n"], "--seed", args["--seed"], "--squad", str(SQUAD)]
        + ["--decline-share", args.get("--decline-share", "0.2"), "--out", str(out)]
    )
    assert code == 0
    assert sha256_file(out) == recipe["output_sha256"]
