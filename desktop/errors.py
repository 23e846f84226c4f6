"""The kinds of outcome that are not a result: the user's or the environment's failure,
our bug, and the user's own cancel.

`FolioError` and its subclasses carry a message fit to show a person as is (the CLI prints
it on one line, the GUI in a dialog). `Cancelled` is not a failure at all, so it is no
`FolioError`: an `except FolioError` never swallows a user's Stop. Anything else escaping
the core is a bug; `desktop.boundary` logs it with its traceback and says so in one line.
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


class ServerError(FolioError):
    """A serving engine (llama-server, vLLM, Ollama) cannot be reached or refused a request."""


class Cancelled(Exception):
    """Work stopped because the user cancelled it."""
