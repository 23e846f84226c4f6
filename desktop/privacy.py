"""Nothing leaves the machine: the libraries Folio loads are told not to report home.

This runs when the `desktop` package is imported, before any of them is loaded, because
some read their switch once, at start-up:
- onnxruntime (the embedder, OCR) since 1.29 sends usage telemetry from Linux and macOS
  builds: each process writes a device id and queues a "ProcessInfo" event (OS, CPU,
  container, a device id, the interpreter's path) in
  ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db for upload to Microsoft's
  collector. The native uploader opens its own sockets, out of Python's sight.
  `ORT_DISABLE_TELEMETRY=1`, set before the runtime starts, creates none of it (measured
  with onnxruntime 1.32.0: without it a fresh home gained both files, with it nothing).
- huggingface_hub (used only when the user asks to download a model) adds usage
  telemetry to some calls.
Set unconditionally: a user's own environment cannot turn telemetry back on inside Folio.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

TELEMETRY_OFF: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def silence_telemetry(environ: MutableMapping[str, str] = os.environ) -> None:
    """Switch off every telemetry that Folio's libraries read from the environment (child
    processes inherit it)."""
    environ.update(TELEMETRY_OFF)
