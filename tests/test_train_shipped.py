"""The two shipped adapters in models/adapters: they fit the default model, carry their
sidecars, training records and eval results, and were trained on SQuAD examples that their
committed recipe makes again (built with Folio's own prompt functions)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from desktop import paths
from desktop.adapters import adapters_for_model
from desktop.models.verify import sha256_file
from desktop.paths import Locations
from desktop.train import sidecar, squad_raft, styles
from desktop.train.examples import write_jsonl

SHIPPED = paths.bundled_models_dir() / "adapters"
NAMES = ("bullet-brief", "grounded")
FORMATS = {"bullet-brief": styles.BULLET_FORMAT, "grounded": styles.GROUNDED_FORMAT}


@pytest.mark.parametrize("name", NAMES)
def test_shipped_adapter_has_everything_beside_it(name: str) -> None:
    gguf = SHIPPED / f"{name}.gguf"
    assert gguf.is_file()
    side = sidecar.read_sidecar(gguf)
    assert side["name"] == name and side["description"]
    assert side["format_regex"] == FORMATS[name]
    record = json.loads(sidecar.train_record_path(gguf).read_text())
    assert record["command"].startswith("folio train-adapter ")
    assert record["result"]["parity"]["passed"]
    assert (sidecar.peft_dir(gguf) / "adapter_config.json").is_file()
    measured = sidecar.read_eval(gguf, Locations.from_environment().user_adapters_dir)
    assert measured is not None and measured["adapter"] == name and measured["summary"]


def test_a_fresh_clone_offers_both(chat_model_path: Path) -> None:
    where = Locations.from_environment()
    found = adapters_for_model(chat_model_path, where.adapter_dirs, where.cache_dir)
    verdicts = {i.name: (i.source, v.ok) for i, v in found}
    for name in NAMES:
        assert verdicts[name] == ("bundled", True)


def _record(name: str) -> dict[str, Any]:
    path = sidecar.train_record_path(SHIPPED / f"{name}.gguf")
    record: dict[str, Any] = json.loads(path.read_text())
    return record


@pytest.mark.parametrize("name", NAMES)
def test_squad_trained_adapters_carry_their_recipe_and_attribution(name: str) -> None:
    """An adapter trained on SQuAD ships its data's recipe (generator, command, the input's
    checksum), not the data, and carries SQuAD's CC BY-SA 4.0 attribution."""
    assert str(_record(name)["job"]["examples"]) == f"{name}.squad.jsonl"
    examples = SHIPPED / str(_record(name)["job"]["examples"])
    recipe = sidecar.read_recipe(examples)
    assert recipe["generator"] == "desktop.train.squad_raft"
    assert recipe["source_sha256"] == squad_raft.SOURCE_SHA256
    assert recipe["attribution"] == squad_raft.ATTRIBUTION
    assert sidecar.read_sidecar(SHIPPED / f"{name}.gguf")["attribution"] == squad_raft.ATTRIBUTION
    assert squad_raft.ATTRIBUTION in (SHIPPED / "README.md").read_text()
    assert not examples.exists()  # the recipe ships, not a copy of the data


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_squad_recipe_makes_the_same_examples_again(name: str, tmp_path: Path) -> None:
    """Where the SQuAD training file is at hand (../shared/train), the recipe's command
    writes the very examples the adapter was trained on (the same sha256)."""
    recipe = sidecar.read_recipe(SHIPPED / str(_record(name)["job"]["examples"]))
    source = paths.bundle_root().parent / "shared" / "train" / "squad1" / str(recipe["source"])
    if not source.is_file():
        pytest.skip(f"{source} is not on this machine")
    command = shlex.split(str(recipe["command"]))
    assert command[:3] == ["python", "-m", "desktop.train.squad_raft"]
    args = squad_raft.build_parser().parse_args(command[3:])
    assert args.kind == name
    corpus = squad_raft.load_corpus(source)
    examples, _ = squad_raft.generate(
        corpus, name, args.n, args.seed, args.decline_share, args.answer_words, args.titles
    )
    out = write_jsonl(examples, tmp_path / str(recipe["output"]))
    assert sha256_file(out) == recipe["output_sha256"]
