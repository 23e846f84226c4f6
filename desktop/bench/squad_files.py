"""The indexing benchmark's folder: SQuAD training paragraphs, one paragraph per file.

The files are generated at bench time into a temporary folder (never into the repo) from
`../shared/train/squad1/train-v1.1.explorer.json.gz`, or whichever SQuAD v1.1 file is
given. The paragraphs are drawn evenly over the whole set, so a few hundred files span
many articles rather than the first few.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from desktop.json_types import as_object

DEFAULT_SQUAD = (
    Path(__file__).resolve().parents[2].parent / "shared/train/squad1/train-v1.1.explorer.json.gz"
)


def paragraphs(source: Path) -> list[tuple[str, str]]:
    """(article title, paragraph) for every paragraph of a SQuAD v1.1 file (.json or .gz)."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8") as f:
        data = as_object(json.load(f), str(source))
    out: list[tuple[str, str]] = []
    articles = data.get("data")
    if not isinstance(articles, list):
        raise ValueError(f"{source}: not a SQuAD v1.1 file (no data list)")
    for article in articles:
        entry = as_object(article, f"{source}: article")
        title = str(entry.get("title", ""))
        paras = entry.get("paragraphs")
        for para in paras if isinstance(paras, list) else []:
            out.append((title, str(as_object(para, f"{source}: paragraph").get("context", ""))))
    return out


def write_files(source: Path, folder: Path, n: int) -> list[Path]:
    """Write `n` paragraphs of `source`, spread evenly over it, as text files in `folder`.

    Raises:
        ValueError: the file holds fewer than `n` paragraphs.
    """
    found = paragraphs(source)
    if n > len(found):
        raise ValueError(f"{source} holds {len(found)} paragraphs, fewer than {n}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(n):
        title, text = found[i * len(found) // n]
        path = folder / f"{i:05d}-{_slug(title)[:40]}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title).strip("-") or "paragraph"
