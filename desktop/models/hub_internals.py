"""huggingface_hub's private parts, touched here and nowhere else.

Folio's resumable download (`desktop.models.pull`) needs three things huggingface_hub does
not offer publicly: `file_download.http_get` (a ranged GET with retries that writes into a
file we own), the module constants it consults on every request (`HF_HUB_OFFLINE`,
`DOWNLOAD_CHUNK_SIZE`, `ENDPOINT`), and its tqdm class. They were written against the 1.x
series (`WRITTEN_FOR`); pyproject.toml bounds huggingface-hub to it, and
tests/test_hub_internals.py fails loudly when the installed release leaves that series or
the signatures change.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import BinaryIO

import huggingface_hub
from huggingface_hub import constants
from huggingface_hub.file_download import http_get
from huggingface_hub.utils.tqdm import tqdm as HubProgress  # noqa: N812 - a class

WRITTEN_FOR = "1."  # the major series these helpers were written for (1.33 verified)

__all__ = ["HubProgress", "WRITTEN_FOR", "download_into", "endpoint", "online", "version_problem"]

_online_lock = threading.RLock()


def version_problem() -> str | None:
    """Why these helpers may not fit the installed huggingface_hub, or None if they do."""
    found = str(huggingface_hub.__version__)
    if found.startswith(WRITTEN_FOR):
        return None
    return f"huggingface_hub {found} is installed; Folio's downloader needs {WRITTEN_FOR}x"


def endpoint() -> str:
    """The hub to download from: `HF_ENDPOINT` as set now, else huggingface_hub's default."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


@contextlib.contextmanager
def online(chunk_bytes: int) -> Iterator[None]:
    """Allow huggingface_hub to make requests for the duration, whatever HF_HUB_OFFLINE says,
    reading `chunk_bytes` at a time.

    huggingface_hub checks `constants.HF_HUB_OFFLINE` (set from the environment at import)
    before every request, and reads `constants.DOWNLOAD_CHUNK_SIZE` in each download; both
    are restored afterwards. Pulls in several threads take turns, so none restores the
    settings under another's feet.
    """
    with _online_lock:
        saved = constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE
        constants.HF_HUB_OFFLINE = False
        constants.DOWNLOAD_CHUNK_SIZE = chunk_bytes
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE = saved


def download_into(
    url: str,
    file: BinaryIO,
    *,
    resume_size: int,
    headers: Mapping[str, str],
    expected_size: int | None,
    name: str,
    progress: type[HubProgress],
) -> None:
    """GET `url` into `file`, asking only for the bytes after `resume_size` (HTTP Range)."""
    http_get(
        url,
        file,
        resume_size=resume_size,
        headers=dict(headers),
        expected_size=expected_size,
        displayed_filename=name,
        tqdm_class=progress,
    )
