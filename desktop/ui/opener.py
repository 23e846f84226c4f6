"""Opening a source in the system viewer (at its page where the viewer allows) or its folder.

Desktop environments have no common way to open a PDF at a page. On Linux, Folio asks
xdg-mime which application handles PDFs and, for viewers known to take a page argument,
starts that viewer itself; otherwise it hands a plain file URL to the desktop.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

from desktop.errors import FolioError

log = logging.getLogger(__name__)

# desktop-file name fragment -> (executable, arguments before the path given page n)
_PAGE_VIEWERS: dict[str, tuple[str, list[str]]] = {
    "evince": ("evince", ["--page-index={page}"]),
    "okular": ("okular", ["--page", "{page}"]),
    "zathura": ("zathura", ["--page={page}"]),
    "xreader": ("xreader", ["--page-index={page}"]),
    "atril": ("atril", ["--page-index={page}"]),
    "qpdfview": ("qpdfview", []),  # takes "file#page"
    "mupdf": ("mupdf", []),  # takes "file page"
}
_BROWSERS = ("firefox", "chrom", "brave", "vivaldi", "edge")


def page_command(desktop_id: str, path: Path, page: int) -> list[str] | None:
    """The command that opens `path` at `page` with the PDF handler `desktop_id`, if known."""
    name = desktop_id.lower()
    for key, (exe, template) in _PAGE_VIEWERS.items():
        if key in name:
            if key == "qpdfview":
                return [exe, f"{path}#{page}"]
            if key == "mupdf":
                return [exe, str(path), str(page)]
            return [exe, *[a.format(page=page) for a in template], str(path)]
    for browser in _BROWSERS:
        if browser in name:
            exe = desktop_id.removesuffix(".desktop").split(".")[-1].lower()
            url = QUrl.fromLocalFile(str(path))
            url.setFragment(f"page={page}")
            return [exe, url.toString()]
    return None


def _pdf_handler() -> str | None:
    if not sys.platform.startswith("linux") or shutil.which("xdg-mime") is None:
        return None
    return (_query(["xdg-mime", "query", "default", "application/pdf"]) or "").strip() or None


def _query(command: list[str]) -> str | None:
    """What a quick desktop query prints; None if it cannot run or takes over 2 s."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout


def open_document(path: str | Path, page: int | None = None) -> None:
    """Open a file in the system viewer, at `page` for PDFs where the viewer supports it.

    Raises:
        FolioError: the file no longer exists, or the desktop has no viewer for it.
    """
    target = Path(path)
    if not target.exists():
        raise FolioError(f"{target} no longer exists: it was moved or deleted after indexing")
    if page and target.suffix.lower() == ".pdf":
        handler = _pdf_handler()
        command = page_command(handler, target, page) if handler else None
        if (
            command
            and shutil.which(command[0])
            and QProcess.startDetached(command[0], command[1:])[0]
        ):
            return
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
        raise FolioError(f"no application is set up to open {target.name}")


def show_in_folder(path: str | Path) -> None:
    """Reveal a file in the system file manager (selected where the platform allows).

    Raises:
        FolioError: the file and its folder are gone.
    """
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    if not folder.exists():
        raise FolioError(f"{folder} no longer exists")
    if target.exists():
        if sys.platform == "darwin":
            if QProcess.startDetached("open", ["-R", str(target)])[0]:
                return
        elif sys.platform == "win32":
            if QProcess.startDetached("explorer", [f"/select,{target}"])[0]:
                return
        elif shutil.which("dbus-send") and _file_manager_running():
            uri = QUrl.fromLocalFile(str(target)).toString()
            if QProcess.startDetached(
                "dbus-send",
                [
                    "--session",
                    "--dest=org.freedesktop.FileManager1",
                    "--type=method_call",
                    "/org/freedesktop/FileManager1",
                    "org.freedesktop.FileManager1.ShowItems",
                    f"array:string:{uri}",
                    "string:",
                ],
            )[0]:
                return
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        raise FolioError(f"no file manager is set up to show {folder}")


def _file_manager_running() -> bool:
    """Whether a file manager serves ShowItems on D-Bus (running or activatable)."""
    for method in ("ListNames", "ListActivatableNames"):
        names = _query(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                f"org.freedesktop.DBus.{method}",
            ]
        )
        if names is None:
            return False
        if "org.freedesktop.FileManager1" in names:
            return True
    return False
