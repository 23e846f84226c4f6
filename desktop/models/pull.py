"""Downloading a catalog model from the Hugging Face hub: the only network code in Folio.

Why not `hf_hub_download`: in huggingface_hub 1.x it streams into a process-unique
`<name>.<random>.incomplete` file and deletes it on any failure, so an interrupted download
of a 2 GB model starts again from zero. Folio keeps its own `<file>.<etag>.part` beside the
target and hands it to huggingface_hub's `http_get` with `resume_size`, which asks the
server for the rest with a `Range` header. The hub's metadata (HEAD of the resolve URL)
gives the commit, the size and the etag: for LFS files the etag is the file's sha256, for
small git files its git object id, and every download is checked against one of them.

The CLI sets `HF_HUB_OFFLINE=1`, and huggingface_hub reads it (and `HF_ENDPOINT`) once, when
its constants module is imported. So `pull` lifts offline mode for the duration of
the download only, and reads `HF_ENDPOINT` itself at call time; both touch huggingface_hub's
private state, so they live in `desktop.models.hub_internals`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers

from desktop import __version__
from desktop.cancel import CancelToken
from desktop.errors import ModelError, NetworkError
from desktop.models import verify
from desktop.models.hub_internals import HubProgress, download_into, endpoint, online
from desktop.models.spec import ModelSpec

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) as a file downloads."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")

DOWNLOAD_CHUNK = 1 << 20
"""Bytes per read while downloading. huggingface_hub's default, 10 MiB, is also the unit in
which a broken-off download keeps its progress and in which progress and cancellation are
seen: too coarse for a slow connection."""


def pull(
    spec: ModelSpec,
    dest_dir: Path,
    progress: bool = True,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Download a model's files into the models folder `dest_dir`.

    Files already there with the right sha256 are kept; an interrupted download resumes.
    Each file is checked against the catalog's sha256, or, when the catalog has none,
    against the checksum the hub reports; a file that fails is deleted.

    Args:
        spec: the catalog model.
        dest_dir: the models folder to install into.
        progress: show a tqdm progress bar on stderr.
        on_progress: called with (bytes done, total) for the file being downloaded.
        cancel: checked between chunks; a cancelled download keeps its partial file.

    Returns:
        The installed model: the GGUF file, or the embedding model's folder.

    Raises:
        NetworkError: the hub cannot be reached, or the download broke off.
        ModelError: the hub lacks the file, or it fails its checksum.
        Cancelled: `cancel` was set.
    """
    if spec.imported:
        raise ModelError(f"{spec.id} was imported from a local file; there is nothing to pull")
    if spec.derived_from is not None:
        raise ModelError(
            f"{spec.id} is made on this machine from {spec.derived_from} ({spec.quantization}), "
            "not downloaded: rerun setup (`python -m desktop.models.setup_defaults`)"
        )
    dest = Path(dest_dir)
    hub = endpoint()
    bar = _progress_class(progress, on_progress, cancel)
    with online(DOWNLOAD_CHUNK):
        for repo_path, rel, expected in spec.remote_files:
            _pull_file(spec, repo_path, dest / rel, expected, hub, bar)
    return spec.install_path(dest)


def _pull_file(
    spec: ModelSpec,
    repo_path: str,
    target: Path,
    expected: str,
    endpoint: str,
    bar: type[HubProgress],
) -> None:
    if expected and verify.matches(target, expected):
        log.info("%s is already installed and verified", target)
        return
    url = hf_hub_url(spec.repo, repo_path, revision=spec.revision, endpoint=endpoint)
    what = f"{spec.repo}/{repo_path}@{spec.revision[:12]}"
    with _translated(what, endpoint):
        meta = get_hf_file_metadata(url, token=False, endpoint=endpoint)
    if meta.commit_hash is None or meta.etag is None:
        raise NetworkError(
            f"cannot reach the model hub ({endpoint} answered without the hub's file "
            "metadata): check your connection or use `folio models import PATH`"
        )
    hub_sha = meta.etag if _SHA256.match(meta.etag) else ""
    if expected and hub_sha and hub_sha != expected:
        raise ModelError(
            f"the hub serves a different {repo_path} for {spec.id} (sha256 {hub_sha[:16]}…) than "
            f"the catalog expects ({expected[:16]}…): the catalog entry is out of date"
        )
    if not expected and not (hub_sha or _GIT_SHA1.match(meta.etag)):
        raise ModelError(
            f"cannot verify {what}: the catalog has no sha256 for it and the hub reports no "
            f"checksum (etag {meta.etag!r})"
        )
    size = meta.size
    if size is not None and spec.size and repo_path == spec.file and size != spec.size:
        raise ModelError(
            f"the hub serves {repo_path} for {spec.id} with {size} bytes, the catalog expects "
            f"{spec.size}: the catalog entry is out of date"
        )
    if not expected and target.is_file() and _matches_hub(target, meta.etag):
        return

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.{_safe(meta.etag)[:16]}.part")
    _drop_stale_parts(target, keep=part)
    done = part.stat().st_size if part.exists() else 0
    if size is not None and done > size:  # longer than the file: not ours to resume
        part.unlink()
        done = 0
    if done:
        log.info("resuming %s at %d of %s bytes", target.name, done, size)

    headers = build_hf_headers(token=False, library_name="folio", library_version=__version__)
    headers["Accept-Encoding"] = "identity"  # byte ranges must count bytes of the file itself
    with _translated(what, endpoint, part=part, size=size, spec=spec):
        with open(part, "r+b" if done else "wb") as f:
            f.seek(0, os.SEEK_END)
            download_into(
                meta.location,
                f,
                resume_size=done,
                headers=headers,
                expected_size=size,
                name=target.name,
                progress=bar,
            )

    sha256 = _check_download(spec, part, target, expected, meta.etag)
    os.replace(part, target)  # same inode and mtime: the stamp recorded below stays valid
    verify.record(target, sha256)


def _check_download(spec: ModelSpec, part: Path, target: Path, expected: str, etag: str) -> str:
    """Check a finished download against the catalog sha256, else the hub's; delete it if bad.

    Returns the file's sha256.
    """
    if expected:
        actual = verify.sha256_file(part)
        ok, reference = actual == expected, f"the catalog's sha256 {expected[:16]}…"
    elif _SHA256.match(etag):
        actual = verify.sha256_file(part)
        ok, reference = actual == etag, f"the sha256 the hub reports ({etag[:16]}…)"
    else:
        actual = verify.git_blob_sha1(part)
        ok, reference = actual == etag, f"the git object id the hub reports ({etag[:16]}…)"
    if not ok:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"the download of {target.name} for {spec.id} is corrupt and was deleted: it does "
            f"not match {reference}; run `folio models pull {spec.id}` again"
        )
    return actual if len(actual) == 64 else verify.sha256_file(part)


def _matches_hub(path: Path, etag: str) -> bool:
    """Whether a file matches the hub's etag: a sha256 (LFS files) or a git blob id."""
    if _SHA256.match(etag):
        return verify.file_sha256(path) == etag
    if _GIT_SHA1.match(etag) and verify.git_blob_sha1(path) == etag:
        verify.file_sha256(path)  # remember the sha256 for `folio models verify`
        return True
    return False


def _safe(etag: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", etag) or "x"


def _drop_stale_parts(target: Path, keep: Path) -> None:
    """Partial files of another version of the file cannot be resumed: remove them."""
    for stale in target.parent.glob(f"{_glob_escape(target.name)}.*.part"):
        if stale != keep:
            stale.unlink(missing_ok=True)


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def _translated(
    what: str,
    endpoint: str,
    *,
    part: Path | None = None,
    size: int | None = None,
    spec: ModelSpec | None = None,
) -> Iterator[None]:
    """Turn huggingface_hub and httpx failures into one-line Folio errors."""
    unreachable = "check your connection or use `folio models import PATH`"
    try:
        yield
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelError(
            f"the hub has no public repository for {what} ({_status(exc)}): "
            "the catalog entry may be out of date"
        ) from None
    except (RevisionNotFoundError, EntryNotFoundError) as exc:
        raise ModelError(
            f"the hub has no file {what} ({_status(exc)}): the catalog entry may be out of date"
        ) from None
    except HfHubHTTPError as exc:
        raise NetworkError(
            f"cannot reach the model hub ({endpoint} answered {_status(exc)}): {unreachable}"
        ) from None
    except (httpx.TransportError, OfflineModeIsEnabled, FileMetadataError) as exc:
        raise _network_error(exc, what, endpoint, part, size, spec) from None
    except OSError as exc:
        if _is_network_oserror(exc):
            raise _network_error(exc, what, endpoint, part, size, spec) from None
        if exc.errno == errno.ENOSPC:
            raise ModelError(
                f"not enough disk space for {what} in {exc.filename or part}"
            ) from None
        raise ModelError(f"cannot write the download of {what}: {exc}") from None


def _network_error(
    exc: BaseException,
    what: str,
    endpoint: str,
    part: Path | None,
    size: int | None,
    spec: ModelSpec | None,
) -> NetworkError:
    got = part.stat().st_size if part is not None and part.exists() else 0
    if got and spec is not None:
        total = f" of {size}" if size else ""
        return NetworkError(
            f"the download of {what} broke off at {got}{total} bytes ({_reason(exc)}): "
            f"run `folio models pull {spec.id}` again to resume"
        )
    return NetworkError(
        f"cannot reach the model hub ({endpoint}: {_reason(exc)}): check your connection or "
        "use `folio models import PATH`"
    )


def _is_network_oserror(exc: OSError) -> bool:
    """http_get reports a short download as a plain OSError ('Consistency check failed')."""
    return isinstance(exc, (FileMetadataError, ConnectionError)) or "Consistency check" in str(exc)


def _status(exc: BaseException) -> str:
    response: object = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return f"HTTP {code}" if code else type(exc).__name__


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _progress_class(
    show: bool, on_progress: ProgressCallback | None, cancel: CancelToken | None
) -> type[HubProgress]:
    """A tqdm class for `http_get`: optionally hidden, reporting to a callback, cancellable."""

    class _Bar(HubProgress):  # type: ignore[misc]
        def __init__(self, *args: object, initial: float | None = 0, **kwargs: object) -> None:
            if not show:
                kwargs["disable"] = True
            self._done = int(initial or 0)
            super().__init__(*args, initial=initial, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            self._done += int(n or 0)
            shown = super().update(n)
            if on_progress is not None:
                on_progress(self._done, self.total)
            if cancel is not None:
                cancel.check()
            return shown

    return _Bar
