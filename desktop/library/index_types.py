"""What indexing reports: progress snapshots, run reports, and a watcher's changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class IndexProgress:
    """A snapshot of indexing progress, sent to the progress callback."""

    files_total: int = 0
    files_done: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    chunks_done: int = 0
    elapsed_s: float = 0.0
    current: str = ""
    phase: str = "scanning"  # waiting | scanning | indexing | embedding | done
    # The library's chunks that have vectors so far, of all its chunks (0 of 0 until
    # counted): text is stored first and searchable by keyword at once, vectors come after.
    chunks_embedded: int = 0
    chunks_total: int = 0

    @property
    def embedding_done(self) -> bool:
        return self.chunks_embedded >= self.chunks_total

    def embedded_text(self) -> str:
        """ "embedded N of M" while vectors are missing, else ""."""
        if self.embedding_done:
            return ""
        return f"embedded {self.chunks_embedded:,} of {self.chunks_total:,} chunks"

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        work_done = self.files_done - self.files_skipped - self.files_failed
        remaining = self.files_total - self.files_done
        if work_done <= 0 or remaining <= 0:
            return None if remaining > 0 else 0.0
        return self.elapsed_s / work_done * remaining


@dataclass
class IndexReport:
    """What an indexing run did.

    `skipped` lists what the scans left out and why; `vanished` the files deleted while the
    run read them; `embedded` counts the chunks the embedder computed, `reused` those whose
    vectors were already stored (same text, same model).
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    renamed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    parse_peak_rss: int = 0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Changes:
    """What a folder watcher saw under one indexed folder since the last sync."""

    changed: set[Path] = field(default_factory=set)  # files created or modified
    deleted: set[Path] = field(default_factory=set)  # files or folders
    moved: list[tuple[Path, Path]] = field(default_factory=list)
    rescan: bool = False  # something only a walk of the whole folder can settle
