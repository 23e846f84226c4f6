"""The error boundary, and the CLI's three ways to end: a user's problem (one line, exit 1),
a cancel (exit 130), a bug (traceback in the log file, one line on stderr, exit 70)."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import apsw
import pytest

from desktop import boundary
from desktop.cli import library_cmd, main
from desktop.errors import Cancelled, FolioError, ModelError
from desktop.library import vectors
from desktop.logs import close_logging
from desktop.paths import Locations
from desktop.sample import make_corpus

pytestmark = pytest.mark.fast

LIB = Path("/data/lib.sqlite")


@pytest.fixture(autouse=True)
def _fresh_log_handlers() -> object:
    """Each CLI run here logs into this test's own home."""
    close_logging()
    yield None
    close_logging()


def test_a_cancel_is_not_an_error() -> None:
    assert not issubclass(Cancelled, FolioError)
    try:
        raise Cancelled("cancelled")
    except FolioError:  # pragma: no cover - the point: this must not catch it
        pytest.fail("an `except FolioError` swallowed the user's cancel")
    except Cancelled:
        pass
    assert boundary.classify(Cancelled("x")).exit_code == boundary.EXIT_CANCELLED
    assert boundary.classify(KeyboardInterrupt()).kind == "cancelled"


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (apsw.FullError("database or disk is full"), "is full"),
        (apsw.BusyError("database is locked"), "is busy"),
        (apsw.LockedError("database table is locked"), "is busy"),
        (apsw.ReadOnlyError("attempt to write a readonly database"), "cannot be written"),
        (apsw.IOError("disk I/O error"), "disk failed"),
        (apsw.CorruptError("database disk image is malformed"), "is damaged"),
        (apsw.NotADBError("file is not a database"), "is not a Folio library"),
        (apsw.CantOpenError("unable to open database file"), "cannot be opened"),
    ],
)
def test_sqlite_failures_become_messages_naming_the_library(exc: apsw.Error, words: str) -> None:
    outcome = boundary.classify(exc, LIB)
    assert outcome.kind == "user" and outcome.exit_code == boundary.EXIT_USER
    assert words in outcome.message and str(LIB) in outcome.message


def test_os_errors_that_name_a_file_are_the_users(tmp_path: Path) -> None:
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    assert boundary.classify(full).message == f"the disk is full: {tmp_path / 'x'}"
    denied = PermissionError(errno.EACCES, "Permission denied", "/etc/shadow")
    assert boundary.classify(denied).kind == "user"
    assert boundary.classify(ModelError("model x is missing")).message == "model x is missing"


def test_a_bug_is_logged_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    try:
        broken()
    except ZeroDivisionError as exc:
        with caplog.at_level(logging.ERROR, logger="folio.bug"):
            outcome = boundary.classify(exc, LIB, tmp_path / "folio.log")
    assert outcome.kind == "bug" and outcome.exit_code == boundary.EXIT_BUG
    assert "ZeroDivisionError: division by zero" in outcome.message
    assert str(tmp_path / "folio.log") in outcome.message
    record = next(r for r in caplog.records if r.name == "folio.bug")
    assert record.exc_info is not None and "broken" in caplog.text
    # SQL that is wrong is our bug too, not the user's disk.
    assert boundary.classify(apsw.SQLError("no such table: x"), LIB).kind == "bug"


def test_the_cli_bug_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(args: object) -> int:
        raise RuntimeError("the status code has a bug")

    monkeypatch.setattr(library_cmd, "cmd_status", explode)
    code = main(["--library", str(tmp_path / "lib.sqlite"), "status"])
    err = capsys.readouterr().err
    assert code == boundary.EXIT_BUG
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    log_file = Locations.from_environment().log_file
    assert err.startswith("folio: error: something went wrong inside Folio (RuntimeError")
    assert str(log_file) in err
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in logged and "in explode" in logged


def test_the_cli_cancel_and_user_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancelled(args: object) -> int:
        raise Cancelled("cancelled")

    monkeypatch.setattr(library_cmd, "cmd_status", cancelled)
    assert main(["--library", str(tmp_path / "lib.sqlite"), "status"]) == 130
    assert capsys.readouterr().err == "folio: cancelled\n"

    bogus = tmp_path / "notes.sqlite"
    bogus.write_bytes(b"not a database" * 300)
    monkeypatch.undo()
    assert main(["--library", str(bogus), "status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"folio: error: {bogus} is not a Folio library")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_folio_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = make_corpus(tmp_path)
    lib = str(tmp_path / "lib.sqlite")
    assert main(["--library", lib, "index", str(docs), "--json"]) == 0
    capsys.readouterr()

    assert main(["--library", lib, "remove", str(tmp_path / "elsewhere")]) == 1
    assert "not an indexed folder" in capsys.readouterr().err

    assert main(["--library", lib, "remove", str(docs)]) == 0
    assert "removed" in capsys.readouterr().err
    assert main(["--library", lib, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["folders"], status["documents"], status["chunks"]) == (0, 0, 0)
    assert main(["--library", lib, "search", "Zorblax turbine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == []
    db = apsw.Connection(lib)
    db.enable_load_extension(True)
    import sqlite_vec

    db.load_extension(sqlite_vec.loadable_path())
    assert vectors.count(db) == 0
    assert db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == 0
    assert docs.joinpath("operations-report.pdf").exists()  # the files are untouched
