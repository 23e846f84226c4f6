"""How the library commands show reports, status and indexing progress, as text and as
JSON."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TypeVar

from tqdm import tqdm

from desktop.library.indexer import IndexProgress, IndexReport
from desktop.library.issue_text import name_in_folder, reason_without_path
from desktop.library.pending import Embedding
from desktop.library.repair import Diagnosis
from desktop.library.store import Library
from desktop.wording import counted

T = TypeVar("T")
# Skipped entries listed one by one; past this, grouped by reason.
_LIST_LIMIT = 12


def summary(report: IndexReport) -> str:
    parts = [
        f"{report.added} new",
        f"{report.updated} updated",
        f"{report.unchanged} unchanged",
        f"{report.removed} removed",
    ]
    if report.renamed:
        parts.append(f"{report.renamed} renamed")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    return (
        ", ".join(parts)
        + f"; {report.chunks} chunks ({report.embedded} embedded, {report.reused} reused)"
    )


def report_json(report: IndexReport) -> dict[str, object]:
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "renamed": report.renamed,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "reused": report.reused,
        "seconds": round(report.seconds, 2),
        "chunks_per_s": round(report.chunks_per_s, 1),
        "failed": [{"path": p, "error": e} for p, e in report.failed],
        "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "vanished": [{"path": p, "reason": "deleted while being indexed"} for p in report.vanished],
        "notes": [{"path": p, "note": n} for p, n in report.notes],
    }


def embedding_json(embedding: Embedding) -> dict[str, object]:
    """What `--json` search and ask add while the library is still being embedded: how
    much of it the vector search saw ({} once every chunk has its vector)."""
    if embedding.done:
        return {}
    return {
        "indexing": {
            "embedded": embedding.embedded,
            "chunks": embedding.chunks,
            "percent": embedding.percent,
            "note": embedding.note(),
        }
    }


def print_embedding(embedding: Embedding) -> None:
    """One line on stderr while the library is still being embedded."""
    if not embedding.done:
        print(embedding.note(), file=sys.stderr)


def print_report(report: IndexReport) -> None:
    print(
        f"indexed: {summary(report)} in {report.seconds:.1f} s "
        f"({report.chunks_per_s:.1f} chunks/s)",
        file=sys.stderr,
    )
    for path, error in report.failed:
        print(f"  failed: {path}: {reason_without_path(path, error)}", file=sys.stderr)
    for path in report.vanished:
        print(f"  skipped: {path}: deleted while being indexed", file=sys.stderr)
    for path, note in report.notes:
        print(f"  note: {path}: {note}", file=sys.stderr)
    if report.skipped:
        print(f"  skipped {len(report.skipped)} (see `folio status`)", file=sys.stderr)


def status_json(lib: Library) -> dict[str, object]:
    bound = lib.embedder()
    folders = lib.status()
    counts = lib.counts()
    return {
        "library": str(lib.path),
        "embedder": bound[0] if bound else None,
        "damaged": False,
        **counts,
        "embedded": lib.embedding(exact=True).embedded,
        "skipped": sum(len(f.skipped) for f in folders),
        "folders_detail": [
            {
                "path": f.path,
                "documents": f.documents,
                "chunks": f.chunks,
                "indexed_at": f.indexed_at,
                "failed": [{"path": p, "error": e} for p, e in f.failed],
                "skipped": [{"path": p, "reason": r} for p, r in f.skipped],
                "notes": [{"path": p, "note": n} for p, n in f.noted],
            }
            for f in folders
        ],
    }


def damage_json(diagnosis: Diagnosis) -> dict[str, object]:
    return {
        "library": str(diagnosis.path),
        "damaged": True,
        "problems": diagnosis.problems,
        "folders": diagnosis.folders,
        "message": diagnosis.message(),
        "rebuild": "folio rebuild",
    }


def print_status(lib: Library) -> None:
    folders = lib.status()
    counts = lib.counts()
    skipped = sum(len(f.skipped) for f in folders)
    print(f"library: {lib.path}")
    print(
        f"{counted(counts['folders'], 'folder')}, {counted(counts['documents'], 'document')}, "
        f"{counted(counts['chunks'], 'chunk')}, {counts['failed']:,} failed, {skipped:,} skipped"
    )
    embedding = lib.embedding()
    if not embedding.done:
        print(
            f"embedded {embedding.embedded:,} of {embedding.chunks:,} chunks "
            "(`folio index` embeds the rest)"
        )
    for f in folders:
        print(f"  {f.path}: {counted(f.documents, 'document')}, {counted(f.chunks, 'chunk')}")
        for path, error in f.failed:
            print(f"    failed: {name_in_folder(path, f.path)}: {reason_without_path(path, error)}")
        for path, note in f.noted:
            for line in note.splitlines():
                print(f"    note: {name_in_folder(path, f.path)}: {line}")
        if len(f.skipped) <= _LIST_LIMIT:
            for path, reason in f.skipped:
                print(f"    skipped: {name_in_folder(path, f.path)}: {reason}")
        else:
            groups = Counter(_kind(r) for _, r in f.skipped)
            for kind, n in groups.most_common():
                print(f"    skipped {n}: {kind}")
            print("    (`folio status --json` lists every skipped file)")


def _kind(reason: str) -> str:
    """A skip reason without the file-specific part, for grouping."""
    if reason.startswith("matched the ignore rule"):
        return "matched an ignore rule (.gitignore or .folioignore)"
    if reason.startswith("unsupported file type"):
        return "unsupported file type"
    if " MB is over the " in reason:
        return "over the file size limit"
    return reason.split(" (")[0]


class ProgressBar:
    """Renders indexing progress on stderr: files, chunks/s and ETA, then "embedded N of M"
    (the text is searchable by keyword already while the vectors are computed)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.embed_bar: tqdm | None = None
        self.waiting = False

    def __call__(self, p: IndexProgress) -> None:
        if p.phase == "waiting" and not self.waiting:
            self.waiting = True
            print(f"folio: {p.current}", file=sys.stderr)
        if not self.enabled:
            return
        if self.bar is None and p.phase == "indexing":
            self.bar = _bar(p.files_total, "file", "indexing")
        if self.bar is not None and self.embed_bar is None:
            self.bar.total = p.files_total
            self.bar.n = p.files_done
            embedded = f", {p.embedded_text()}" if p.embedded_text() else ""
            self.bar.set_postfix_str(
                f"{p.chunks_done} chunks, {p.chunks_per_s:.1f} chunks/s{embedded}", refresh=False
            )
            self.bar.refresh()
        if p.phase == "embedding" and not p.embedding_done:
            self._embedding(p)

    def _embedding(self, p: IndexProgress) -> None:
        if self.embed_bar is None:
            if self.bar is not None:
                self.bar.close()
            print("folio: the text is searchable by keyword now; embedding", file=sys.stderr)
            self.embed_bar = _bar(p.chunks_total, "chunk", "embedded")
        self.embed_bar.total = p.chunks_total
        self.embed_bar.n = p.chunks_embedded
        self.embed_bar.set_postfix_str(f"embedded {p.chunks_embedded:,} of {p.chunks_total:,}")
        self.embed_bar.refresh()

    def close(self) -> None:
        for bar in (self.bar, self.embed_bar):
            if bar is not None:
                bar.close()


def _bar(total: int, unit: str, desc: str) -> tqdm:
    """A progress bar on stderr, as wide as the terminal."""
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, desc=desc)
