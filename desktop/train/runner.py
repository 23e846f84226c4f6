"""One training job from examples to an installed adapter, in the calling process.

`desktop.train.process` runs this in a child process (so torch's memory goes back to the
system when it ends); tests call it directly with a base model they loaded once.
Everything is written into a staging folder and renamed into place at the end, the GGUF
last, so a cancelled or crashed run never leaves a half-written adapter behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from desktop import atomic
from desktop.errors import Cancelled
from desktop.train import checkpoint, sidecar
from desktop.train.compute import choose as choose_compute
from desktop.train.dataset import encode_all
from desktop.train.errors import TrainingError
from desktop.train.examples import load_examples
from desktop.train.export import lora_pairs, write_gguf
from desktop.train.hf_base import BaseModel, load_base
from desktop.train.job import TrainJob, TrainProgress, TrainResult
from desktop.train.loop import LoopConfig, StepReport, attach_lora, train
from desktop.train.parity import ParityReport, check_parity, default_examples, sequences_for

Report = Callable[[TrainProgress], None]
PARITY_EXAMPLES = 2  # training examples checked besides the built-in conversations
PARITY_MAX_TOKENS = 512  # the longest sequence the parity check compares


def check_destination(job: TrainJob) -> None:
    """Refuse to overwrite an existing adapter unless the job says so.

    Raises:
        TrainingError: an adapter of that name exists and `overwrite` is false.
    """
    if job.adapter_path.exists() and not job.overwrite:
        raise TrainingError(
            f"an adapter named '{job.name}' already exists ({job.adapter_path}); "
            "choose another name or allow replacing it"
        )


def staging_dir(job: TrainJob) -> Path:
    """A fresh hidden folder beside the destination (same disk, so renames are atomic).

    Its name carries this process's id; staging folders of the same name left by processes
    that no longer run (killed outright) are removed first.
    """
    job.out_dir.mkdir(parents=True, exist_ok=True)
    prefix = f".{job.name}.training-"
    for old in job.out_dir.glob(prefix + "*"):
        pid = old.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=job.out_dir))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours to signal
    return True


def run_job(
    job: TrainJob,
    report: Report | None = None,
    should_stop: Callable[[], bool] | None = None,
    base: BaseModel | None = None,
    staging: Path | None = None,
) -> TrainResult:
    """Train, export, verify and install the adapter `job` describes.

    Args:
        report: receives progress (phases, every step, warnings).
        should_stop: polled between steps; when true the job stops with Cancelled.
        base: an already loaded base model to train on (its LoRA is removed afterwards).
        staging: the folder to write into first (default: a new one, removed at the end).

    Raises:
        ExamplesError, TrainingError: bad examples, base model or export (a sentence why).
        Cancelled: `should_stop()` became true.
    """
    started = time.perf_counter()
    say: Report = report or (lambda _p: None)
    stop = should_stop or (lambda: False)

    def phase(name: str, message: str) -> None:
        if stop():
            raise Cancelled("training cancelled")
        say(TrainProgress(name, message=message, elapsed_s=time.perf_counter() - started))

    phase("checking", f"checking {job.examples.name}")
    check_destination(job)
    resuming = checkpoint.check_start(job)
    examples = load_examples(job.examples)
    own_staging = staging is None
    callers_base = base is not None
    stage = staging_dir(job) if staging is None else Path(staging)
    peft_model = None
    try:
        if base is None:
            phase("loading", f"loading {job.model_path.name} into transformers")
            base = load_base(job.model_path)
        phase("encoding", f"encoding {len(examples)} examples")
        data = encode_all(base.tokenizer, examples, job.max_seq_len)
        warnings = [data.warning] if data.warning else []
        for w in warnings:
            phase("encoding", "warning: " + w)
        peft_model = attach_lora(base.model, job.rank, job.alpha, job.targets, job.seed, job.layers)
        compute = choose_compute(job.precision)
        cfg = LoopConfig(
            job.rank, job.alpha, job.targets, job.lr, job.epochs, job.max_steps,
            job.batch_size, job.seed,
        )  # fmt: skip
        resume = checkpoint.load(job) if resuming else None
        fingerprint = checkpoint.fingerprint(job)  # once: it hashes the examples file
        if resume is not None:
            phase("training", f"resuming at step {resume[0].step}")
        examples_done = 0
        train_started = time.perf_counter()

        def on_step(s: StepReport) -> None:
            nonlocal examples_done
            examples_done += s.examples
            rate = examples_done / max(1e-9, time.perf_counter() - train_started)
            say(
                TrainProgress(
                    "training",
                    step=s.step,
                    total_steps=s.total_steps,
                    loss=s.loss,
                    examples_per_s=rate,
                    eta_s=s.eta_s,
                    elapsed_s=time.perf_counter() - started,
                )
            )

        phase("training", f"training on {len(data.items)} examples ({compute.label})")
        stats = train(
            peft_model,
            data,
            cfg,
            int(base.tokenizer.pad_token_id),
            on_step,
            stop,
            resume=resume,
            save=lambda progress, total, state: checkpoint.save(
                job, progress, total, state, fingerprint
            ),
            save_every=job.checkpoint_every,
            compute=compute,
        )
        phase("exporting", "writing the adapter")
        staged = stage / job.adapter_path.name
        # The base named by its model file ("SmolLM2-135M-Instruct"), in the GGUF and sidecar.
        base_label = Path(job.model_path).name.split(".")[0]
        pairs = lora_pairs(peft_model)
        write_gguf(
            pairs,
            staged,
            architecture=base.architecture,
            n_head=base.n_head,
            n_head_kv=base.n_head_kv,
            name=job.name,
            description=job.description,
            base_model=base_label,
        )
        parity: ParityReport | None = None
        if job.parity:
            phase("verifying", "checking the export against the trained weights")
            checks = default_examples() + examples[:PARITY_EXAMPLES]
            # Whole sequences (up to PARITY_MAX_TOKENS), not the training truncation: the
            # export's fidelity is about the weights, and a few hundred positions are too
            # few to tell a 2-point gap from noise (one position is 0.36 % of 278).
            cap = max(job.max_seq_len, PARITY_MAX_TOKENS)
            seqs = [s[:cap] for s in sequences_for(base.tokenizer, checks)]
            parity = check_parity(
                peft_model, job.model_path, staged, seqs, job.threads or None, job.cache_dir
            )
            if not parity.passed:
                raise TrainingError(
                    "the exported adapter does not reproduce the trained one, so it was not "
                    f"installed ({parity.line()})"
                )
        # The record names the base by its file, never by a path on this machine.
        for config in peft_model.peft_config.values():
            config.base_model_name_or_path = Path(job.model_path).name
        # The embedding check would look the base model up on the hub; no embedding is trained.
        peft_model.save_pretrained(str(sidecar.peft_dir(staged)), save_embedding_layers=False)
        (sidecar.peft_dir(staged) / "README.md").unlink(missing_ok=True)  # PEFT's model card
        result = TrainResult(
            adapter_path=job.adapter_path,
            name=job.name,
            steps=stats.steps,
            examples=len(data.items),
            seconds=time.perf_counter() - started,
            seconds_per_step=stats.median_step_s,
            final_loss=stats.final_loss,
            warnings=tuple(warnings),
            parity=parity.to_json() if parity else {},
            losses=stats.losses,
            train_seconds=sum(stats.step_seconds),
            examples_seen=stats.examples_seen,
            compute=compute.label,
        )
        _write_sidecars(job, staged, base_label, result)
        phase("exporting", f"installing {job.adapter_path.name}")
        _install(stage, job)
        checkpoint.clear(job)
    finally:
        if peft_model is not None and callers_base:
            peft_model.unload()  # give the caller's base model back without the LoRA
        if own_staging:
            shutil.rmtree(stage, ignore_errors=True)
    say(TrainProgress("done", message=f"saved {job.adapter_path}", elapsed_s=result.seconds))
    return result


def _write_sidecars(job: TrainJob, staged: Path, base_name: str, result: TrainResult) -> None:
    fields = {"name": job.name, "description": job.description, "base_model": base_name}
    if job.format_regex:
        fields["format_regex"] = job.format_regex
    # Data made by a generator carries its recipe (desktop.train.squad_raft writes one), and
    # with it the licence terms the adapter inherits from its training data.
    recipe = sidecar.read_recipe(job.examples)
    if isinstance(recipe.get("attribution"), str):
        fields["attribution"] = str(recipe["attribution"])
    atomic.write_text(sidecar.toml_path(staged), sidecar.sidecar_text(fields))
    settings = {k: v for k, v in job.to_json().items() if k not in ("out_dir", "overwrite")}
    settings.update(examples=job.examples.name, model_path=job.model_path.name)
    outcome = {**result.to_json(), "adapter_path": job.adapter_path.name}
    record = {
        "command": job.command,
        "job": settings,
        "result": outcome,
        "data_recipe": recipe or None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    atomic.write_text(
        sidecar.train_record_path(staged), json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    )


def _install(stage: Path, job: TrainJob) -> None:
    """Move the staged files into `out_dir`: the companions first, the GGUF last."""
    dest_gguf = job.adapter_path
    companions = [
        sidecar.peft_dir(dest_gguf),
        sidecar.train_record_path(dest_gguf),
        sidecar.toml_path(dest_gguf),
    ]
    for dest in companions:
        src = stage / dest.name
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(src, dest)
    for old_eval in sidecar.eval_paths(dest_gguf, job.out_dir):
        old_eval.unlink(missing_ok=True)  # measured on the adapter being replaced
    os.replace(stage / dest_gguf.name, dest_gguf)
