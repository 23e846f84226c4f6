"""`folio bench delete`: removing a whole padded folder, then compacting the file.

Works on a copy of a padded library (the cached one is kept): the time to remove its
folder (chunks, keyword rows, floats and sign bits in one transaction), what is left
behind (should be nothing), and the file's size before and after `compact`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from desktop.library import vectors
from desktop.library.compact import compact
from desktop.library.db import library_files
from desktop.library.store import Library


def bench_delete(padded: Path, work: Path) -> dict[str, float]:
    """Remove the largest folder of a copy of `padded`, then compact; figures by name."""
    copy = Path(work) / f"delete-{Path(padded).name}"
    for stale in library_files(copy):
        stale.unlink(missing_ok=True)
    shutil.copy(padded, copy)
    load = os.getloadavg()[0]
    with Library(copy) as lib:
        row = lib.db.execute(
            "SELECT d.folder_id, count(*) FROM chunks c JOIN documents d "
            "ON d.id = c.document_id GROUP BY d.folder_id ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise ValueError(f"{padded} holds no chunks")
        folder, chunks = int(row[0]), int(row[1])
        lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        t = time.perf_counter()
        lib.remove_folder(folder)
        remove_s = time.perf_counter() - t
        fts = lib.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()
        left = (
            vectors.count(lib.db) + vectors.count_indexed(lib.db) + (int(fts[0]) if fts else 0)
        ) - 3 * lib.counts()["chunks"]
        strays = vectors.orphan_count(lib.db)
        lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report = compact(lib.db, copy)
    copy.unlink(missing_ok=True)
    return {
        "folder_chunks": chunks,
        "remove_s": round(remove_s, 2),
        "rows_left_behind": left + strays,
        "compact_s": round(report.seconds, 1),
        "mb_before_compact": round(report.bytes_before / 2**20, 1),
        "mb_after_compact": round(report.bytes_after / 2**20, 1),
        "load_1min": round((load + os.getloadavg()[0]) / 2, 2),
    }
