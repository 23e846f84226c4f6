"""Driving the real window from code: a temporary Folio home, waiting on signals, screenshots.

Used by `folio selftest` and the UI benchmark, which run outside pytest (no qtbot).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QEventLoop, QMimeData, QObject, QPointF, Qt, QTimer, QUrl, SignalInstance
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from desktop.paths import Locations


@contextlib.contextmanager
def temporary_home(
    user: Locations, prefix: str = "folio-selftest-"
) -> Iterator[tuple[Path, Locations]]:
    """A fresh folder for a run, and locations under it that still see the `user`'s
    installed models and adapters; the folder is deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        where = Locations.under(root / "home")
        if user.user_models_dir.is_dir():
            where = where.with_models_dir(user.user_models_dir)
        _link_adapters(user.user_adapters_dir, where.user_adapters_dir)
        yield root, where
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _link_adapters(source: Path, target: Path) -> None:
    """Make the user's installed adapters visible in the temporary home."""
    if not source.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        if file.suffix.lower() in (".gguf", ".toml", ".json") and file.is_file():
            try:
                (target / file.name).symlink_to(file)
            except OSError:
                shutil.copy2(file, target / file.name)


class _Catcher(QObject):
    """Receives a signal on the GUI thread (a plain function would run on the sender's).

    The signal's arguments are whatever it carries: kept and handed back, never looked into.
    """

    def __init__(self, loop: QEventLoop, accept: Callable[..., bool] | None) -> None:
        super().__init__()
        self.loop = loop
        self.accept = accept
        self.got: list[tuple[object, ...]] = []

    def catch(self, *args: object) -> None:
        if not self.got and (self.accept is None or self.accept(*args)):
            self.got.append(args)
            self.loop.quit()


def wait_for(
    signal: SignalInstance, timeout_s: float, accept: Callable[..., bool] | None = None
) -> tuple[object, ...] | None:
    """Run the event loop until `signal` fires with arguments `accept` likes; None on timeout.

    The arguments come back as the signal sent them; the caller knows their types.
    """
    loop = QEventLoop()
    catcher = _Catcher(loop, accept)
    got = catcher.got
    on_signal = catcher.catch
    signal.connect(on_signal)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    try:
        loop.exec()
    finally:
        timer.stop()
        signal.disconnect(on_signal)
    return got[0] if got else None


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until `condition()` holds (checked every 10 ms); False on timeout."""
    if condition():
        return True
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s

    def check() -> None:
        if condition() or time.monotonic() > deadline:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(10)
    loop.exec()
    timer.stop()
    return condition()


def settle(ms: int = 150) -> None:
    """Let pending layout and paint events run (before a screenshot)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def screenshot(widget: QWidget, folder: Path | None, name: str) -> Path | None:
    """Save `widget` as `folder/name` (PNG); nothing when no folder was asked for."""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    settle()
    path = folder / name
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"cannot write the screenshot {path}")
    return path


_CROPS = ("carrots", "beans", "leeks", "kale", "onions", "peas", "chard", "squash")
_BEDS = ("north bed", "greenhouse", "raised bed", "orchard strip", "herb corner", "pond edge")


def write_notes(folder: Path, count: int) -> Path:
    """Write `count` small, distinct text files (a garden diary) into `folder`.

    Their subject is far from the sample's facts, so they load the indexer without
    crowding the sample's passages out of answers.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        crop = _CROPS[i % len(_CROPS)]
        bed = _BEDS[(i // len(_CROPS)) % len(_BEDS)]
        (folder / f"note-{i:04d}.txt").write_text(
            f"Garden diary, entry {i}. Sowed {i % 9 + 2} rows of {crop} in the {bed} on day "
            f"{i % 28 + 1}. The soil felt {('dry', 'damp', 'crumbly')[i % 3]}; we mulched with "
            f"{(i * 7) % 12 + 1} barrows of leaf mould and saw {(i * 13) % 40} ladybirds.\n",
            encoding="utf-8",
        )
    return folder


def drop_paths(widget: QWidget, dropped: list[Path]) -> bool:
    """Drag files or folders onto `widget` as a file manager does; True if it took them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in dropped])
    where = QPointF(widget.rect().center())
    action, button, mods = (
        Qt.DropAction.CopyAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(where, action, mime, button, mods)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(where, action, mime, button, mods)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()
