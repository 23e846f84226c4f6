"""Held-out questions for `folio eval adapter`: XQuAD as a library, or a prompts file.

XQuAD (English) becomes a folder of one text file per paragraph, indexed into its own
library; each sampled question is asked through Folio's answer path as it is, and again
with its gold paragraph dropped from retrieval (an unanswerable variant). A prompts file
gives passages directly: JSONL lines `{"question", "passages": [...], "answers": [...],
"gold": [n, ...]}`, where an empty `gold` marks a question the passages cannot answer.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from desktop import paths
from desktop.errors import FolioError
from desktop.evaluate.adapter_scoring import Passage
from desktop.json_types import JSONObject, numbered_lines

XQUAD_FILE = "xquad.en.json"
DEFAULT_QUESTIONS = 40
DEFAULT_SEED = 8


class EvalDataError(FolioError):
    """The evaluation data is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class EvalItem:
    """One question to ask, with its gold answers and where the answer lives."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold_source: str  # path of the gold paragraph's file ("" when unknown)
    answerable: bool
    passages: tuple[Passage, ...] = ()  # fixed passages; empty: retrieve from the library


def default_xquad_dir() -> Path:
    """Where the shared evaluation data keeps XQuAD (override with --xquad)."""
    return paths.bundled_models_dir().parent.parent / "shared" / "eval" / "xquad_en"


def eval_cache_dir(cache_dir: Path) -> Path:
    """The adapter evaluation's working folder (its XQuAD library, cached base answers)."""
    return cache_dir / "eval" / "xquad-en"


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:60] or "article"


def write_xquad_docs(xquad_dir: Path, docs_dir: Path) -> dict[str, list[JSONObject]]:
    """One text file per XQuAD paragraph under `docs_dir`; returns questions per file.

    Raises:
        EvalDataError: the XQuAD file is missing or not SQuAD-shaped.
    """
    source = Path(xquad_dir) / XQUAD_FILE
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        articles = data["data"]
    except FileNotFoundError:
        raise EvalDataError(f"XQuAD not found: {source} (pass --xquad DIR)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalDataError(f"cannot read XQuAD from {source}: {exc}") from None
    docs_dir.mkdir(parents=True, exist_ok=True)
    questions: dict[str, list[JSONObject]] = {}
    for article in articles:
        slug = _slug(str(article.get("title", "")))
        for i, para in enumerate(article.get("paragraphs", [])):
            path = docs_dir / f"{slug}-{i:02d}.txt"
            text = str(para["context"]).strip() + "\n"
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            questions[str(path.resolve())] = list(para.get("qas", []))
    return questions


def xquad_items(
    questions: dict[str, list[JSONObject]],
    n: int = DEFAULT_QUESTIONS,
    seed: int = DEFAULT_SEED,
) -> list[EvalItem]:
    """`n` questions from distinct paragraphs, each also as an unanswerable variant."""
    rng = random.Random(seed)
    sources = sorted(questions)
    rng.shuffle(sources)
    items: list[EvalItem] = []
    for source in sources:
        qas = [q for q in questions[source] if q.get("answers")]
        if not qas:
            continue
        qa = rng.choice(qas)
        given = qa["answers"]
        listed = given if isinstance(given, list) else []  # SQuAD: a list of {"text": ...}
        answers = tuple(str(a["text"]) for a in listed if isinstance(a, dict))
        qid, question = str(qa["id"]), str(qa["question"])
        items.append(EvalItem(qid, question, answers, source, True))
        items.append(EvalItem(qid + ":dropped", question, answers, source, False))
        if len(items) >= 2 * n:
            break
    return items


def prompts_items(path: Path) -> list[EvalItem]:
    """Items from a prompts JSONL file, every bad line named.

    Raises:
        EvalDataError: the file cannot be read or a line is malformed.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalDataError(f"cannot read prompts file {path}: {exc.strerror or exc}") from None
    items: list[EvalItem] = []
    for number, line in numbered_lines(lines):
        try:
            obj = json.loads(line)
            question = obj["question"]
            passages = obj["passages"]
            answers = obj.get("answers", [])
            gold = obj.get("gold", [])
            if not isinstance(question, str) or not question.strip():
                raise ValueError('"question" must be non-empty text')
            if not isinstance(passages, list) or not passages:
                raise ValueError('"passages" must be a non-empty list of texts')
            if not all(isinstance(p, str) for p in passages):
                raise ValueError('"passages" must hold texts')
            if not all(isinstance(g, int) and 1 <= g <= len(passages) for g in gold):
                raise ValueError('"gold" must list passage numbers')
        except (ValueError, KeyError, TypeError) as exc:
            detail = f'missing "{exc.args[0]}"' if isinstance(exc, KeyError) else str(exc)
            raise EvalDataError(f"{path}: line {number}: {detail}") from None
        source = f"passage-{gold[0]}" if gold else ""
        items.append(
            EvalItem(
                id=f"line-{number}",
                question=question,
                answers=tuple(str(a) for a in answers),
                gold_source=source,
                answerable=bool(gold),
                passages=tuple(
                    Passage(text, f"passage-{i}") for i, text in enumerate(passages, start=1)
                ),
            )
        )
    if not items:
        raise EvalDataError(f"{path} holds no prompts")
    return items
