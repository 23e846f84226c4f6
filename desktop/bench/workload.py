"""Reproducible workloads for the benchmarks: a real document folder plus its questions.

- `sample`: Folio's generated sample folder (a PDF, notes, code) and its four questions;
  always available, used by the tests.
- `squad:FILE`: the paragraphs of a SQuAD-format file as text files (XQuAD's 240), and a
  spread of its questions.
- `beir:DIR`: a BEIR collection's documents relevant to its first test queries, plus as
  many other documents again, and those queries.
The folder is written once into the work folder and indexed through Folio's real pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop.evaluate.beir import load_beir, write_corpus
from desktop.evaluate.squad import load_squad, spread, write_paragraphs
from desktop.sample import QUESTIONS, make_corpus


@dataclass(frozen=True)
class Workload:
    """A folder of documents and questions asked of it."""

    name: str
    folder: Path
    questions: list[str]


def make_workload(spec: str, work: Path, questions: int = 20) -> Workload:
    """Write (once) and describe the workload named by `spec` under `work`.

    Raises:
        ValueError: an unknown workload kind.
    """
    kind, _, arg = spec.partition(":")
    work = Path(work)
    if kind == "sample":
        folder = work / "sample" / "project"
        if not folder.exists():
            make_corpus(work / "sample")
        return Workload("sample", folder, list(QUESTIONS)[: max(1, questions)])
    if kind == "squad":
        data = load_squad(Path(arg))
        folder = work / f"squad-{Path(arg).stem}" / "paragraphs"
        write_paragraphs(data, folder)
        return Workload(
            f"squad:{Path(arg).name}",
            folder,
            spread([q.question for q in data.questions], questions),
        )
    if kind == "beir":
        corpus, queries, qrels = load_beir(Path(arg), "test")
        chosen = list(queries)[:questions]
        wanted = {d for q in chosen for d in qrels[q] if d in corpus}
        others = [d for d in corpus if d not in wanted][: max(len(wanted), 200)]
        folder = work / f"beir-{Path(arg).name}-{questions}"
        write_corpus({d: corpus[d] for d in [*sorted(wanted), *others]}, folder)
        return Workload(f"beir:{Path(arg).name}", folder, [queries[q] for q in chosen])
    raise ValueError(f"unknown workload {spec!r}: use sample, squad:FILE or beir:DIR")
