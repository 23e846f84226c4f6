"""A damaged library at start-up: the window offers to rebuild it from its folders, keeps
the damaged file, and indexes the folders again (on the fakes, real SQLite)."""

from __future__ import annotations

from pathlib import Path

from desktop.config import Config
from desktop.session import Session
from desktop.ui.repair_prompt import offer_rebuild
from tests.fakes import fake_registry
from tests.test_index_library import _overwrite_header


def _indexed(config: Config, tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"pump-{i}.txt").write_text(f"Pump {i} was serviced on Tuesday.\n")
    with Session(config, fake_registry()) as s:
        assert s.indexer.index([docs]).added == 3
    return docs


def test_a_healthy_library_is_opened_without_a_question(
    fake_config: Config, tmp_path: Path
) -> None:
    _indexed(fake_config, tmp_path)
    asked: list[str] = []
    assert offer_rebuild(fake_config.library_path, lambda text: asked.append(text) or True) == []
    assert asked == []


def test_quit_leaves_the_damaged_file_alone(fake_config: Config, tmp_path: Path) -> None:
    _indexed(fake_config, tmp_path)
    _overwrite_header(fake_config.library_path)
    before = fake_config.library_path.read_bytes()
    assert offer_rebuild(fake_config.library_path, lambda text: False) is None
    assert fake_config.library_path.read_bytes() == before


def test_rebuild_keeps_the_damaged_file_and_indexes_the_folders_again(  # type: ignore[no-untyped-def]
    qtbot, open_window, fake_config: Config, tmp_path: Path
) -> None:
    docs = _indexed(fake_config, tmp_path)
    _overwrite_header(fake_config.library_path)
    asked: list[str] = []
    folders = offer_rebuild(fake_config.library_path, lambda text: asked.append(text) or True)
    assert folders == [docs]
    assert "is damaged" in asked[0] and "untouched" in asked[0] and "docs" in asked[0]
    kept = list(tmp_path.glob("library.sqlite.damaged-*"))
    assert len(kept) == 1  # nothing deleted
    w = open_window(Session(fake_config, fake_registry()), model_timeout_ms=10_000)
    with qtbot.waitSignal(w.library_ctl.job_ended, timeout=20_000) as ended:
        w.index_paths(folders)
    assert ended.args[1] == "done"
    assert w.library.counts()["documents"] == 3


def test_folios_own_library_that_is_no_database_is_offered_a_fresh_start(
    fake_config: Config,
) -> None:
    path = fake_config.library_path
    path.write_bytes(b"\x00garbage that was once a library" * 200)  # no folder list beside it
    assert offer_rebuild(path, lambda text: True) == []  # a file the user chose: not ours
    asked: list[str] = []
    assert offer_rebuild(path, lambda text: asked.append(text) or True, ours=True) == []
    assert "new, empty library" in asked[0] and not path.exists()
    assert list(path.parent.glob("library.sqlite.damaged-*"))
