"""Folio: an offline document assistant (core package; never imports Qt)."""

from importlib import metadata

from desktop.privacy import silence_telemetry

# Before anything under desktop/ can load onnxruntime (desktop/privacy.py says why).
silence_telemetry()


def _version() -> str:
    """The installed distribution's version (pyproject.toml), from source or frozen."""
    try:
        return metadata.version("folio")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__version__ = _version()
APP_NAME = "Folio"
