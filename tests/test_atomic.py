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
    assert _leftovers(target.parent) == []


@pytest.mark.skipif(os.name == "nt", reason="Windows has no umask or POSIX modes")
def test_the_users_umask_applies_unless_a_mode_is_asked_for(tmp_path: Path) -> None:
    old = os.umask(0o077)  # a private user: new files are 0600
    try:
        atomic.write_text(tmp_path / "folders.json", "{}")
        atomic.write_bytes(tmp_path / "model.gguf", b"GGUF", atomic.SHARED)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "folders.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "model.gguf").stat().st_mode) == 0o644


def test_a_folder_that_cannot_be_flushed_does_not_fail_a_write_already_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")  # as on some network and FUSE mounts
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic.write_text(tmp_path / "settings.json", "saved")
    assert (tmp_path / "settings.json").read_text(encoding="utf-8") == "saved"


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
    # the killed writer's temporary file stays, and its owner can find it
    assert [p.name for p in atomic.leftovers(target)] == _leftovers(tmp_path) != []
