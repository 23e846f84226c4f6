"""The two kinds of failure: the user's or the environment's, and ours.

`FolioError` and its subclasses carry a message fit to show a person as is (the CLI prints
it on one line, the GUI in a dialog). Anything else escaping the core is a bug and is
logged with its traceback.
"""

from __future__ import annotations


class FolioError(Exception):
    """A problem the user can act on: bad file, missing model, wrong adapter, offline."""


class ModelError(FolioError):
    """A model file is missing, corrupt or of the wrong kind."""


class LibraryError(FolioError):
    """The library database cannot be used as asked (wrong embedder, newer schema...)."""


class ExtractionError(FolioError):
    """A document could not be read; the message names the file and the reason."""


class AdapterError(FolioError):
    """A LoRA adapter cannot be used with the loaded model."""


class NetworkError(FolioError):
    """A download was asked for but the network or the hub cannot be reached."""


class Cancelled(FolioError):
    """Work stopped because the user cancelled it."""
