"""The LoRA training loop: PEFT adapters on the base model, AdamW, warm-up and cosine decay.

Plain PyTorch rather than a Trainer: a step is one optimizer update over one padded batch,
so progress, ETA and cancelling are exact and cheap to report between steps.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from desktop.errors import Cancelled
from desktop.train.checkpoint import Progress
from desktop.train.compute import CPU, Compute
from desktop.train.dataset import IGNORE, Batch, EncodedSet, batches, pad_batch, steps_per_epoch
from desktop.train.errors import TrainingError

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from transformers import PreTrainedModel

WARMUP_FRACTION = 0.06
MIN_LR_FRACTION = 0.1
GRAD_CLIP = 1.0


@runtime_checkable
class CausalLM(Protocol):
    """What `answer_loss` uses of the transformers model under the LoRA.

    PEFT's `get_base_model` is typed as returning a plain torch module.
    """

    def get_decoder(self) -> torch.nn.Module: ...

    def get_output_embeddings(self) -> torch.nn.Module: ...


@dataclass(frozen=True)
class LoopConfig:
    """Optimisation settings of one run (see TrainJob for their meaning)."""

    rank: int
    alpha: float
    targets: tuple[str, ...]
    lr: float
    epochs: float
    max_steps: int
    batch_size: int
    seed: int


@dataclass(frozen=True)
class StepReport:
    """What the loop knows after each optimizer step."""

    step: int
    total_steps: int
    loss: float
    seconds: float  # this step's wall time
    examples: int  # sequences in this step's batch
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class LoopStats:
    """A finished run: steps taken, loss at the end, and step times."""

    steps: int
    final_loss: float
    step_seconds: tuple[float, ...]
    losses: tuple[float, ...] = ()
    examples_seen: int = 0

    @property
    def median_step_s(self) -> float:
        return statistics.median(self.step_seconds) if self.step_seconds else 0.0


def attach_lora(
    model: PreTrainedModel,
    rank: int,
    alpha: float,
    targets: Sequence[str],
    seed: int,
    layers: int = 0,
) -> PeftModel:
    """Wrap `model` in a PEFT LoRA on `targets` (B starts at zero: the output is unchanged).

    `layers` > 0 adapts only the top that many blocks. No weight below them needs a
    gradient, so autograd records nothing there: those blocks cost a forward pass only.
    """
    import warnings

    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    # PEFT annotates lora_alpha as int, but the scaling it computes (alpha / r) takes any number.
    options: dict[str, Any] = {"r": rank, "lora_alpha": alpha, "target_modules": list(targets)}
    n_blocks = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if 0 < layers < n_blocks:
        options["layers_to_transform"] = list(range(n_blocks - layers, n_blocks))
    config = LoraConfig(**options, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PEFT asks a deprecated question
        return get_peft_model(model, config)


def planned_steps(n_items: int, batch_size: int, epochs: float, max_steps: int) -> int:
    """Optimizer steps for `epochs` passes over `n_items`, capped by `max_steps` (0: none)."""
    steps = max(1, math.ceil(steps_per_epoch(n_items, batch_size) * epochs))
    return min(steps, max_steps) if max_steps > 0 else steps


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first steps, then cosine decay to a tenth of the peak."""
    warmup = max(1, round(total * WARMUP_FRACTION))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (
        MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def answer_loss(peft_model: PeftModel, batch: Batch, compute: Compute = CPU) -> torch.Tensor:
    """Mean next-token cross-entropy over the learned (assistant) tokens of `batch`.

    The same value as the model's own `labels=` loss, but the output layer (576 x 49,152
    for the default model) runs only at the few learned positions instead of at every one:
    the prompt makes up most of each sequence, so this saves a large share of each step.
    The products run on `compute`'s device and precision; the loss is float32.
    """
    import torch.nn.functional as F

    causal_lm = peft_model.get_base_model()
    if not isinstance(causal_lm, CausalLM):
        raise TrainingError(f"cannot train a {type(causal_lm).__name__}: it is not a causal LM")
    decoder, head = causal_lm.get_decoder(), causal_lm.get_output_embeddings()
    ids = compute.tensor(batch.input_ids)
    mask = compute.tensor(batch.attention_mask)
    targets = compute.tensor(batch.labels)[:, 1:]
    learned = targets != IGNORE
    with compute.autocast():
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
        logits = head(hidden[learned])
    return F.cross_entropy(logits.float(), targets[learned])


def train(
    peft_model: PeftModel,
    data: EncodedSet,
    cfg: LoopConfig,
    pad_id: int,
    on_step: Callable[[StepReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: tuple[Progress, dict[str, object]] | None = None,
    save: Callable[[Progress, int, dict[str, object]], None] | None = None,
    save_every: int = 0,
    compute: Compute = CPU,
) -> LoopStats:
    """Train the LoRA weights of `peft_model` on `data` in place, on `compute`'s device
    (the model is moved there for the run and back to the CPU after it, however it ends).

    Args:
        resume: a checkpoint's progress and state (weights, optimizer) to continue from;
            the batches it already took are skipped, so the run goes on as if unbroken.
        save: called with (progress, total steps, state) every `save_every` steps and when
            the run is cancelled (see desktop.train.checkpoint).

    Raises:
        Cancelled: `should_stop()` became true (checked before every step).
    """
    import warnings

    peft_model.to(compute.device)
    try:
        with warnings.catch_warnings():
            # PEFT asks transformers a deprecated question on every forward pass.
            warnings.simplefilter("ignore", FutureWarning)
            return _train(
                peft_model, data, cfg, pad_id, on_step, should_stop, resume, save, save_every,
                compute,
            )  # fmt: skip
    finally:
        peft_model.to("cpu")  # where the export, the parity check and a caller's base read it


def _trainable(peft_model: PeftModel) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in peft_model.named_parameters() if p.requires_grad}


def _train(
    peft_model: PeftModel,
    data: EncodedSet,
    cfg: LoopConfig,
    pad_id: int,
    on_step: Callable[[StepReport], None] | None,
    should_stop: Callable[[], bool] | None,
    resume: tuple[Progress, dict[str, object]] | None,
    save: Callable[[Progress, int, dict[str, object]], None] | None,
    save_every: int,
    compute: Compute,
) -> LoopStats:
    import torch

    named = _trainable(peft_model)
    params = list(named.values())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    total = planned_steps(len(data.items), cfg.batch_size, cfg.epochs, cfg.max_steps)
    progress = Progress()
    if resume is not None:
        progress, state = resume
        weights = state["lora"]
        if not isinstance(weights, dict) or set(weights) != set(named):
            raise TrainingError("the saved run's weights do not match this model; use --restart")
        with torch.no_grad():
            for name, p in named.items():
                p.copy_(weights[name])
        optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]

    saved_at = progress.step  # a resumed run's state is already on disk

    def checkpoint() -> None:
        nonlocal saved_at
        if save is not None and progress.step != saved_at:
            lora = {n: p.detach().to("cpu", copy=True) for n, p in named.items()}
            save(progress, total, {"lora": lora, "optimizer": optimizer.state_dict()})
            saved_at = progress.step

    peft_model.train()
    started = time.perf_counter()
    times = progress.seconds
    seen = 0
    taken, epoch, loss_value = 0, 0, progress.losses[-1] if progress.losses else float("nan")
    while progress.step < total:
        for group in batches(data.items, cfg.batch_size, cfg.seed, epoch):
            if progress.step >= total:
                break
            if should_stop is not None and should_stop():
                checkpoint()
                raise Cancelled("training cancelled")
            taken += 1
            seen += len(group)
            if taken <= progress.step:
                continue  # taken before the run was stopped
            t0 = time.perf_counter()
            batch = pad_batch(group, pad_id)
            for g in optimizer.param_groups:
                g["lr"] = lr_at(progress.step, total, cfg.lr)
            loss = answer_loss(peft_model, batch, compute)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = float(loss.detach())
            progress.step += 1
            progress.losses.append(loss_value)
            times.append(time.perf_counter() - t0)
            recent = times[-10:]
            if on_step is not None:
                on_step(
                    StepReport(
                        step=progress.step,
                        total_steps=total,
                        loss=loss_value,
                        seconds=times[-1],
                        examples=len(group),
                        elapsed_s=time.perf_counter() - started,
                        eta_s=(total - progress.step) * sum(recent) / len(recent),
                    )
                )
            if save_every and progress.step % save_every == 0 and progress.step < total:
                checkpoint()
        epoch += 1
    peft_model.eval()
    return LoopStats(progress.step, loss_value, tuple(times), tuple(progress.losses), seen)
