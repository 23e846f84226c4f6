"""What can go wrong when teaching a style, in words a user can act on."""

from __future__ import annotations

import sys

from desktop.errors import FolioError


def _install_command() -> str:
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: no pip, no torch inside
        return (
            "this packaged Folio leaves it out (torch alone is about 1 GB), so train with "
            "Folio installed from source (see its README), then bring the adapter in with "
            "File > Add style adapter…"
        )
    return (
        "run `pip install -e '.[train]'` in Folio's folder (or `python3 scripts/bootstrap.py "
        "test`, which installs it)"
    )


INSTALL_COMMAND = _install_command()
INSTALL_HINT = (
    "training a style needs the training add-on (torch, transformers, peft): " + INSTALL_COMMAND
)


class TrainingError(FolioError):
    """Training could not start or did not finish; the message says why."""


class TrainingUnavailable(TrainingError):
    """This build has no training add-on; the message says how to install it."""

    def __init__(self, missing: str = "") -> None:
        detail = f" ({missing} is missing)" if missing else ""
        super().__init__(INSTALL_HINT + detail)


class ExamplesError(TrainingError):
    """The examples file is unusable; the message names the file and the lines at fault."""
