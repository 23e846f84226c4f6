"""Training on the real default model: assistant-only labels, a short run that exports an
adapter llama.cpp loads and that changes greedy output, cancelling, and the parity check
(with its negative: an export without the q/k permutation must fail it).

The transformers copy of the model is loaded once for this module (about 7 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("peft", reason="the [train] extra is not installed")

from desktop.adapters import check_compatibility, inspect  # noqa: E402
from desktop.errors import Cancelled  # noqa: E402
from desktop.train import sidecar  # noqa: E402
from desktop.train.dataset import IGNORE, encode, encode_all  # noqa: E402
from desktop.train.examples import Example, Message, write_jsonl  # noqa: E402
from desktop.train.export import lora_pairs, write_gguf  # noqa: E402
from desktop.train.hf_base import BaseModel, load_base  # noqa: E402
from desktop.train.job import TrainJob  # noqa: E402
from desktop.train.loop import attach_lora  # noqa: E402
from desktop.train.parity import (  # noqa: E402
    base_leg_key,
    check_parity,
    default_examples,
    forget_base_legs,
    sequences_for,
)
from desktop.train.runner import run_job  # noqa: E402
from desktop.train.verify import parity_of_installed  # noqa: E402

pytestmark = pytest.mark.slow

STYLE = "Zebra zebra zebra [1]"


@pytest.fixture(scope="module")
def base(chat_model_path: Path) -> BaseModel:
    return load_base(chat_model_path)


@pytest.fixture()
def lora(base: BaseModel) -> Iterator[Any]:
    """A fresh LoRA on the shared base model, removed after the test."""
    model = attach_lora(base.model, 8, 16.0, ("q_proj", "k_proj", "v_proj", "o_proj"), 0)
    yield model
    model.unload()


def _tiny_examples(tmp_path: Path, n: int = 4) -> Path:
    questions = ["Name a colour.", "Name a fruit.", "Name a river.", "Say hello."]
    return write_jsonl(
        [
            Example((Message("user", questions[i % 4]), Message("assistant", STYLE)))
            for i in range(n)
        ],
        tmp_path / "tiny.jsonl",
    )


def test_the_default_model_is_read_by_folios_own_loader(chat_model_path: Path) -> None:
    # So the parity test below checks desktop.train.gguf_llama's weights against llama.cpp
    # (transformers' loader, the fallback, gives bit-identical weights but takes 30 s).
    from desktop.adapters.gguf_parse import parse
    from desktop.train.gguf_llama import unsupported

    assert unsupported(parse(chat_model_path)) == ""


def test_only_assistant_tokens_are_learned(base: BaseModel) -> None:
    ex = Example(
        (
            Message("system", "You are terse."),
            Message("user", "First question?"),
            Message("assistant", "First answer."),
            Message("user", "Second question?"),
            Message("assistant", "Second answer."),
        )
    )
    enc = encode(base.tokenizer, ex, 512)
    assert enc is not None and not enc.truncated
    learned = [t for t, label in zip(enc.input_ids, enc.labels, strict=True) if label != IGNORE]
    text = base.tokenizer.decode(learned)
    assert text == "First answer.<|im_end|>\nSecond answer.<|im_end|>\n"
    assert all(label in (IGNORE, tok) for tok, label in zip(enc.input_ids, enc.labels, strict=True))

    long = Example((Message("user", "word " * 300), Message("assistant", "Short.")))
    # A limit inside `ex`'s second answer: `ex` is cut but kept, `long` loses its answer.
    limit = len(enc.input_ids) - 3
    cut = encode_all(base.tokenizer, [ex, long], limit)
    assert cut.dropped == 1 and cut.truncated == 1
    assert f"1 example(s) longer than {limit} tokens were truncated" in cut.warning
    assert "1 example(s) were skipped" in cut.warning


def test_answer_loss_equals_the_models_own_loss(base: BaseModel, lora: Any) -> None:
    import torch

    from desktop.train.dataset import pad_batch
    from desktop.train.loop import answer_loss

    exs = [
        Example((Message("user", q), Message("assistant", a)))
        for q, a in (("Name a colour.", "Blue, like the sea."), ("Hi?", "Hello [1]"))
    ]
    batch = pad_batch(encode_all(base.tokenizer, exs, 64).items, base.tokenizer.pad_token_id)
    with torch.no_grad():
        ours = float(answer_loss(lora, batch))
        theirs = float(
            lora(
                input_ids=torch.tensor(batch.input_ids),
                attention_mask=torch.tensor(batch.attention_mask),
                labels=torch.tensor(batch.labels),
            ).loss
        )
    assert ours == pytest.approx(theirs, rel=1e-5)


def _greedy(engine: Any, prompt: str) -> str:
    messages = [{"role": "user", "content": prompt}]
    return "".join(engine.stream_chat(messages, max_tokens=12))


def test_a_short_run_exports_an_adapter_that_changes_greedy_output(
    base: BaseModel, real_engine: Any, chat_model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "adapters"
    job = TrainJob(
        examples=_tiny_examples(tmp_path),
        name="zebra",
        model_path=chat_model_path,
        out_dir=out,
        epochs=6,
        batch_size=4,
        lr=5e-3,
        max_seq_len=48,
        description="Says zebra",
        format_regex=r"Zebra.*",
    )
    seen: list[str] = []
    result = run_job(job, report=lambda p: seen.append(p.phase), base=base)

    assert result.steps == 6 and result.examples == 4
    assert result.seconds_per_step > 0 and np.isfinite(result.final_loss)
    assert {"checking", "encoding", "training", "exporting", "verifying", "done"} <= set(seen)
    assert result.parity["passed"], result.parity
    path = out / "zebra.gguf"
    assert result.adapter_path == path
    assert sorted(p.name for p in out.iterdir()) == [
        "zebra.gguf",
        "zebra.peft",
        "zebra.toml",
        "zebra.train.json",
    ]  # fmt: skip - no staging folder or temporary file is left behind
    assert sidecar.read_sidecar(path) == {
        "name": "zebra", "description": "Says zebra", "base_model": "SmolLM2-135M-Instruct",
        "format_regex": "Zebra.*",
    }  # fmt: skip
    record = json.loads(sidecar.train_record_path(path).read_text())
    assert record["result"]["steps"] == 6 and record["job"]["rank"] == 8

    info = inspect(path)
    assert info.rank == 8 and info.alpha == 16.0 and len(info.targets) == 4 * 30
    assert check_compatibility(info, chat_model_path).ok  # Folio's own validation
    plain = _greedy(real_engine, "Name a colour.")
    real_engine.set_adapters([(path, 1.0)])
    try:
        styled = _greedy(real_engine, "Name a colour.")
    finally:
        real_engine.set_adapters([])
    assert styled != plain
    assert "zebra" in styled.lower()
    assert _greedy(real_engine, "Name a colour.") == plain

    # `folio adapters parity` recomputes it from the PEFT weights kept beside the GGUF.
    again = parity_of_installed(path, chat_model_path, base=base)
    assert again.passed and again.positions > result.parity["positions"] - 100


def test_cancelling_leaves_no_adapter(
    base: BaseModel, chat_model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "adapters"
    job = TrainJob(
        examples=_tiny_examples(tmp_path, 8),
        name="halted",
        model_path=chat_model_path,
        out_dir=out,
        batch_size=2,
        max_seq_len=128,
    )
    steps: list[int] = []
    with pytest.raises(Cancelled):
        run_job(
            job,
            report=lambda p: steps.append(p.step) if p.phase == "training" else None,
            should_stop=lambda: bool(steps) and steps[-1] >= 1,
            base=base,
        )
    # No adapter is installed and no staging folder is left: only the checkpoint that
    # `--resume` continues from.
    assert [p.name for p in out.iterdir()] == [".halted.checkpoint"]
    from peft.tuners.lora import LoraLayer

    # The caller's model is given back without the LoRA layers.
    assert not any(isinstance(m, LoraLayer) for m in base.model.modules())


def _randomize(model: Any, seed: int, magnitude: float) -> None:
    """Give every LoRA pair random weights whose effect on the logits is clearly visible."""
    import torch
    from peft.tuners.lora import LoraLayer

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoraLayer):
                a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
                a.copy_(torch.randn(a.shape, generator=gen) / a.shape[1] ** 0.5)
                b.copy_(torch.randn(b.shape, generator=gen) * magnitude / b.shape[1] ** 0.5)


def test_parity_passes_for_the_export_and_catches_a_missing_permutation(
    base: BaseModel, lora: Any, chat_model_path: Path, tmp_path: Path
) -> None:
    # 0.2: an effect of a trained adapter's size, where the missing permutation shows clearly
    # (measured: KL 0.084 broken against 0.005 good). At 0.5 the random adapter dwarfs any
    # trained one, and the base's Q4_1 rounding alone drops agreement to 92%.
    _randomize(lora, seed=1, magnitude=0.2)
    pairs = lora_pairs(lora)
    common = {
        "architecture": base.architecture,
        "n_head": base.n_head,
        "n_head_kv": base.n_head_kv,
        "name": "random",
    }
    good = write_gguf(pairs, tmp_path / "good.gguf", **common)
    broken = write_gguf(pairs, tmp_path / "broken.gguf", permute_qk=False, **common)
    seqs = sequences_for(base.tokenizer, default_examples())

    cache = tmp_path / "cache"
    ok = check_parity(lora, chat_model_path, good, seqs, cache_dir=cache)
    (kept,) = (cache / "parity-base").iterdir()  # the base-to-base reference, on disk
    written = kept.stat().st_mtime_ns
    forget_base_legs()  # so the second check must read it from there
    bad = check_parity(lora, chat_model_path, broken, seqs, cache_dir=cache)
    assert list((cache / "parity-base").iterdir()) == [kept]
    assert kept.stat().st_mtime_ns == written  # read, not measured and written again

    print(ok.line())
    print(bad.line())
    assert ok.positions == bad.positions > 500
    assert ok.passed, ok.line()
    assert ok.adapter_agreement >= 0.95
    assert ok.adapter_agreement >= ok.base_agreement - 0.02
    assert bad.base_agreement == ok.base_agreement  # the same base models on both sides
    assert not bad.passed, bad.line()
    assert bad.adapter_kl > 5 * ok.adapter_kl

    # The reference is never reused for another base: any change to a base weight, however
    # small, gives another key.
    key = base_leg_key(lora, chat_model_path, seqs)
    import torch

    weight = lora.get_base_model().get_input_embeddings().weight
    original = weight[5, 5].item()
    with torch.no_grad():
        weight[5, 5] = original + 1e-3
        try:
            assert base_leg_key(lora, chat_model_path, seqs) != key
        finally:
            weight[5, 5] = original
    assert base_leg_key(lora, chat_model_path, seqs) == key


def test_bfloat16_autocast_gives_the_float32_loss_and_gradients_in_float32(
    base: BaseModel, lora: Any
) -> None:
    import torch

    from desktop.train.compute import Compute
    from desktop.train.dataset import pad_batch
    from desktop.train.loop import answer_loss

    exs = [Example((Message("user", "Name a colour."), Message("assistant", "Blue [1].")))]
    batch = pad_batch(encode_all(base.tokenizer, exs, 64).items, base.tokenizer.pad_token_id)
    losses = {}
    for bf16 in (False, True):
        loss = answer_loss(lora, batch, Compute("cpu", bf16))
        loss.backward()
        grads = [p.grad for p in lora.parameters() if p.requires_grad]
        assert loss.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads)
        assert any(float(g.abs().sum()) > 0 for g in grads)
        lora.zero_grad()
        losses[bf16] = float(loss.detach())
    assert losses[True] == pytest.approx(losses[False], rel=0.02)
    assert losses[True] != losses[False]  # it did compute in another precision


def test_the_trainer_chooses_its_precision_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    from desktop.train.compute import choose, native_bf16

    assert choose("float32").bf16 is False and choose("bfloat16").bf16 is True
    assert choose("auto").bf16 is native_bf16(choose("auto").device)
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        choose("float16")
    with pytest.raises(ValueError, match="precision"):
        TrainJob(tmp_path / "x.jsonl", "x", tmp_path / "m.gguf", tmp_path, precision="fp8")


def test_a_stopped_run_resumes_from_its_checkpoint_with_the_same_loss_curve(
    base: BaseModel, chat_model_path: Path, tmp_path: Path
) -> None:
    from desktop.train import checkpoint
    from desktop.train.errors import TrainingError

    examples = _tiny_examples(tmp_path, 8)
    settings = dict(
        examples=examples,
        model_path=chat_model_path,
        batch_size=2,
        max_seq_len=128,
        max_steps=4,
        checkpoint_every=1,
        parity=False,
        layers=6,
    )
    # The reference: four steps without a break.
    whole = run_job(TrainJob(name="whole", out_dir=tmp_path / "a", **settings), base=base)
    assert whole.steps == 4 and len(whole.losses) == 4

    out = tmp_path / "b"
    job = TrainJob(name="halted", out_dir=out, **settings)
    steps: list[int] = []
    with pytest.raises(Cancelled):
        run_job(
            job,
            report=lambda p: steps.append(p.step) if p.phase == "training" and p.step else None,
            should_stop=lambda: len(steps) >= 2,
            base=base,
        )
    assert checkpoint.describe(job) == {
        "step": 2, "total_steps": 4, "fingerprint": checkpoint.fingerprint(job)
    }  # fmt: skip
    assert not job.adapter_path.exists()
    # Starting again without --resume does not silently throw the stopped run away.
    with pytest.raises(TrainingError, match="--resume"):
        run_job(job, base=base)
    # Other settings cannot resume it.
    other = TrainJob(name="halted", out_dir=out, **{**settings, "max_seq_len": 96}, resume=True)
    with pytest.raises(TrainingError, match="other examples or settings"):
        run_job(other, base=base)

    steps.clear()
    resumed = run_job(
        TrainJob(name="halted", out_dir=out, resume=True, **settings),
        report=lambda p: steps.append(p.step) if p.phase == "training" and p.step else None,
        base=base,
    )
    assert steps == [3, 4]  # no step is taken twice
    assert resumed.steps == 4
    assert resumed.losses == pytest.approx(whole.losses, abs=1e-4)
    assert job.adapter_path.exists() and checkpoint.describe(job) is None


def test_bench_train_measures_every_recipe_on_the_real_model(
    chat_model_path: Path, tmp_path: Path
) -> None:
    """`folio bench train`'s rows: each recipe trains for real (its loss is a number, its
    step takes time) and its speed is given against the `before` row."""
    from desktop.bench.train_speed import RECIPES, bench_train

    report = bench_train(chat_model_path, _tiny_examples(tmp_path, 32), steps=1, max_seq_len=64)
    rows = report["recipes"]
    assert isinstance(rows, dict) and list(rows) == [r.label for r in RECIPES]
    for label, row in rows.items():
        assert row["examples_per_hour"] > 0 and row["median_step_s"] > 0, label
    assert rows["before"]["speedup_over_before"] == 1.0
    assert rows["top8"]["recipe"]["layers"] == 8 and rows["top8"]["recipe"]["precision"] == "auto"
