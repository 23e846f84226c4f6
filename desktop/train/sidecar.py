"""The files beside an adapter: its sidecar (NAME.toml), training record and last eval.

- `NAME.toml` (read by adapter discovery): name, description, base model, and the
  adapter's format validator (`format_regex`) used by `folio eval adapter`.
- `NAME.train.json`: how it was trained (command, settings, steps, time, parity).
- `NAME.eval.json`: the last `folio eval adapter` result; the Style tooltip shows it. When
  the adapter's folder is read-only (a bundled install), it goes to the user's adapters
  folder instead, and the newer of the two wins.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from desktop import atomic
from desktop.json_types import JSONObject

if TYPE_CHECKING:
    from desktop.adapters.eval_record import AdapterEvalResult

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

EVALS_SUBDIR = "evals"


def toml_path(adapter: Path) -> Path:
    return Path(adapter).with_suffix(".toml")


def train_record_path(adapter: Path) -> Path:
    return Path(adapter).with_suffix(".train.json")


def peft_dir(adapter: Path) -> Path:
    """Where the PEFT weights the GGUF was exported from are kept (for `adapters parity`)."""
    return Path(adapter).with_suffix(".peft")


def sidecar_text(fields: dict[str, str]) -> str:
    """TOML for string fields (a JSON string is a valid TOML basic string)."""
    return "".join(
        f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in fields.items()
    )


def recipe_path(examples: Path) -> Path:
    """Where a generator leaves the recipe of an examples file (`X.jsonl` -> `X.recipe.json`):
    its command, input checksum, counts and the data's attribution."""
    return Path(examples).with_suffix(".recipe.json")


def read_table(path: Path, parse: Callable[[str], object], what: str) -> dict[str, object]:
    """The table a JSON or TOML file holds ({} when it is absent; unreadable ones are
    logged as `what` and read as {} too)."""
    try:
        data = parse(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s %s: %s", what, path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def read_recipe(examples: Path) -> dict[str, object]:
    """The recipe beside an examples file ({} when there is none)."""
    return read_table(recipe_path(examples), json.loads, "recipe")


def read_sidecar(adapter: Path) -> dict[str, object]:
    """The adapter's NAME.toml as a table ({} when absent or unreadable).

    Its values are whatever TOML holds (text, numbers, dates, tables); callers narrow the
    ones they use.
    """
    return read_table(toml_path(adapter), tomllib.loads, "sidecar")


def eval_paths(adapter: Path, user_adapters_dir: Path) -> list[Path]:
    """Where an adapter's last eval may be: beside it, then in the user's adapters folder
    (for adapters in a read-only place, such as the ones shipped in the bundle)."""
    stem = Path(adapter).stem
    return [
        Path(adapter).with_suffix(".eval.json"),
        user_adapters_dir / EVALS_SUBDIR / f"{stem}.eval.json",
    ]


def write_eval(adapter: Path, result: AdapterEvalResult, user_adapters_dir: Path) -> Path:
    """Store an eval result beside the adapter (or in the user's folder if that fails)."""
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    beside, user = eval_paths(adapter, user_adapters_dir)
    try:
        return atomic.write_text(beside, text)
    except OSError as exc:
        log.info("cannot write %s (%s); using %s", beside, exc, user)
        return atomic.write_text(user, text)


def read_eval(adapter: Path, user_adapters_dir: Path) -> JSONObject | None:
    """The newest stored eval result of an adapter, or None.

    A stored result is read back as free-form JSON (an older Folio may have written it).
    """
    found: list[tuple[float, JSONObject]] = []
    for path in eval_paths(adapter, user_adapters_dir):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable eval result %s: %s", path, exc)
            continue
        if isinstance(data, dict):
            found.append((mtime, data))
    return max(found, key=lambda f: f[0])[1] if found else None


def effect_line(adapter: Path, user_adapters_dir: Path) -> str:
    """The adapter's measured effect from its last eval, one line ("" if never measured)."""
    data = read_eval(adapter, user_adapters_dir)
    summary = data.get("summary") if data else None
    return summary if isinstance(summary, str) else ""
