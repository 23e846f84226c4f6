"""`folio eval adapter`: the base model and an adapter side by side on held-out questions.

Retrieval items go through Folio's answer path unchanged (`Answerer.ask`: search, the
relevance gate, the grounded prompt, the engine); an unanswerable variant uses the same
path with its gold paragraph dropped from the search results. Items with fixed passages
are asked with the same prompt functions. Base answers depend only on the model, the
questions and the prompt, so they are cached and shared by every adapter's eval.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from desktop.adapters import AdapterInfo
from desktop.adapters.eval_record import AdapterEvalResult, ItemResultJSON, Rates, ScoreJSON
from desktop.cancel import CancelToken
from desktop.engine.api import ChatEngine
from desktop.evaluate.adapter_items import EvalItem
from desktop.evaluate.adapter_scoring import Passage, Score, score_answer
from desktop.json_types import JSONObject
from desktop.library.passage import Citation
from desktop.library.search import Mode, Searcher, SearchResult
from desktop.rag.answer import Answerer
from desktop.rag.prompt import SYSTEM_PROMPT, messages_for, user_message

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # label ("base"/adapter name), done, total
EXTRA_DEPTH = 10  # results fetched beyond k so that k remain once the gold paragraph is gone
CACHE_VERSION = 2  # bump when what a cached answer records changes


class DroppingSearcher(Searcher):
    """A searcher that leaves out every passage of one document (an unanswerable variant)."""

    def __init__(self, inner: Searcher, drop: str) -> None:
        super().__init__(inner.library, inner.embedder, inner.fusion)
        self.drop = drop

    def search(
        self, query: str, k: int = 10, mode: Mode = "hybrid", folder_id: int | None = None
    ) -> SearchResult:
        result = super().search(query, k + EXTRA_DEPTH, mode, folder_id)
        hits = [h for h in result.hits if h.chunk.path != self.drop][:k]
        return SearchResult(hits, result.timings_ms)


@dataclass(frozen=True)
class ItemResult:
    """One model's answer to one item, and its score."""

    item_id: str
    answerable: bool
    answer: str
    score: Score
    gold_retrieved: bool  # a passage of the gold paragraph was among those given
    leaky: bool  # unanswerable variant whose remaining passages still hold the answer
    seconds: float
    passages: tuple[Passage, ...] = ()  # as the model saw them (so answers can be rescored)

    def to_json(self) -> ItemResultJSON:
        s = self.score
        score: ScoreJSON = {
            "refused": s.refused,
            "contains_gold": s.contains_gold,
            "cites_fact": s.cites_fact,
            "cites_gold_source": s.cites_gold_source,
            "shown_cites_fact": s.shown_cites_fact,
            "format_ok": s.format_ok,
            "n_citations": s.n_citations,
        }
        return {
            "item_id": self.item_id,
            "answerable": self.answerable,
            "answer": self.answer,
            "score": score,
            "gold_retrieved": self.gold_retrieved,
            "leaky": self.leaky,
            "seconds": self.seconds,
            "passages": [[p.text, p.source] for p in self.passages],
        }

    @classmethod
    def from_json(cls, data: ItemResultJSON) -> ItemResult:
        passages = tuple(Passage(t, s) for t, s in data.get("passages", []))
        return cls(
            item_id=data["item_id"],
            answerable=data["answerable"],
            answer=data["answer"],
            score=Score(**data["score"]),
            gold_retrieved=data["gold_retrieved"],
            leaky=data["leaky"],
            seconds=data["seconds"],
            passages=passages,
        )


def _answer_fixed(engine: ChatEngine, item: EvalItem, max_tokens: int) -> tuple[str, list[Passage]]:
    citations = [
        Citation.of_text(i, p.text, p.source) for i, p in enumerate(item.passages, start=1)
    ]
    messages = messages_for(item.question, citations)
    text = "".join(engine.stream_chat(messages, max_tokens=max_tokens)).strip()
    return text, list(item.passages)


def answer_item(
    answerer: Answerer, item: EvalItem, format_regex: str, cancel: CancelToken | None = None
) -> ItemResult:
    """Ask one item the way `folio ask` does, and score the answer."""
    started = time.perf_counter()
    found = True
    if answerer.engine is None:
        raise ValueError("an adapter is judged on written answers: the answerer has no model")
    if item.passages:
        text, passages = _answer_fixed(answerer.engine, item, answerer.max_tokens)
    else:
        asker = answerer
        if not item.answerable:
            asker = Answerer(
                DroppingSearcher(answerer.searcher, item.gold_source),
                answerer.engine,
                k=answerer.k,
                mode=answerer.mode,
                max_tokens=answerer.max_tokens,
                style_format=answerer.style_format,
            )
        answer = asker.ask(item.question, cancel=cancel)
        text, found = answer.text, answer.found
        passages = [Passage(c.text, c.path) for c in answer.passages]
    score = score_answer(text, passages, item.answers, item.gold_source, format_regex, found)
    gold_in = any(p.source == item.gold_source for p in passages)
    from desktop.evaluate.adapter_scoring import contains_any

    leaky = not item.answerable and any(contains_any(p.text, item.answers) for p in passages)
    return ItemResult(
        item.id,
        item.answerable,
        text,
        score,
        gold_in,
        leaky,
        time.perf_counter() - started,
        tuple(passages),
    )


def _rate(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(results: Sequence[ItemResult]) -> Rates:
    """The rates `folio eval adapter` reports, over answerable and unanswerable items."""
    ans = [r for r in results if r.answerable]
    una = [r for r in results if not r.answerable and not r.leaky]
    modelled = [r for r in results if r.score.format_ok is not None]
    return {
        "answerable": len(ans),
        "unanswerable": len(una),
        "leaky_skipped": sum(1 for r in results if not r.answerable and r.leaky),
        "gold_retrieved": _rate([r.gold_retrieved for r in ans]),
        "answer_rate": _rate([not r.score.refused for r in ans]),
        "contains_gold": _rate([r.score.contains_gold for r in ans]),
        "cites_fact": _rate([r.score.cites_fact for r in ans]),
        "cites_gold_paragraph": _rate([r.score.cites_gold_source for r in ans]),
        "shown_cites_fact": _rate([r.score.shown_cites_fact for r in ans]),
        "refusal": _rate([r.score.refused for r in una]),
        "compliance": _rate([bool(r.score.format_ok) for r in modelled]),
        "compliance_n": len(modelled),
        "median_seconds": statistics.median(r.seconds for r in results) if results else None,
    }


def base_cache_key(model_path: Path, items: Sequence[EvalItem], settings: JSONObject) -> str:
    """What the base answers depend on: model file, items, prompt, retrieval settings."""
    st = Path(model_path).stat()
    probe = user_message("?", [Citation.of_text(1, "p", "x")])
    blob = json.dumps(
        {
            "model": [str(Path(model_path).resolve()), st.st_size, st.st_mtime_ns],
            "items": [[i.id, i.question, [p.text for p in i.passages]] for i in items],
            "prompt": [SYSTEM_PROMPT, probe],
            "settings": settings,
            "version": CACHE_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def run_model(
    answerer: Answerer,
    items: Sequence[EvalItem],
    format_regex: str,
    label: str,
    on_progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> list[ItemResult]:
    """Answer every item with whatever adapters the engine has now."""
    out = []
    for i, item in enumerate(items):
        if cancel is not None:
            cancel.check()
        out.append(answer_item(answerer, item, format_regex, cancel))
        if on_progress is not None:
            on_progress(label, i + 1, len(items))
    return out


def evaluate_adapter(
    answerer: Answerer,
    engine: ChatEngine,
    adapter: AdapterInfo,
    items: Sequence[EvalItem],
    format_regex: str,
    settings: JSONObject,
    work_dir: Path,
    on_progress: Progress | None = None,
    cancel: CancelToken | None = None,
    use_cache: bool = True,
) -> AdapterEvalResult:
    """Answer `items` with the base model and with `adapter`; both summaries and answers."""
    started = time.perf_counter()
    cache = work_dir / "base" / f"{base_cache_key(engine.model_path, items, settings)}.json"
    engine.set_adapters([])
    base_results: list[ItemResult] | None = None
    if use_cache and cache.is_file():
        try:
            raw = json.loads(cache.read_text(encoding="utf-8"))
            base_results = [ItemResult.from_json(r) for r in raw]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable base answers %s: %s", cache, exc)
    if base_results is not None:
        # The format validator is the adapter's: rescore the cached base answers with it.
        base_results = [_rescored(r, items, format_regex) for r in base_results]
    else:
        base_results = run_model(answerer, items, format_regex, "base", on_progress, cancel)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps([r.to_json() for r in base_results]), encoding="utf-8")
    engine.set_adapters([(adapter, 1.0)])
    try:
        adapter_results = run_model(
            answerer, items, format_regex, adapter.name, on_progress, cancel
        )
    finally:
        engine.set_adapters([])
    return {
        "adapter": adapter.name,
        "model": Path(engine.model_path).name,
        "items": len(items),
        "format_regex": format_regex,
        "settings": settings,
        "base": summarize(base_results),
        "with_adapter": summarize(adapter_results),
        "answers": {
            "base": [r.to_json() for r in base_results],
            "adapter": [r.to_json() for r in adapter_results],
        },
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _rescored(r: ItemResult, items: Sequence[EvalItem], format_regex: str) -> ItemResult:
    """A cached answer judged again (the format validator is the adapter's)."""
    item = next(i for i in items if i.id == r.item_id)
    found = r.score.format_ok is not None
    score = score_answer(r.answer, r.passages, item.answers, item.gold_source, format_regex, found)
    return replace(r, score=score)
