"""`folio models list | pull | import | verify`: the models Folio can use and their files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.cli.common import Subcommands, add_actions, config_for, print_json
from desktop.models.catalog import Catalog, load_catalog
from desktop.models.installed import SearchPath, local_path
from desktop.models.spec import ModelJSON, ModelSpec

if TYPE_CHECKING:
    from desktop.json_types import JSONObject


class ModelRow(ModelJSON):
    """One model in `folio models list --json`: its description, and where it is installed."""

    installed: bool
    path: str | None


def add_parser(sub: Subcommands) -> None:
    actions = add_actions(
        sub,
        "models",
        "list, download, import and verify models",
        "every known model, and whether it is installed",
        cmd_list,
    )
    a = actions.add_parser("pull", help="download a model from the Hugging Face hub")
    a.add_argument("id", help="model id, as `folio models list` shows it")
    a.add_argument(
        "--dest", type=Path, default=None, help="models folder (default: the user models folder)"
    )
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_pull)

    a = actions.add_parser("import", help="use your own GGUF chat model file")
    a.add_argument("path", type=Path)
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_import)

    a = actions.add_parser("verify", help="re-hash installed model files against their sha256")
    a.add_argument("ids", nargs="*", metavar="ID", help="models to check (default: all installed)")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_verify)


def _catalog(args: argparse.Namespace) -> tuple[Catalog, SearchPath, Path]:
    """The catalog with the user's imports, where models are looked for, the user's folder."""
    where = config_for(args).locations
    catalog = load_catalog(imported_from=where.user_models_dir)
    return catalog, where.models_search_path, where.user_models_dir


def _size(n: int) -> str:
    if not n:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _row(spec: ModelSpec, search_path: SearchPath) -> ModelRow:
    where = local_path(spec, search_path)
    return {**spec.to_json(), "installed": where is not None, "path": str(where) if where else None}


def cmd_list(args: argparse.Namespace) -> int:
    catalog, search_path, _ = _catalog(args)
    rows = [_row(spec, search_path) for spec in catalog]
    if args.json:
        print_json({"models": rows, "search_path": [str(p) for p in search_path]})
        return 0
    print(
        f"  {'ID':<24} {'KIND':<9} {'NAME':<32} {'SIZE':>8} {'RAM':>7}  {'LICENCE':<30} INSTALLED"
    )
    for r in rows:
        mark = "*" if r["default"] else ("+" if r["imported"] else " ")
        print(
            f"{mark} {r['id']:<24} {r['kind']:<9} {r['name']:<32} {_size(r['size']):>8} "
            f"{r['ram_gb']:>4.1f} GB  {r['license']:<30} {r['path'] or 'no'}"
        )
    print(
        "* default, + imported. Get a model: `folio models pull ID` or `folio models import PATH`"
    )
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from desktop.models.pull import pull  # the only network code: loaded only when asked for

    catalog, _, user_dir = _catalog(args)
    spec = catalog.get(args.id)
    path = pull(spec, args.dest or user_dir, progress=not args.json)
    if args.json:
        print_json({"id": spec.id, "path": str(path)})
    else:
        print(f"installed {spec.id} ({spec.name}) at {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from desktop.models.importer import import_model

    _, search_path, user_dir = _catalog(args)
    spec = import_model(args.path, user_dir)
    path = local_path(spec, search_path)
    if args.json:
        print_json({**spec.to_json(), "path": str(path) if path else None})
    else:
        print(f"imported {spec.id} ({spec.name}) at {path}; use it with chat model id {spec.id}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from desktop.models.verify import check_file

    catalog, search_path, _ = _catalog(args)
    specs = [catalog.get(i) for i in args.ids] if args.ids else list(catalog)
    report: list[JSONObject] = []
    failed: list[str] = []
    for spec in specs:
        where = local_path(spec, search_path)
        if where is None:
            if args.ids:
                failed.append(spec.id)
            report.append({"id": spec.id, "status": "not-installed", "files": []})
            continue
        models_dir = where.parent
        checks = [check_file(models_dir / rel, sha) for rel, sha in spec.local_files.items()]
        bad = [c for c in checks if c.status in ("mismatch", "missing")]
        status = "bad" if bad else ("ok" if all(c.status == "ok" for c in checks) else "unchecked")
        if bad:
            failed.append(spec.id)
        report.append(
            {
                "id": spec.id,
                "status": status,
                "path": str(where),
                "files": [
                    {
                        "path": str(c.path),
                        "status": c.status,
                        "expected": c.expected,
                        "actual": c.actual,
                    }
                    for c in checks
                ],
            }
        )
        if not args.json:
            print(f"{status:<10} {spec.id:<24} {where}")
            for c in bad:
                detail = (
                    "missing"
                    if c.status == "missing"
                    else (f"sha256 {c.actual[:16]}… instead of {c.expected[:16]}…")
                )
                print(f"           {c.path.name}: {detail}")
    if args.json:
        print_json({"ok": not failed, "models": report})
    elif not any(r["status"] != "not-installed" for r in report):
        print("no models installed")
    if failed:
        if not args.json:
            print(
                f"folio: {len(failed)} model(s) failed verification ({', '.join(failed)}): "
                "pull them again (`folio models pull ID`) or rerun setup for the defaults",
                file=sys.stderr,
            )
        return 1
    return 0
