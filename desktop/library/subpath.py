"""Is this stored path that folder, or inside it? Decided here only, for Python and SQL.

Stored paths are absolute paths as the platform writes them: `/a/b` on POSIX, `C:\\a\\b` on
Windows. A folder's contents start with the folder plus one separator, so `/a/bc` is not
under `/a/b`, and a trailing separator on the folder changes nothing.
"""

from __future__ import annotations


def separator(path: str) -> str:
    """The separator `path` is written with: a backslash for Windows paths, else '/'."""
    return "\\" if "\\" in path and "/" not in path else "/"


def child_prefix(folder: str) -> str:
    """What every path inside `folder` starts with: the folder and one separator."""
    return folder.rstrip("/\\") + separator(folder)


def is_under(path: str, folder: str) -> bool:
    """Whether `path` is `folder` itself or anything inside it."""
    prefix = child_prefix(folder)
    return path == folder or path == prefix[:-1] or path.startswith(prefix)


# `path` at or below a folder, in SQL; bind `sql_values(folder)` to its three parameters.
SQL_UNDER = "(path = ? OR substr(path, 1, ?) = ?)"


def sql_values(folder: str) -> tuple[str, int, str]:
    """The parameters of SQL_UNDER for `folder`."""
    prefix = child_prefix(folder)
    return prefix[:-1] or prefix, len(prefix), prefix
