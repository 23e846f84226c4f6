"""Suite-wide guards and fixtures.

Offline is a promise, so every test runs with sockets limited to loopback: a connection to
any other address fails the test loudly. The pull test's local hub server lives on
127.0.0.1 and is the one thing allowed through.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from desktop.config import Config
from desktop.models.spec import Kind
from desktop.paths import Locations, bundled_models_dir
from desktop.session import Session
from desktop.settings import Settings
from tests.fakes import HASHING_ID, SCRIPTED_ID, fake_registry

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"

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
    yield home


@pytest.fixture
def small_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells in libraries of a few thousand chunks (the real thresholds need ~100k)."""
    from desktop.library import cells

    monkeypatch.setattr(cells, "MIN_CHUNKS", 1000)
    monkeypatch.setattr(cells, "ROWS_PER_CELL", 100)
    monkeypatch.setattr(cells, "TRAIN_PER_CELL", 10)


@pytest.fixture
def only_user_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adapters are searched for in the user's folder only: the shipped demo ones left out."""
    monkeypatch.setattr(
        Locations, "adapter_dirs", property(lambda self: ((self.user_adapters_dir, "user"),))
    )


@pytest.fixture
def locations(_isolated_home: Path) -> Locations:
    """The folders of this test's Folio home (models are found in the repo's `models/`)."""
    return Locations.under(_isolated_home)


# -- fakes, registered like the real parts --------------------------------------------------


@pytest.fixture
def fake_config(locations: Locations, tmp_path: Path) -> Config:
    """Settings naming the fake embedder and engine, and a library in `tmp_path`."""
    settings = Settings(
        chat_model=SCRIPTED_ID, embedding_model=HASHING_ID, chunk_tokens=64, chunk_overlap=8
    )
    return Config.resolve(settings, locations, tmp_path / "library.sqlite")


@pytest.fixture
def fake_session(fake_config: Config) -> Iterator[Session]:
    """A Session over the fakes: real SQLite, sqlite-vec and FTS5; no model files."""
    session = Session(fake_config, fake_registry())
    yield session
    session.close()


def modules_mentioning(words: Sequence[str], allowed: str, package: str) -> list[str]:
    """`file: word` for each module under desktop/ except `allowed` that uses `package` and
    whose text has a word: how a test keeps a dependency's private API inside the one module
    written for it. (Modules that never import the package may use the same words for their
    own things, such as a training batch's `input_ids`.)"""
    found = []
    for path in DESKTOP.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name == allowed or package not in text:
            continue
        found += [f"{path.name}: {word}" for word in words if word in text]
    return found


@pytest.fixture
def open_window(qtbot):  # type: ignore[no-untyped-def]
    """Opens MainWindows over given Sessions, waits for their model, closes them after."""
    from desktop.ui.main_window import MainWindow

    opened: list[MainWindow] = []

    def make(session: Session, model_timeout_ms: int = 120_000) -> MainWindow:
        w = MainWindow(session)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: bool(w.model_info), timeout=model_timeout_ms)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


# -- the real default models, loaded once per test session ----------------------------------


def require_default_model(kind: Kind) -> Path:
    """The installed default model of `kind`, from the catalog; the test FAILS if missing.

    The one policy for missing models: setup always installs the defaults, so a missing one
    is a broken setup, never a reason to skip.
    """
    from desktop.models.catalog import load_catalog
    from desktop.models.installed import local_path

    spec = load_catalog().default(kind)
    path = local_path(spec, [bundled_models_dir()])
    if path is None:
        pytest.fail(
            f"default {kind} model {spec.id} is not installed: run `python3 scripts/bootstrap.py "
            "setup` (setup always installs it, so the suite fails instead of skipping)"
        )
    return path


@pytest.fixture(scope="session")
def chat_model_path() -> Path:
    return require_default_model("chat")


@pytest.fixture(scope="session")
def embedding_model_dir() -> Path:
    return require_default_model("embedding")


@pytest.fixture(scope="session")
def real_embedder(embedding_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The default embedder as a session loads it: its graph prepared (desktop.embed.graph)."""
    from desktop.embed import graph
    from desktop.embed.fastembed_embedder import FastEmbedEmbedder
    from desktop.models.catalog import load_catalog

    spec = load_catalog().default("embedding")
    assert spec.fastembed_name is not None and spec.dim is not None
    source = embedding_model_dir / spec.file
    prepared = graph.prepared(source, spec.sha256, tmp_path_factory.mktemp("cache"))
    return FastEmbedEmbedder(
        spec.id,
        spec.fastembed_name,
        embedding_model_dir,
        spec.dim,
        model_file=spec.file,
        graph=prepared,
    )


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
