"""At start-up, a damaged library is offered a rebuild from its folders instead of an error."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop import APP_NAME
from desktop.library.repair import diagnose, rebuild

log = logging.getLogger(__name__)

Ask = Callable[[str], bool]


def ask_with_a_dialog(text: str, parent: QWidget | None = None) -> bool:
    """A modal question with Rebuild and Quit; True for Rebuild."""
    box = QMessageBox(
        QMessageBox.Icon.Warning, APP_NAME, text, QMessageBox.StandardButton.NoButton, parent
    )
    rebuild_button = box.addButton("Rebuild the library", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(rebuild_button)
    box.exec()
    return box.clickedButton() is rebuild_button


SQLITE_HEADER = b"SQLite format 3\x00"


def _not_a_database(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != SQLITE_HEADER


def offer_rebuild(
    library: Path, ask: Ask = ask_with_a_dialog, *, ours: bool = False
) -> list[Path] | None:
    """Check the library file; if it is damaged, offer to rebuild it.

    Args:
        library: the library file.
        ask: puts the question to the user; True means rebuild.
        ours: the file is Folio's own default library (not one the user pointed to), so a
            file that is no database at all is a damaged library, not somebody's else file.

    Returns:
        The folders to index into the new library ([] when nothing was wrong), or None
        when the user chose to quit.
    """
    diagnosis = diagnose(library)
    problems = diagnosis.problems
    if not problems and ours and _not_a_database(library):
        problems = ["it is not an SQLite database (its header is damaged)"]
    if not problems:
        return []
    folders = diagnosis.folders
    found = ", ".join(Path(f).name for f in folders[:3]) + ("…" if len(folders) > 3 else "")
    text = (
        f"Folio's library {library} is damaged: {problems[0]}.\n\n"
        "Your documents themselves are untouched. "
        + (
            f"Folio can build a new library and index your {len(folders)} folder(s) again ({found})"
            if folders
            else "Folio can start a new, empty library; add your folders to it again"
        )
        + "; the damaged file is kept beside it, renamed."
    )
    if not ask(text):
        return None
    pending: list[Path] = []
    aside = rebuild(library, folders, lambda _path, roots: pending.extend(roots))
    log.warning("damaged library %s moved to %s; rebuilding from %s", library, aside, folders)
    return pending
