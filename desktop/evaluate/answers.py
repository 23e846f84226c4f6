"""`folio eval answers FILE`: are Folio's answers right, and do they cite the passage?

Every configuration answers the same SQuAD-format questions in the same run, interleaved
(the order rotates per question), through the shipped answer path: one library of the
file's paragraphs (one text file each), the same searcher, the same engine.

Configurations:
- `default`: what a fresh install answers with (Settings' default answer mode and style);
- `quote`: Folio's quote answer (desktop/rag/quote.py): no model, the chosen sentence;
- `base`: the model writes, no style adapter;
- an adapter's name (`grounded`), or `LABEL=PATH.gguf` for an adapter file (for example
  the adapters shipped before, to compare with);
- `extractive`: no language model: the sentence of the top three passages that the
  library's own embedder finds most similar to the question, quoted with its [n]. This
  is the bar: an answer that holds the gold answer less often than a quote is worse
  than a search result.

Scored per configuration: the answer holds a gold answer (citation marks removed, SQuAD
normalisation), its first sentence does, SQuAD EM and F1, a citation points at the
question's own paragraph, an answerable question declined, answer length in words, the
adapter's own format (its sidecar's `format_regex`), and the first token's time. With
`removed`, the same questions are also asked of the library without their article (its
paragraphs are filtered out of every search), where declining is right.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.evaluate.metrics import exact_match, f1, mean, normalize_answer
from desktop.evaluate.squad import (
    Question,
    declined,
    load_squad,
    rotated,
    spread_questions,
    strip_citations,
    write_paragraphs,
)
from desktop.evaluate.stats import summarize
from desktop.json_types import JSONObject
from desktop.library.search import Searcher, SearchResult
from desktop.rag.budget import sentences

if TYPE_CHECKING:
    from desktop.engine.api import ChatEngine
    from desktop.library.modes import Mode
    from desktop.rag.answer import Answer
    from desktop.rag.modes import AnswerMode
    from desktop.session import Session

Say = Callable[[str], None]
EXTRACTIVE_PASSAGES = 3


def first_sentence(text: str) -> str:
    """The answer's first sentence (or first line, for bullets)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    parts = sentences(lines[0]) if lines else []
    return parts[0] if parts else ""


def follows(fmt: re.Pattern[str] | None, a: Answer) -> bool | None:
    """Whether the answer has the configuration's declared format (None: none declared)."""
    return None if fmt is None else fmt.fullmatch(a.text.strip()) is not None


@dataclass
class Scores:
    """Per-configuration sums over the questions asked."""

    contains: list[float] = field(default_factory=list)
    first_contains: list[float] = field(default_factory=list)
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    gold_cited: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    words: list[float] = field(default_factory=list)
    format_ok: list[float] = field(default_factory=list)
    model_format_ok: list[float] = field(default_factory=list)  # as the model wrote it
    ttft_ms: list[float] = field(default_factory=list)
    declined_removed: list[float] = field(default_factory=list)

    def add(self, q: Question, a: Answer, fmt: re.Pattern[str] | None) -> None:
        text = strip_citations(a.text)
        norm = normalize_answer(text)
        first = normalize_answer(strip_citations(first_sentence(a.text)))
        golds = [normalize_answer(g) for g in q.answers]
        self.contains.append(float(any(g and g in norm for g in golds)))
        self.first_contains.append(float(any(g and g in first for g in golds)))
        self.em.append(exact_match(text, q.answers))
        self.f1.append(f1(text, q.answers))
        self.gold_cited.append(float(any(Path(c.path).stem == q.paragraph for c in a.citations)))
        self.refused.append(float(declined(a.text, a.found)))
        self.words.append(float(len(text.split())))
        if fmt is not None:
            self.format_ok.append(float(bool(follows(fmt, a))))
            if a.tokens:
                self.model_format_ok.append(float(bool(fmt.fullmatch(a.model_text.strip()))))
        self.ttft_ms.append(a.timings_ms.get("first_token", 0.0))

    def report(self) -> dict[str, object]:
        pct = lambda xs: round(100 * mean(xs), 1) if xs else None  # noqa: E731
        return {
            "n": len(self.contains),
            "contains_gold": pct(self.contains),
            "first_sentence_contains_gold": pct(self.first_contains),
            "exact_match": pct(self.em),
            "f1": pct(self.f1),
            "citation_of_gold": pct(self.gold_cited),
            "refused_answerable": pct(self.refused),
            "median_words": statistics.median(self.words) if self.words else None,
            "format_compliance": pct(self.format_ok),
            "model_format_compliance": pct(self.model_format_ok),
            "first_token_ms": summarize(self.ttft_ms) if self.ttft_ms else None,
            "declined_article_removed": pct(self.declined_removed),
            "n_removed": len(self.declined_removed),
        }


class WithoutArticle(Searcher):
    """A searcher over the same library that never returns one article's paragraphs, as if
    they had not been indexed (asks the real searcher for more, then filters)."""

    def __init__(self, inner: Searcher, article: str) -> None:
        super().__init__(inner.library, inner.embedder, inner.fusion)
        self.inner, self.article = inner, article

    def search(
        self, query: str, k: int = 8, mode: Mode = "hybrid", folder_id: int | None = None
    ) -> SearchResult:
        result = self.inner.search(query, k * 4, mode, folder_id)
        kept = [h for h in result.hits if not Path(h.chunk.path).stem.startswith(self.article)]
        return SearchResult(kept[:k], result.timings_ms)


@dataclass(frozen=True)
class Config:
    """One way of answering: a label, and the adapters the model writes with (None: the
    extractive bar; `quote`: Folio's quote answer, no model)."""

    label: str
    adapters: tuple[tuple[str | Path, float], ...] | None
    format_regex: str = ""
    quote: bool = False


def parse_configs(names: Sequence[str], session: Session) -> list[Config]:
    """Configurations from their names (see the module docstring)."""
    from desktop.adapters import discover
    from desktop.settings import Settings
    from desktop.train import sidecar

    def fmt(path: Path) -> str:
        return str(sidecar.read_sidecar(path).get("format_regex", ""))

    infos = {i.name: i for i in discover(session.locations.adapter_dirs)}
    fresh = Settings()  # what a new install answers with, whatever this user has chosen
    default = fresh.style
    out: list[Config] = []
    for name in names:
        label, _, path = name.partition("=")
        if name == "extractive":
            out.append(Config(name, None))
        elif name == "quote":
            out.append(Config(name, (), quote=True))
        elif name == "base":
            out.append(Config(name, ()))
        elif name == "default" and fresh.answer_mode == "quote":
            out.append(Config("default (quote)", (), quote=True))
        elif name == "default":
            regex = fmt(infos[default].path) if default in infos else ""
            adapters = ((default, fresh.style_scale),) if default else ()
            out.append(Config(f"default ({default or 'no adapter'})", adapters, regex))
        elif path:
            out.append(Config(label, ((Path(path), 1.0),), fmt(Path(path))))
        elif name in infos:
            out.append(Config(name, ((name, 1.0),), fmt(infos[name].path)))
        else:
            raise ValueError(f"unknown configuration {name!r}")
    return out


def extractive(searcher: Searcher, question: str, k: int) -> Answer:
    """The bar: the passage sentence most similar to the question, quoted with its [n]."""
    import numpy as np

    from desktop.rag.answer import Answer, relevant
    from desktop.rag.prompt import NOT_FOUND, citations_for

    started = time.perf_counter()
    hits = relevant(searcher.search(question, k).hits, question)[:EXTRACTIVE_PASSAGES]
    passages = citations_for(hits)
    pool = [(c, s) for c in passages for s in sentences(c.text)]
    if not pool:
        ms = (time.perf_counter() - started) * 1000
        return Answer(NOT_FOUND, [], [], {"first_token": ms, "total": ms}, found=False)
    q = searcher.embedder.embed_query(question)
    vecs = searcher.embedder.embed_many([s for _, s in pool])
    best = int(np.argmax(vecs @ q))
    c, s = pool[best]
    ms = (time.perf_counter() - started) * 1000
    return Answer(f"{s} [{c.n}]", [c], passages, {"first_token": ms, "total": ms})


def _ask(
    session: Session, engine: ChatEngine, cfg: Config, searcher: Searcher, q: Question
) -> Answer:
    from desktop.rag.answer import Answerer

    if cfg.adapters is None:
        return extractive(searcher, q.question, session.answerer.k)
    if not cfg.quote:
        engine.set_adapters(list(cfg.adapters))
    a = session.answerer
    mode: AnswerMode = "quote" if cfg.quote else "write"
    answerer = Answerer(
        searcher,
        engine,
        a.k,
        a.mode,
        a.max_tokens,
        a.budget,
        answer_mode=mode,
        style_format=lambda: cfg.format_regex,
    )
    return answerer.ask(q.question)


def _answer_record(label: str, q: Question, a: Answer, fmt: re.Pattern[str] | None) -> JSONObject:
    return {
        "config": label,
        "question": q.question,
        "paragraph": q.paragraph,
        "gold": list(q.answers),
        "answer": a.text,
        "found": a.found,
        "grounding": a.grounding,
        "cited": [Path(c.path).stem for c in a.citations],
        "format_ok": follows(fmt, a),
        "model_text": a.model_text,
    }


def run_answers(
    path: Path,
    work: Path,
    questions: int,
    configs: Sequence[str],
    removed: Sequence[str] = (),
    max_tokens: int = 64,
    threads: int = 0,
    say: Say | None = None,
    record: Callable[[JSONObject], None] | None = None,
) -> dict[str, object]:
    """Ask the questions through each configuration; scores per configuration.

    Args:
        removed: the configurations also asked with each question's article filtered out.
        record: receives each answer as asked (configuration, question, gold, answer), to
            read what a score stands for.
    """
    from desktop.evaluate.naive import bench_config
    from desktop.session import Session

    data = load_squad(path)
    folder = Path(work) / "paragraphs"
    write_paragraphs(data, folder)
    asked = data.questions if questions <= 0 else spread_questions(data.questions, questions)
    with Session(bench_config(Path(work) / "library.sqlite", threads)) as s:
        s.indexer.index([folder])
        s.answerer.max_tokens = max_tokens
        cfgs = parse_configs(configs, s)
        scores = {c.label: Scores() for c in cfgs}
        by_label = {c.label: c for c in cfgs}
        formats = {c.label: re.compile(c.format_regex) if c.format_regex else None for c in cfgs}
        removed_labels = {c.label for c, n in zip(cfgs, configs, strict=True) if n in removed}
        engine = s.engine
        started = time.perf_counter()
        for i, q in enumerate(asked):
            without = WithoutArticle(s.searcher, q.paragraph.split("-")[0] + "-")
            for label in rotated([c.label for c in cfgs], i):
                cfg = by_label[label]
                a = _ask(s, engine, cfg, s.searcher, q)
                scores[cfg.label].add(q, a, formats[cfg.label])
                if record is not None:
                    record(_answer_record(cfg.label, q, a, formats[cfg.label]))
                if cfg.label in removed_labels:
                    gone = _ask(s, engine, cfg, without, q)
                    scores[cfg.label].declined_removed.append(
                        float(declined(gone.text, gone.found))
                    )
            if say is not None and (i + 1) % 10 == 0:
                say(f"asked {i + 1}/{len(asked)} ({time.perf_counter() - started:.0f} s)")
        engine.set_adapters([])
        model = engine.model_path.name
    return {
        "file": str(path),
        "paragraphs": len(data.paragraphs),
        "questions": len(asked),
        "model": model,
        "threads": threads or "default",
        "max_tokens": max_tokens,
        "load": [round(x, 2) for x in os.getloadavg()],
        "configs": {label: sc.report() for label, sc in scores.items()},
    }
