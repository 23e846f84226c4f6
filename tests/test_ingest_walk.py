"""Finding documents in a real folder tree: ignore files, hidden and skipped folders, symlinks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import desktop.ingest.walk as walk
from desktop.errors import ExtractionError
from desktop.ingest.walk import iter_documents


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def _found(root: Path, **kwargs: int) -> list[str]:
    return [p.relative_to(root).as_posix() for p in iter_documents(root, **kwargs)]


def _symlink(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError as e:  # Windows without developer mode
        pytest.skip(f"cannot create symlinks here: {e}")


def test_ignore_files_hidden_and_skipped_folders(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            ".gitignore": "*.tmp.txt\nsecret/\n/build/\n",
            ".folioignore": "private/\n",
            "notes.txt": "n",
            "draft.tmp.txt": "ignored by the root .gitignore",
            "secret/plan.txt": "ignored folder",
            "private/diary.md": "ignored by .folioignore",
            "build/out.txt": "anchored pattern",
            "docs/build/kept.txt": "/build/ is anchored at the root, so this stays",
            "docs/.gitignore": "*.md\n!keep.md\n",
            "docs/a.md": "ignored by docs/.gitignore",
            "docs/keep.md": "re-included",
            "docs/guide.txt": "g",
            "docs/sub/deep.md": "docs/.gitignore reaches its whole subtree",
            "docs/sub/.folioignore": "!again.md\n",
            "docs/sub/again.md": "re-included by the deeper file",
            "other/a.md": "docs/.gitignore does not reach here",
            ".hidden/x.txt": "hidden folder",
            ".notes.txt": "hidden file",
            "node_modules/pkg/readme.md": "skipped",
            "__pycache__/m.py": "skipped",
            "venv/lib.py": "skipped",
            ".venv/lib.py": "skipped",
            "env2/pyvenv.cfg": "home = /usr",
            "env2/site.py": "a virtual environment by any name",
            "~$report.docx": "office lock file",
            "image.png": "unsupported",
            "Makefile": "no suffix",
            "code/main.py": "print()",
        },
    )

    assert _found(tmp_path) == [
        "code/main.py",
        "docs/build/kept.txt",
        "docs/guide.txt",
        "docs/keep.md",
        "docs/sub/again.md",
        "notes.txt",
        "other/a.md",
    ]


def test_results_are_sorted_across_folders(tmp_path: Path) -> None:
    names = ["b.txt", "a/z.txt", "a.txt", "c/a/b.md", "B.md", "c/0.txt", "a/b/c.txt"]
    _tree(tmp_path, dict.fromkeys(names, "x"))

    found = list(iter_documents(tmp_path))

    assert found == sorted(found)
    assert sorted(_found(tmp_path)) == sorted(names)


def test_files_over_the_size_limit_are_skipped(tmp_path: Path) -> None:
    _tree(tmp_path, {"small.txt": "x" * 100, "exact.txt": "x" * 200, "big.txt": "x" * 201})

    assert _found(tmp_path, max_bytes=200) == ["exact.txt", "small.txt"]


def test_a_file_root_is_yielded_as_is(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("x")

    assert list(iter_documents(path)) == [path]


def test_a_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="nowhere: no such file or folder"):
        list(iter_documents(tmp_path / "nowhere"))


def test_unreadable_folder_is_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _tree(tmp_path, {"locked/inside.txt": "x", "open/fine.txt": "x", "top.txt": "x"})
    real_scandir = os.scandir

    def scandir(path: Path) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    # Running as root ignores chmod, so deny the read the way the OS would report it.
    monkeypatch.setattr(walk.os, "scandir", scandir)
    with caplog.at_level(logging.WARNING, logger="desktop.ingest.walk"):
        found = _found(tmp_path)

    assert found == ["open/fine.txt", "top.txt"]
    assert "locked: folder skipped, cannot be read (Permission denied)" in caplog.text


def test_unreadable_ignore_patterns_do_not_stop_the_walk(tmp_path: Path) -> None:
    _tree(tmp_path, {".gitignore": "\\\n[z-a]\n*.log.txt\n", "a.log.txt": "x", "b.txt": "x"})

    assert _found(tmp_path) == ["b.txt"]


def test_symlink_loops_and_repeated_targets_are_walked_once(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    _tree(root, {"a/doc.txt": "x", "z/last.txt": "x"})
    _tree(outside, {"o.txt": "x"})
    _symlink(root / "a" / "loop", root)  # back up to the root: a loop
    _symlink(root / "alias", root / "a")  # a second way into a folder already walked
    _symlink(root / "0first", root / "z")  # met before its target: the target's path wins
    _symlink(root / "ext1", outside)  # outside the root: followed once...
    _symlink(root / "ext2", outside)  # ...but not twice
    _symlink(outside / "self", outside)  # and a loop out there too

    assert _found(root) == ["a/doc.txt", "ext1/o.txt", "z/last.txt"]
