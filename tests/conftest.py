"""Suite-wide guards and fixtures.

Offline is a promise, so every test runs with sockets limited to loopback: a connection to
any other address fails the test loudly. The pull test's local hub server lives on
127.0.0.1 and is the one thing allowed through.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class NetworkBlocked(AssertionError):
    """Raised when code under test tries to reach a non-loopback address."""


def _is_loopback(address: object) -> bool:
    if isinstance(address, str):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: Folio must stay offline")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"test tried to connect to {address!r}: Folio must stay offline")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host not in (None, "localhost") and not _is_loopback((host,)):
        raise NetworkBlocked(f"test tried to resolve {host!r}: Folio must stay offline")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Each test gets its own FOLIO_HOME so no test reads or writes the user's data.

    Models are still found in the repo's `models/` folder, where setup installed them.
    """
    home = tmp_path_factory.mktemp("folio_home")
    monkeypatch.setenv("FOLIO_HOME", str(home))
    monkeypatch.delenv("FOLIO_MODELS_DIR", raising=False)
    yield home


# -- the real default models, loaded once per test session ----------------------------------


def _require_default(kind: str) -> Path:
    from desktop.models.catalog import load_catalog, local_path

    spec = load_catalog().default(kind)
    path = local_path(spec)
    if path is None:
        pytest.fail(
            f"default {kind} model {spec.id} is not installed: run `python3 scripts/bootstrap.py "
            "setup` (setup always installs it, so the suite fails instead of skipping)"
        )
    return path


@pytest.fixture(scope="session")
def chat_model_path() -> Path:
    return _require_default("chat")


@pytest.fixture(scope="session")
def embedding_model_dir() -> Path:
    return _require_default("embedding")


@pytest.fixture(scope="session")
def real_embedder(embedding_model_dir: Path):  # type: ignore[no-untyped-def]
    from desktop.embed.fastembed_embedder import FastEmbedEmbedder
    from desktop.models.catalog import load_catalog

    spec = load_catalog().default("embedding")
    return FastEmbedEmbedder(spec.id, spec.fastembed_name, embedding_model_dir, spec.dim)


@pytest.fixture(scope="session")
def real_tokenizer(embedding_model_dir: Path):  # type: ignore[no-untyped-def]
    from desktop.ingest.chunker import load_tokenizer

    return load_tokenizer(embedding_model_dir)


@pytest.fixture(scope="session")
def real_engine(chat_model_path: Path):  # type: ignore[no-untyped-def]
    from desktop.engine.llm import Engine

    engine = Engine(chat_model_path, n_ctx=2048)
    yield engine
    engine.close()
