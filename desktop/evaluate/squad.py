"""`folio eval squad`: cited answers to SQuAD-format questions through the real answer path.

The paragraphs become a library (one text file each, the article title as its heading), and
each question is asked of it. Reported per pipeline: answer exact match and F1 (citation
marks removed first), how often a citation points at the question's own paragraph, how
often Folio declines, and the time to the first token. The shipped pipeline (Folio's
answerer) and the naive one (`desktop.evaluate.naive`) answer the same questions in the same
run, interleaved, so their figures compare.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.evaluate.metrics import exact_match, f1, mean
from desktop.evaluate.stats import summarize

if TYPE_CHECKING:
    from desktop.evaluate.naive import Context

Say = Callable[[str], None]
_CITATION = re.compile(r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]")
_DECLINES = ("couldn't find", "do not say", "does not say", "don't say", "doesn't say")
PIPELINES = ("folio", "naive", "budget", "q8", "wide")


@dataclass(frozen=True)
class Question:
    """One question with its gold answers and the paragraph that holds them."""

    qid: str
    question: str
    answers: tuple[str, ...]
    paragraph: str  # the paragraph's file stem


@dataclass(frozen=True)
class SquadData:
    paragraphs: dict[str, tuple[str, str]]  # file stem -> (title, context)
    questions: list[Question]


def load_squad(path: Path) -> SquadData:
    """Paragraphs and questions of a SQuAD v1.1-format JSON file (gzip-compressed if its
    name ends in .gz)."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data = json.loads(raw.decode("utf-8"))
    paragraphs: dict[str, tuple[str, str]] = {}
    questions: list[Question] = []
    for a, article in enumerate(data["data"]):
        title = str(article.get("title", f"article {a}")).replace("_", " ")
        for p, para in enumerate(article["paragraphs"]):
            stem = f"a{a:03d}-p{p:03d}"
            paragraphs[stem] = (title, para["context"])
            for qa in para["qas"]:
                golds = tuple(dict.fromkeys(x["text"] for x in qa["answers"]))
                questions.append(Question(str(qa["id"]), qa["question"], golds, stem))
    return SquadData(paragraphs, questions)


def write_paragraphs(data: SquadData, folder: Path) -> None:
    """One text file per paragraph, its article's title as the first line (kept if there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, (title, context) in data.paragraphs.items():
        path = folder / f"{stem}.txt"
        if not path.exists():
            path.write_text(f"{title}\n\n{context}\n", encoding="utf-8")


def strip_citations(text: str) -> str:
    """The answer without its [n] marks."""
    return " ".join(_CITATION.sub(" ", text).split())


def declined(text: str, found: bool) -> bool:
    """Did Folio (or the model) decline to answer?"""
    low = text.lower()
    return not found or any(phrase in low for phrase in _DECLINES)


@dataclass
class Tally:
    """Per-pipeline sums over the questions asked."""

    em: list[float]
    f1: list[float]
    gold_cited: list[float]
    declined: list[float]
    ttft_ms: list[float]

    @classmethod
    def empty(cls) -> Tally:
        return cls([], [], [], [], [])

    def add(
        self, q: Question, text: str, found: bool, cited_paths: Sequence[str], ttft: float
    ) -> None:
        answer = strip_citations(text)
        self.em.append(exact_match(answer, q.answers))
        self.f1.append(f1(answer, q.answers))
        self.gold_cited.append(float(any(Path(p).stem == q.paragraph for p in cited_paths)))
        self.declined.append(float(declined(text, found)))
        self.ttft_ms.append(ttft)

    def report(self) -> dict[str, object]:
        return {
            "exact_match": round(100 * mean(self.em), 2),
            "f1": round(100 * mean(self.f1), 2),
            "citation_of_gold": round(100 * mean(self.gold_cited), 2),
            "decline_rate": round(100 * mean(self.declined), 2),
            "first_token_ms": summarize(self.ttft_ms) if self.ttft_ms else None,
            "n": len(self.em),
        }


def run_squad(
    path: Path,
    work: Path,
    questions: int = 0,
    pipelines: Sequence[str] = ("folio", "naive"),
    max_tokens: int = 64,
    say: Say | None = None,
    threads: int = 0,
) -> dict[str, object]:
    """Ask the questions through each pipeline, interleaved; metrics per pipeline.

    Args:
        path: the SQuAD-format JSON file.
        work: where the paragraphs and the library go (reused across runs).
        questions: how many, spread over the articles (0: all).
        pipelines: "folio" (the shipped answer path), "naive" (whole passages, published
            Q4_1 model, no prefix reuse), "budget" (naive plus the context budget only),
            "q8" (naive plus the Q8_0 model only), "wide" (the shipped path with
            `WIDE_BUDGET`, the larger budget shipped before, instead of the default).
        max_tokens: answer length cap, the same for every pipeline.
        threads: CPU threads of every model (0: Folio's default).
    """
    from desktop.evaluate.naive import (
        FAST_MODEL,
        STOCK_MODEL,
        RawModel,
        bench_config,
        naive_answer,
        retrieve,
    )
    from desktop.models.installed import require_local
    from desktop.rag.answer import Answerer
    from desktop.rag.budget import DEFAULT_BUDGET, WIDE_BUDGET
    from desktop.session import Session

    unknown = set(pipelines) - set(PIPELINES)
    if unknown:
        raise ValueError(f"unknown pipelines {sorted(unknown)}; choose from {PIPELINES}")
    data = load_squad(path)
    folder = Path(work) / "paragraphs"
    write_paragraphs(data, folder)
    asked = data.questions if questions <= 0 else spread_questions(data.questions, questions)
    tallies = {p: Tally.empty() for p in pipelines}
    out: dict[str, object] = {"file": str(path), "paragraphs": len(data.paragraphs)}
    with Session(bench_config(Path(work) / "library.sqlite", threads)) as s:
        s.indexer.index([folder])
        s.answerer.max_tokens = max_tokens
        models: dict[str, RawModel] = {}
        if {"naive", "budget"} & set(pipelines):
            stock = s.catalog.get(STOCK_MODEL)
            models["q4_1"] = RawModel(
                require_local(stock, s.locations.models_search_path), threads=threads or None
            )
        if "q8" in pipelines:
            models["q8_0"] = RawModel(
                require_local(s.catalog.get(FAST_MODEL), s.locations.models_search_path),
                threads=threads or None,
            )
        wide = Answerer(
            s.searcher, s.engine, s.answerer.k, s.answerer.mode, max_tokens, WIDE_BUDGET
        )
        out["model"] = s.engine.model_path.name
        started = time.perf_counter()
        for i, q in enumerate(asked):
            context = retrieve(s.searcher, q.question, s.answerer.k, DEFAULT_BUDGET)
            for name in rotated(pipelines, i):
                if name == "folio":
                    a = s.answerer.ask(q.question)
                elif name == "wide":
                    a = wide.ask(q.question)
                elif name == "naive":
                    a = naive_answer(models["q4_1"], context, max_tokens)
                elif name == "budget":
                    a = naive_answer(models["q4_1"], _budgeted(context), max_tokens)
                else:
                    a = naive_answer(models["q8_0"], context, max_tokens)
                tallies[name].add(
                    q, a.text, a.found, [c.path for c in a.citations], a.timings_ms["first_token"]
                )
            if say is not None and (i + 1) % 20 == 0:
                say(f"asked {i + 1}/{len(asked)} ({time.perf_counter() - started:.0f} s)")
        for m in models.values():
            m.close()
    out["questions"] = len(asked)
    out["threads"] = threads or "default"
    out["load"] = [round(x, 2) for x in os.getloadavg()]
    out["pipelines"] = {name: t.report() for name, t in tallies.items()}
    return out


def spread(items: list[str], n: int) -> list[str]:
    """n items taken evenly across the list (so every article has its turn)."""
    if n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def of_articles(data: SquadData, n: int) -> SquadData:
    """The paragraphs and questions of n articles spread evenly over the file."""
    names = sorted({stem.split("-")[0] for stem in data.paragraphs})
    kept = set(spread(names, n))
    return SquadData(
        {s: p for s, p in data.paragraphs.items() if s.split("-")[0] in kept},
        [q for q in data.questions if q.paragraph.split("-")[0] in kept],
    )


def spread_questions(items: list[Question], n: int) -> list[Question]:
    chosen = set(spread([q.qid for q in items], n))
    return [q for q in items if q.qid in chosen]


def rotated(names: Sequence[str], i: int) -> list[str]:
    """The pipelines in an order that rotates per question, so none always goes first."""
    names = list(names)
    shift = i % len(names)
    return names[shift:] + names[:shift]


def _budgeted(context: Context) -> Context:
    """The context as the budget alone sees it: the selected passages, trimmed."""
    return replace(context, passages=context.budget_prompt)
