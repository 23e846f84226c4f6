"""`folio bench train`: training throughput of the trainer's settings, in one run.

Each configuration trains a fresh LoRA on the same encoded examples for a few steps (the
first step, which warms caches, is not counted), on one loaded copy of the base model, one
after the other, and reports the median step time and examples per hour. The rows:
- `before-1-thread`: the recipe the template-trained adapters were made with (rank 8 on
  attention, every block, batches of 4, one thread, float32);
- `before`: the trainer's defaults (the same, every core, float32);
- `before-auto`: the same recipe with `--precision auto` (bfloat16 where the CPU
  multiplies it natively; float32 stays the default, see desktop.train.compute);
- `now-float32`: rank 16 on attention and MLP, the top 12 blocks only, batches of 8, every
  core, in float32 (the recipe of the December 6 SQuAD adapters);
- `now`: the same, `--precision auto`;
- `top8-float32`, `top8`: the same with the top 8 blocks only (`--layers 8`), in float32 and
  with `--precision auto`; `top8` is the recipe the shipped SQuAD adapters were trained with
  (models/adapters/NAME.train.json; both passed the export's parity check).
Every configuration computes the loss on answer tokens only and batches examples of
similar length (both were already so before).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from desktop.train.job import ATTENTION, TARGETS


@dataclass(frozen=True)
class Recipe:
    label: str
    rank: int
    alpha: float
    targets: tuple[str, ...]
    layers: int
    batch_size: int
    threads: int  # 0: every core
    precision: str = "float32"


RECIPES = (
    Recipe("before-1-thread", 8, 16.0, ATTENTION, 0, 4, 1),
    Recipe("before", 8, 16.0, ATTENTION, 0, 4, 0),
    Recipe("before-auto", 8, 16.0, ATTENTION, 0, 4, 0, "auto"),
    Recipe("now-float32", 16, 32.0, TARGETS, 12, 8, 0),
    Recipe("now", 16, 32.0, TARGETS, 12, 8, 0, "auto"),
    Recipe("top8-float32", 16, 32.0, TARGETS, 8, 8, 0),
    Recipe("top8", 16, 32.0, TARGETS, 8, 8, 0, "auto"),
)


def bench_train(
    model_path: Path, examples: Path, steps: int = 6, max_seq_len: int = 512
) -> dict[str, object]:
    """Examples per hour of each recipe on the first examples of `examples`."""
    from desktop.train.compute import choose
    from desktop.train.dataset import encode_all
    from desktop.train.examples import load_examples
    from desktop.train.hf_base import load_base, set_threads
    from desktop.train.loop import LoopConfig, attach_lora, train

    base = load_base(model_path)
    wanted = max(r.batch_size for r in RECIPES) * (steps + 1)
    data = encode_all(base.tokenizer, load_examples(examples)[:wanted], max_seq_len)
    rows: dict[str, object] = {}
    for r in RECIPES:
        set_threads(r.threads)
        compute = choose(r.precision)
        model = attach_lora(base.model, r.rank, r.alpha, r.targets, 0, r.layers)
        cfg = LoopConfig(r.rank, r.alpha, r.targets, 1e-4, 1.0, steps + 1, r.batch_size, 0)
        started = time.perf_counter()
        stats = train(model, data, cfg, int(base.tokenizer.pad_token_id), compute=compute)
        model.unload()
        step_s = statistics.median(stats.step_seconds[1:])
        rows[r.label] = {
            "recipe": r.__dict__,
            "compute": compute.label,
            "steps_timed": len(stats.step_seconds) - 1,
            "median_step_s": round(step_s, 3),
            "examples_per_hour": round(3600 * r.batch_size / step_s),
            "wall_s": round(time.perf_counter() - started, 1),
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }
    set_threads(0)
    before = rows["before"]
    assert isinstance(before, dict)
    for row in rows.values():
        assert isinstance(row, dict)
        row["speedup_over_before"] = round(
            row["examples_per_hour"] / before["examples_per_hour"], 2
        )
    return {
        "examples": str(examples),
        "sequences": len(data.items),
        "median_tokens": statistics.median(len(e.input_ids) for e in data.items),
        "cpu_count": os.cpu_count(),
        "recipes": rows,
    }
