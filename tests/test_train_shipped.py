"""The two demo adapters ship in models/adapters: they fit the default model, carry their
sidecars, training records and eval results, and their training data is what our own
generator writes (built with Folio's own prompt functions, from made-up documents)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from desktop import paths
from desktop.adapters import adapters_for_model
from desktop.models.verify import sha256_file
from desktop.paths import Locations
from desktop.rag.prompt import SYSTEM_PROMPT, user_message
from desktop.train import demo_sets, sidecar, squad_raft, styles
from desktop.train.examples import load_examples, write_jsonl

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


def _squad_trained(name: str) -> bool:
    return str(_record(name)["job"]["examples"]).endswith(".squad.jsonl")


@pytest.mark.parametrize("name", NAMES)
def test_squad_trained_adapters_carry_their_recipe_and_attribution(name: str) -> None:
    """An adapter trained on SQuAD ships its data's recipe (generator, command, the input's
    checksum), not the data, and carries SQuAD's CC BY-SA 4.0 attribution."""
    if not _squad_trained(name):
        assert "attribution" not in sidecar.read_sidecar(SHIPPED / f"{name}.gguf")
        return
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
    if not _squad_trained(name):
        pytest.skip(f"{name} is trained on generated examples (checked below)")
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


@pytest.mark.parametrize("name", NAMES)
def test_training_data_is_our_generators_output(name: str) -> None:
    if _squad_trained(name):
        return  # its recipe is checked above
    gguf = SHIPPED / f"{name}.gguf"
    record = json.loads(sidecar.train_record_path(gguf).read_text())
    data = SHIPPED / record["job"]["examples"]
    shipped = load_examples(data)
    n, seed = _generator_args(data)
    fresh = demo_sets.generate(name, n, seed)
    # The answers are the generator's alone; the prompts also follow Folio's prompt code.
    assert [e.messages[-1] for e in shipped] == [e.messages[-1] for e in fresh]
    assert all(e.messages[0].content == SYSTEM_PROMPT for e in shipped), (
        "the system prompt changed since the data was made: regenerate and retrain "
        "(models/adapters/README.md has the commands)"
    )


def test_generated_prompts_follow_folios_prompt_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_sets, "SYSTEM_PROMPT", "SYSTEM")
    monkeypatch.setattr(demo_sets, "user_message", lambda q, ps: f"{len(ps)} passages; {q}")
    for kind in NAMES:
        for ex in demo_sets.generate(kind, 20, 3):
            system, user, answer = (m.content for m in ex.messages)
            assert system == "SYSTEM" and re.fullmatch(r"[1-5] passages; .+[?.]", user)
            assert styles.check_format(kind, answer)


def test_real_prompts_have_distractors_and_varied_passages() -> None:
    examples = demo_sets.generate("grounded", 200, 4)
    counts = [len(re.findall(r"^\[\d\] ", e.messages[1].content, re.M)) for e in examples]
    assert set(counts) == {1, 2, 3, 4, 5}
    refusals = sum(e.messages[2].content == styles.REFUSAL for e in examples)
    assert 0.08 < refusals / len(examples) < 0.25  # about 15%: a third made it over-refuse
    first = examples[0].messages[1].content
    assert first.endswith(user_message("Q?", [])[len("\n\nQuestion: Q?") :])


def _generator_args(data: Path) -> tuple[int, int]:
    """--n and --seed of the generator command recorded in models/adapters/README.md."""
    readme = (SHIPPED / "README.md").read_text()
    m = re.search(
        rf"demo_sets \S+ --n (\d+) --seed (\d+) \\?\s*--out models/adapters/{re.escape(data.name)}",
        readme,
    )
    assert m, f"README.md must give the command that wrote {data.name}"
    return int(m.group(1)), int(m.group(2))
