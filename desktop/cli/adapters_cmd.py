"""`folio adapters list`, and the `--adapter NAME[:SCALE]` option of `folio ask`."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from desktop.adapters import (
    MAX_SCALE,
    AdapterInfo,
    adapters_for_model,
    discover,
    install_adapter,
)
from desktop.cli.common import Subcommands, add_actions, print_json, session_for
from desktop.errors import AdapterError, ModelError
from desktop.session import Session


def add_parser(sub: Subcommands) -> None:
    actions = add_actions(
        sub,
        "adapters",
        "LoRA style adapters and their fit with the chat model",
        "list adapters, showing which fit the current model",
        cmd_list,
    )
    add = actions.add_parser("add", help="add an adapter trained elsewhere (.gguf + sidecar)")
    add.add_argument("path", type=Path, help="the adapter's .gguf file")
    add.add_argument("--json", action="store_true", help="print a JSON report")
    add.set_defaults(func=cmd_add)
    from desktop.cli.train_cmd import add_parity_parser

    add_parity_parser(actions)  # `folio adapters parity NAME` lives with training


def cmd_add(args: argparse.Namespace) -> int:
    """Check the adapter against the chat model, then copy it into the user's folder."""
    with session_for(args) as s:
        from desktop.models.installed import require_local

        where = s.locations
        model = require_local(s.model_spec("chat"), where.models_search_path)
        info = install_adapter(args.path, where.user_adapters_dir, model, where.cache_dir)
    if args.json:
        print_json(info.to_json())
    else:
        print(f"added style adapter '{info.name}' ({info.path}); use it with --adapter {info.name}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        spec = s.model_spec("chat")
        where = s.locations
        dirs = where.adapter_dirs
        model_path: Path | None = None
        model_problem = ""
        try:
            from desktop.models.installed import require_local

            model_path = require_local(spec, where.models_search_path)
        except ModelError as exc:
            model_problem = str(exc)
        rows: list[tuple[AdapterInfo, bool | None, str]]
        if model_path is None:
            rows = [(info, None, f"cannot check: {model_problem}") for info in discover(dirs)]
        else:
            rows = [
                (i, v.ok, v.reason)
                for i, v in adapters_for_model(model_path, dirs, where.cache_dir)
            ]
    if getattr(args, "json", False):
        print_json(
            {
                "model": {
                    "id": spec.id,
                    "name": spec.name,
                    "path": str(model_path) if model_path else None,
                },
                "dirs": [str(d) for d, _ in dirs],
                "adapters": [
                    {**info.to_json(), "compatible": ok, "reason": reason}
                    for info, ok, reason in rows
                ],
            }
        )
        return 0
    if not rows:
        folders = " or ".join(str(d) for d, _ in dirs)
        print(f"no adapters installed; put LoRA .gguf files in {folders}")
        return 0
    print(f"Adapters for {spec.name}:")
    width = max(len(info.name) for info, _, _ in rows)
    for info, ok, reason in rows:
        mark = "ok" if ok else ("??" if ok is None else "NO")
        detail = (
            (
                f"rank {info.rank}, alpha {info.alpha:g}, {info.size_bytes / 1e6:.1f} MB, "
                f"{info.source}"
            )
            if info.readable
            else info.source
        )
        print(f"  {info.name:<{width}}  {mark:<2}  {detail}")
        if info.description:
            print(f"  {'':<{width}}      {info.description}")
        print(f"  {'':<{width}}      {reason}")
    return 0


def parse_adapter_spec(text: str) -> tuple[str, float]:
    """Split `NAME[:SCALE]` (scale 0..2, default 1) into the name and the scale.

    A `.gguf` path may stand for the name. Raises AdapterError with a readable message.
    """
    raw = text.strip()
    name, sep, tail = raw.rpartition(":")
    if not sep:
        name, scale = raw, 1.0
    else:
        try:
            scale = float(tail)
        except ValueError:
            if Path(raw).suffix.lower() == ".gguf":  # a path such as C:\\styles\\x.gguf
                name, scale = raw, 1.0
            else:
                raise AdapterError(
                    f"bad adapter scale '{tail}' in '{text}': use NAME or "
                    f"NAME:SCALE with SCALE from 0 to {MAX_SCALE:g}"
                ) from None
        else:
            if not math.isfinite(scale) or not 0.0 <= scale <= MAX_SCALE:
                raise AdapterError(
                    f"bad adapter scale '{tail}' in '{text}': the scale must "
                    f"be from 0 to {MAX_SCALE:g}"
                )
    name = name.strip()
    if not name:
        raise AdapterError(f"missing adapter name in '{text}'")
    return name, scale


def apply_adapter_args(session: Session, specs: Sequence[str]) -> None:
    """Apply `--adapter NAME[:SCALE]` options (repeatable) to `session.engine`.

    Names are checked before the model is loaded, so a typo fails fast.

    Raises:
        AdapterError: bad syntax, an unknown name, a repeated name, or an adapter that does
            not fit the chat model.
    """
    if [s.strip().lower() for s in specs] == ["none"]:
        session.engine.set_adapters([])  # the model's own style, whatever the setting says
        return
    parsed = [parse_adapter_spec(s) for s in specs]
    names = [n for n, _ in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise AdapterError(f"adapter given more than once: {', '.join(repeated)}")
    if session.settings.engine_url:  # the server's adapters: it checks the names itself
        session.engine.set_adapters(parsed)
        return
    known = {info.name for info in discover(session.locations.adapter_dirs)}
    for name in names:
        if name not in known and not (
            Path(name).suffix.lower() == ".gguf" and Path(name).expanduser().is_file()
        ):
            available = ", ".join(sorted(known)) or "none installed"
            raise AdapterError(
                f"unknown adapter '{name}' (available: {available}; see `folio adapters list`)"
            )
    refs: list[tuple[str | Path, float]] = [
        (n if n in known else Path(n).expanduser(), scale) for n, scale in parsed
    ]
    session.engine.set_adapters(refs)
