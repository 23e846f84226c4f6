"""Folio's desktop window (PySide6 Widgets): the only package that imports Qt."""
