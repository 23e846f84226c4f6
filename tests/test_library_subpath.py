"""One rule for "is this path under that folder", in Python and in SQL."""

from __future__ import annotations

import apsw
import pytest

from desktop.library.subpath import SQL_UNDER, is_under, sql_values

pytestmark = pytest.mark.fast

CASES = [
    ("/a/b", "/a/b", True),
    ("/a/b/c.txt", "/a/b", True),
    ("/a/b/deep/er.txt", "/a/b/", True),  # a trailing separator changes nothing
    ("/a/b", "/a/b/", True),
    ("/a/bc", "/a/b", False),  # a sibling that shares the prefix is not inside
    ("/a/bc/x.txt", "/a/b", False),
    ("/a", "/a/b", False),
    ("/x.txt", "/", True),
    ("C:\\Docs\\a.pdf", "C:\\Docs", True),  # Windows paths
    ("C:\\Docs2\\a.pdf", "C:\\Docs", False),
    ("C:\\Docs\\sub\\a.pdf", "C:\\Docs\\", True),
    ("C:\\Docs", "C:\\Docs", True),
]


@pytest.mark.parametrize(("path", "folder", "inside"), CASES)
def test_python_and_sql_agree(path: str, folder: str, inside: bool) -> None:
    assert is_under(path, folder) is inside
    db = apsw.Connection(":memory:")
    row = db.execute(f"SELECT {SQL_UNDER} FROM (SELECT ? AS path)", (*sql_values(folder), path))
    assert bool(next(row)[0]) is inside
