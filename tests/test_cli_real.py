"""The `folio` CLI contract, end to end on the real stack (in-process, so the offline guard
covers it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import main
from desktop.sample import make_corpus


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, "--json prints exactly one JSON object on stdout"
    return json.loads(out[0])


def test_index_search_ask_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = make_corpus(tmp_path)
    lib = str(tmp_path / "lib.sqlite")
    report = run_json(capsys, "--library", lib, "index", str(docs), "--json")
    assert report["added"] == 4 and report["failed"] == []

    res = run_json(
        capsys, "--library", lib, "search", "Zorblax turbine output", "--k", "3", "--json"
    )
    top = res["results"][0]
    assert set(top) == {"path", "page", "score", "text", "chunk_id"}
    assert Path(top["path"]).name == "operations-report.pdf" and top["page"] == 2
    assert "total" in res["timings_ms"]

    ans = run_json(
        capsys,
        "--library",
        lib,
        "ask",
        "How many megawatts did the Zorblax turbine produce?",
        "--json",
    )
    assert {"answer", "citations", "timings_ms"} <= set(ans)
    assert {"retrieve", "first_token", "total"} <= set(ans["timings_ms"])
    cite = ans["citations"][0]
    assert {"n", "path", "page", "text"} <= set(cite)
    assert Path(cite["path"]).name == "operations-report.pdf" and cite["page"] == 2
    # A new install quotes the sentence that answers; --write lets the model write it.
    assert ans["answer_mode"] == "quote" and ans["grounding"] == "quoted"
    assert ans["support"][0]["sentence"] in cite["text"]
    question = "How many megawatts did the Zorblax turbine produce?"
    written = run_json(capsys, "--library", lib, "ask", question, "--write", "--json")
    assert written["answer_mode"] == "write" and written["tokens"] > 0
    assert Path(written["citations"][0]["path"]).name == "operations-report.pdf"

    (docs / "bad.pdf").write_bytes(b"not a pdf at all")
    run_json(capsys, "--library", lib, "index", str(docs), "--json")
    st = run_json(capsys, "--library", lib, "status", "--json")
    assert st["documents"] == 4 and st["failed"] == 1
    failed = st["folders_detail"][0]["failed"]
    assert Path(failed[0]["path"]).name == "bad.pdf" and failed[0]["error"]


def test_search_and_ask_say_how_much_is_embedded_while_indexing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.library import pending, vectors
    from desktop.library.store import Library

    docs = make_corpus(tmp_path)
    lib = str(tmp_path / "lib.sqlite")
    run_json(capsys, "--library", lib, "index", str(docs), "--json")
    with Library(Path(lib)) as library:  # as an index still embedding leaves it: half done
        db = library.db
        with db:
            half = [r[0] for r in db.execute("SELECT id FROM chunks WHERE id % 2 = 0")]
            db.executemany(f"DELETE FROM {vectors.INDEX} WHERE rowid = ?", [(i,) for i in half])
            db.executemany(f"DELETE FROM {vectors.FLOATS} WHERE id = ?", [(i,) for i in half])
            db.executemany(f"INSERT INTO {pending.TABLE}(id) VALUES (?)", [(i,) for i in half])
        chunks = library.counts()["chunks"]
    res = run_json(capsys, "--library", lib, "search", "Zorblax turbine", "--json")
    assert res["results"]  # found by keyword whatever the vectors
    assert res["indexing"]["embedded"] == chunks - len(half)
    assert res["indexing"]["chunks"] == chunks
    assert res["indexing"]["note"].startswith(f"still indexing: {res['indexing']['percent']} %")
    ans = run_json(
        capsys, "--library", lib, "ask", "What did the Zorblax turbine produce?", "--json"
    )
    assert ans["indexing"]["chunks"] == chunks
    assert main(["--library", lib, "search", "Zorblax turbine"]) == 0
    assert "still indexing: " in capsys.readouterr().err
    assert run_json(capsys, "--library", lib, "status", "--json")["embedded"] == chunks - len(half)

    report = run_json(capsys, "--library", lib, "index", str(docs), "--json")
    assert report["unchanged"] == 4 and report["embedded"] == len(half)
    assert "indexing" not in run_json(capsys, "--library", lib, "search", "Zorblax", "--json")


def test_user_error_is_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--library", str(tmp_path / "l.sqlite"), "index", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("folio: error: no such file or folder")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_core_never_imports_qt() -> None:
    """The CLI and core modules must not pull in PySide6 (the GUI is a separate client)."""
    code = (
        "import sys, pkgutil, importlib, desktop\n"
        "for m in pkgutil.walk_packages(desktop.__path__, 'desktop.'):\n"
        "    if m.name.startswith('desktop.ui') or m.name == 'desktop.__main__': continue\n"
        "    importlib.import_module(m.name)\n"
        "import desktop.cli; desktop.cli.build_parser()\n"
        "bad = [n for n in sys.modules if n.startswith('PySide6')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
