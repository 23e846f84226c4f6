"""Folio: an offline document assistant (core package; never imports Qt)."""

__version__ = "0.1.0"
APP_NAME = "Folio"
