"""sqlite-vec's pre-release ANN indexes (0.1.10a*: `rescore`, `diskann`), measured on a
library's stored vectors: build time, recall@10 against exact search, query latency.

Behind a flag, in the bench only: Folio pins the stable 0.1.9 and never loads a
pre-release. This loads the extension file it is given into its own scratch database:

    python -m desktop.bench.ann_prerelease LIBRARY VEC0_SO QUERIES_NPY [--kinds rescore,diskann]
        [--rows N] [--work DIR]

VEC0_SO is the `vec0.so` of a pre-release wheel (`pip download --pre --no-deps
sqlite-vec==0.1.10a4`, unzipped); QUERIES_NPY a float32 matrix of query vectors. Prints
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import numpy as np

from desktop.library.columns import as_bytes, as_int
from desktop.library.vectors import FLOATS

# The index definitions measured (the column syntax of 0.1.10a4).
KINDS = {
    "rescore": "indexed by rescore(quantizer=bit, oversample=8)",
    "diskann": "indexed by diskann(neighbor_quantizer=binary)",
}
BATCH = 5_000


def _batches(library: Path, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    db = apsw.Connection(str(library), flags=apsw.SQLITE_OPEN_READONLY)
    last, seen = 0, 0
    while seen < rows:
        got = db.execute(
            f"SELECT id, vector FROM {FLOATS} WHERE id > ? ORDER BY id LIMIT ?",
            (last, min(BATCH, rows - seen)),
        ).fetchall()
        if not got:
            break
        ids = np.asarray([as_int(r[0]) for r in got], dtype=np.int64)
        matrix = np.frombuffer(b"".join(as_bytes(r[1]) for r in got), dtype=np.float32)
        yield ids, matrix.reshape(len(got), -1)
        last, seen = int(ids[-1]), seen + len(got)
    db.close()


def measure(
    library: Path, extension: Path, queries: np.ndarray, kinds: list[str], rows: int, work: Path
) -> dict[str, object]:
    """Build each kind of index over the first `rows` vectors and search it."""
    best: list[list[tuple[float, int]]] = [[] for _ in queries]  # exact top 10, running
    out: dict[str, object] = {"rows": 0, "queries": len(queries)}
    dbs: dict[str, apsw.Connection] = {}
    build: dict[str, float] = {}
    for kind in kinds:
        path = work / f"ann-{kind}.sqlite"
        path.unlink(missing_ok=True)
        db = apsw.Connection(str(path))
        db.enable_load_extension(True)
        db.load_extension(str(extension))
        db.execute(
            f"CREATE VIRTUAL TABLE ann USING vec0("
            f"v float[{queries.shape[1]}] distance_metric=cosine {KINDS[kind]})"
        )
        dbs[kind], build[kind] = db, 0.0
    n = 0
    for ids, matrix in _batches(library, rows):
        sims = matrix @ queries.T
        for qi in range(len(queries)):
            top = np.argsort(-sims[:, qi])[:10]
            merged = best[qi] + [(float(sims[i, qi]), int(ids[i])) for i in top]
            best[qi] = sorted(merged, key=lambda p: (-p[0], p[1]))[:10]
        for kind, db in dbs.items():
            t = time.perf_counter()
            with db:
                db.executemany(
                    "INSERT INTO ann(rowid, v) VALUES (?, ?)",
                    ((int(i), row.tobytes()) for i, row in zip(ids, matrix, strict=True)),
                )
            build[kind] += time.perf_counter() - t
        n += len(ids)
    out["rows"] = n
    for kind, db in dbs.items():
        times, recall = [], []
        for qi, q in enumerate(queries):
            t = time.perf_counter()
            found = [
                as_int(r[0])
                for r in db.execute(
                    "SELECT rowid FROM ann WHERE v MATCH ? AND k = 10", (q.tobytes(),)
                )
            ]
            times.append((time.perf_counter() - t) * 1000)
            recall.append(len({c for _, c in best[qi]} & set(found)) / 10)
        out[kind] = {
            "build_s": round(build[kind], 1),
            "rows_per_s": round(n / max(build[kind], 1e-9)),
            "search_ms_p50": round(statistics.median(times), 2),
            "search_ms_p95": round(float(np.percentile(times, 95)), 2),
            "recall_at_10": round(statistics.fmean(recall), 3),
            "recall_at_10_min": min(recall),
            "load": round(os.getloadavg()[0], 1),
        }
        db.close()
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m desktop.bench.ann_prerelease")
    p.add_argument("library", type=Path)
    p.add_argument("extension", type=Path, help="vec0.so of a sqlite-vec pre-release")
    p.add_argument("queries", type=Path, help=".npy matrix of query vectors")
    p.add_argument("--kinds", default="rescore,diskann")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--work", type=Path, default=None)
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown kinds {sorted(unknown)}: choose from {sorted(KINDS)}")
    queries = np.ascontiguousarray(np.load(args.queries), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        result = measure(args.library, args.extension, queries, kinds, args.rows, work)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
