"""Typed reads of SQLite column values: apsw types every value of a row as any SQLite value,
so a column Folio's schema declares INTEGER, TEXT or BLOB is narrowed here, checked."""

from __future__ import annotations

import apsw


def as_int(value: apsw.SQLiteValue) -> int:
    """The value of an INTEGER column."""
    if isinstance(value, int):
        return value
    raise TypeError(f"expected an integer column value, got {type(value).__name__}")


def as_bytes(value: apsw.SQLiteValue) -> bytes:
    """The value of a BLOB column."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"expected a blob column value, got {type(value).__name__}")


def as_str(value: apsw.SQLiteValue) -> str:
    """The value of a TEXT column."""
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a text column value, got {type(value).__name__}")
