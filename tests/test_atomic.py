"""desktop/atomic.py: files replaced whole or not at all."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_write_text_replaces_the_file_creates_its_folder_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "new" / "settings.json"
    atomic.write_text(target, "first")
    atomic.write_text(target, "second é")
    assert target.read_text(encoding="utf-8") == "second é"
    assert stat.S_IMODE(target.stat().st_mode) == atomic.SHARED
    assert _leftovers(target.parent) == []


def test_a_failure_inside_the_block_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="half way"):
        with atomic.replacing(target) as tmp:
            tmp.write_text("new, but cut short", encoding="utf-8")
            raise RuntimeError("half way")
    assert target.read_text(encoding="utf-8") == "old"
    assert _leftovers(tmp_path) == []


def test_the_data_and_the_folder_entry_reach_the_disk_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.bin"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic.write_bytes(target, b"\x00\x01")
    expected = ["file", "rename"] + ([] if os.name == "nt" else ["folder"])
    assert events == expected
    assert target.read_bytes() == b"\x00\x01"


def test_a_process_killed_while_writing_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "folders.json"
    target.write_text('{"folders": ["a"]}', encoding="utf-8")
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from desktop import atomic\n"
        "with atomic.replacing(Path(sys.argv[1])) as tmp:\n"
        '    tmp.write_text(\'{"folders": ["a", "b\', encoding=\'utf-8\')\n'
        "    os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
    )
    assert done.returncode != 0
    assert target.read_text(encoding="utf-8") == '{"folders": ["a"]}'
