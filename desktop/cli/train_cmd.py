"""`folio train-adapter`: teach the chat model a style from examples; `folio adapters parity`."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.cli.common import Subcommands, add_command, comma_list, print_json, session_for
from desktop.errors import AdapterError
from desktop.json_types import known_fields
from desktop.models.installed import require_local
from desktop.paths import Locations
from desktop.train.compute import PRECISIONS
from desktop.train.job import ATTENTION, TARGETS, TrainJob, TrainProgress

if TYPE_CHECKING:
    from tqdm import tqdm


def add_parser(sub: Subcommands) -> None:
    p = add_command(sub, "train-adapter", cmd_train)
    p.add_argument("--examples", type=Path, required=True, help="JSONL file of examples")
    p.add_argument("--name", required=True, help="the style's name (its file name too)")
    p.add_argument("--base", metavar="MODEL_ID", help="catalog id of the base chat model")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the examples")
    p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    p.add_argument("--max-seq-len", type=int, default=512, help="truncate longer examples")
    p.add_argument("--batch-size", type=int, default=4, help="sequences per step")
    p.add_argument(
        "--targets",
        default=",".join(ATTENTION),
        help=f"comma-separated modules to adapt, among {','.join(TARGETS)}",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--description", default="", help="one line shown in the Style tooltip")
    p.add_argument("--format-regex", default="", help="the answer format `folio eval` checks")
    p.add_argument("--out", type=Path, help="folder to install into (default: your adapters)")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter of that name")
    p.add_argument("--no-parity", action="store_true", help="skip the export check")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    p.add_argument(
        "--layers",
        type=int,
        default=0,
        help="adapt only the top N blocks: faster steps (0: all blocks, the default)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="auto: bfloat16 where the CPU or GPU multiplies it natively (1.5-1.8x faster a "
        "step here; its export once missed the parity check, so not yet the default); a "
        "CUDA GPU trains whenever there is one",
    )
    p.add_argument("--resume", action="store_true", help="continue the stopped run of this name")
    p.add_argument(
        "--restart", action="store_true", help="discard a stopped run of this name, start over"
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=20,
        metavar="N",
        help="save the run every N steps, so --resume can continue it (0: never)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_parity_parser(actions: Subcommands) -> None:
    """Register `folio adapters parity` under the `adapters` command's actions."""
    p = actions.add_parser(
        "parity",
        help="check an adapter's GGUF against the PEFT weights it was exported from",
    )
    p.add_argument("name", help="adapter name (see `folio adapters list`) or .gguf path")
    p.add_argument("--prompts", type=Path, help="JSONL conversations to compare on")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_parity)


class _StderrProgress:
    """Progress on stderr: a tqdm bar with loss and ETA on a terminal, one line per report
    otherwise (logs and pipes)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: tqdm[None] | None = None

    def __call__(self, p: TrainProgress) -> None:
        if self.tty and p.phase == "training" and not p.message and p.total_steps:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=p.total_steps, unit="step", file=sys.stderr)
            self.bar.n = p.step
            self.bar.set_postfix_str(f"loss {p.loss:.3f}, {p.examples_per_s:.2f} ex/s")
            self.bar.refresh()
            return
        self.close()
        sys.stderr.write(p.line() + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _job_from(
    args: argparse.Namespace, model_path: Path, model_id: str, where: Locations
) -> TrainJob:
    targets = tuple(comma_list(args.targets))
    command = "folio " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        # The options spelled like the job's fields (--rank, --lr, ...) pass through as they are.
        options = known_fields(TrainJob, vars(args))
        return TrainJob(
            **{
                **options,
                "model_path": model_path,
                "out_dir": args.out or where.user_adapters_dir,
                "targets": targets,
                "parity": not args.no_parity,
                "base_model_id": model_id,
                "command": command,
                "cache_dir": where.cache_dir,
            }
        )
    except ValueError as exc:
        from desktop.train.errors import TrainingError

        raise TrainingError(str(exc)) from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train a style adapter (LoRA) from examples (needs the [train] add-on).

    Train a LoRA style adapter for the chat model from JSONL examples, export it as GGUF,
    check it against the trained weights and install it.
    """
    from desktop.train.hf_base import require_training
    from desktop.train.process import train_adapter

    require_training()  # one line on how to install the add-on, before anything loads
    with session_for(args) as s:
        spec = s.catalog.get(args.base) if args.base else s.model_spec("chat")
        where = s.locations
        model_path = require_local(spec, where.models_search_path)
    job = _job_from(args, model_path, spec.id, where)
    progress = _StderrProgress()
    with _interrupt_on_sigterm():  # so the child is stopped and the staging folder removed
        try:
            result = train_adapter(job, on_progress=None if args.json else progress)
        finally:
            progress.close()
    if args.json:
        print_json(result.to_json())
        return 0
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"trained '{result.name}': {result.steps} steps in {result.seconds:.0f} s "
        f"({result.seconds_per_step:.1f} s per step, {result.examples_per_hour:.0f} examples "
        f"per hour), final loss {result.final_loss:.3f}"
    )
    if result.parity:
        from desktop.train.parity import ParityReport

        print(ParityReport.from_json(result.parity).line())
    print(f'installed {result.adapter_path}; try: folio ask "..." --adapter {result.name}')
    return 0


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while training, so clean-up code runs."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_parity(args: argparse.Namespace) -> int:
    from desktop.adapters import find_adapter
    from desktop.train.hf_base import require_training
    from desktop.train.verify import parity_of_installed

    require_training()
    with session_for(args) as s:
        where = s.locations
        info = find_adapter(args.name, where.adapter_dirs)
        if not info.readable:
            raise AdapterError(f"adapter '{info.name}' cannot be read: {info.problem}")
        model_path = require_local(s.model_spec("chat"), where.models_search_path)
    report = parity_of_installed(info.path, model_path, args.prompts, cache_dir=where.cache_dir)
    if args.json:
        print_json({"adapter": info.name, **report.to_json()})
    else:
        print(f"{info.name}: {report.line()}")
    return 0 if report.passed else 1
