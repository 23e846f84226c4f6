"""RAFT-style training data for `grounded` and `bullet-brief`, built from real questions.

The source is a SQuAD v1.1-format file (the shipped adapters use the SQuAD v1.1 training
set, CC BY-SA 4.0; never anything under shared/eval). Each example goes through Folio's
own answer path, so training looks like inference:
- the passages are the question's own paragraph among distractors: other paragraphs of the
  same article (hard negatives) and the paragraphs Folio's keyword leg ranks highest for
  the question (FTS5 BM25 with the porter tokenizer and the OR query `fts_query` builds);
- the gold paragraph sits at a random position drawn as Folio's search places it (mostly
  first: see GOLD_POSITION_WEIGHTS; drawn uniformly, as the December 6 adapters were, it
  taught the model to look past passage [1], and they cited the gold paragraph less often
  than the base model); one, two or three passages, as `select_passages` gives at answer
  time;
- the passages are trimmed by `prompt_passages` under one of the context budgets Folio
  ships (the 2-core default or a faster machine's larger one), then numbered and put in
  `user_message` under `SYSTEM_PROMPT`;
- the target is the sentence of the gold passage that holds the answer, in the passage's
  own words (cut to the clause around the answer when it is long), ending with its [n];
- a measured share of examples has no gold paragraph (its target declines); a question whose
  answer the trim cut out of its gold passage is skipped (counted in the recipe), since
  neither answering nor declining would be an honest target.

Regenerate the shipped adapters' examples with the command in their recipe
(models/adapters/NAME.squad.recipe.json; input sha256 in SOURCE_SHA256), e.g.

    python -m desktop.train.squad_raft grounded --n 4000 --seed 11 --decline-share 0.06 \
        --answer-words 0 --titles \
        --squad ../shared/train/squad1/train-v1.1.explorer.json.gz \
        --out ~/folio-train/grounded.squad.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from desktop.library.passage import Citation
from desktop.library.search import fts_query
from desktop.models.verify import sha256_file
from desktop.rag.budget import DEFAULT_BUDGET, WIDE_BUDGET, Budget, prompt_passages, sentences
from desktop.rag.prompt import SYSTEM_PROMPT, user_message
from desktop.train.examples import Example, Message, write_jsonl
from desktop.train.styles import BULLET_REFUSAL, REFUSAL

# The file the shipped adapters were generated from (../shared/train/squad1/).
SOURCE_SHA256 = "f9c8638bb18d041a798e4e818d1352a4672797abf47c372b4fcebe20276be917"
ATTRIBUTION = (
    "Trained on questions from SQuAD v1.1 (Rajpurkar et al., 2016), CC BY-SA 4.0: "
    "https://rajpurkar.github.io/SQuAD-explorer/"
)
# Budgets the examples are trimmed under, with their weights: mostly the 2-core default,
# some the larger budget a faster machine gets (the model must read both).
BUDGETS: tuple[tuple[Budget, float], ...] = ((DEFAULT_BUDGET, 0.7), (WIDE_BUDGET, 0.3))
DECISIVE_SHARE = 0.35  # prompts with the gold passage alone (select_passages' decisive case)
SAME_ARTICLE_SHARE = 0.5  # distractors drawn from the gold's article rather than by BM25
# Where the gold passage sits among the passages Folio shows, when it is among the first
# three: the keyword leg alone over all 18,896 SQuAD-train paragraphs put it first for 86 %
# of 3,000 random training questions, second for 10 % and third for 4 % (the hybrid search
# a library uses ranks it first at least as often).
GOLD_POSITION_WEIGHTS = (0.86, 0.10, 0.04)
# Examples whose gold passage is removed (their target declines). 0.235, as the December 6
# adapters had, made them refuse 18 % of answerable XQuAD questions (bullet-brief 41.5 %);
# the shipped default path also has the relevance gate and the quote fallback to decline.
DECLINE_SHARE = 0.06
# Longer answer sentences are cut to the clause around the answer. A `grounded` trained so
# (December 7) learned to cut, not where: it wrote the first clause of the right sentence,
# often without the answer; `--answer-words 0` keeps target sentences whole.
MAX_ANSWER_WORDS = 30
MIN_CLAUSE_WORDS = 8
_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=\()|\s+[-\u2013\u2014]\s+")


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD paragraph: its article's index, its text and its article's title."""

    article: int
    text: str
    title: str = ""

    def as_file(self, titles: bool) -> str:
        """The passage as Folio indexes it: with `titles`, the article's title first, as in a
        file whose first line is its heading (how `folio eval` writes its libraries, and how
        most real documents start; the chunk keeps it)."""
        return f"{self.title}\n\n{self.text}" if titles and self.title else self.text


@dataclass(frozen=True)
class QA:
    """One question with its first gold answer and where that answer starts."""

    paragraph: int  # index into Corpus.paragraphs
    question: str
    answer: str
    start: int


@dataclass
class Corpus:
    """Paragraphs and questions of a SQuAD-format file, and a keyword index over them."""

    paragraphs: list[Paragraph]
    questions: list[QA]
    by_article: dict[int, list[int]] = field(default_factory=dict)
    _db: apsw.Connection | None = None

    def keyword_ranked(self, question: str, limit: int) -> list[int]:
        """Paragraph indexes in the order Folio's keyword leg ranks them for `question`."""
        query = fts_query(question)
        if query is None:
            return []
        if self._db is None:
            self._db = _fts_index(self.paragraphs)
        rows = self._db.execute(
            "SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?", (query, limit)
        )
        return [int(r[0]) - 1 for r in rows]


def _fts_index(paragraphs: Sequence[Paragraph]) -> apsw.Connection:
    """An in-memory FTS5 table of the paragraphs with the library's own tokenizer."""
    db = apsw.Connection(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE p USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    with db:
        db.executemany(
            "INSERT INTO p(rowid, text) VALUES (?, ?)",
            ((i + 1, p.text) for i, p in enumerate(paragraphs)),
        )
    return db


def read_squad(path: Path) -> dict[str, object]:
    """The decoded JSON of a SQuAD file, gzip-compressed (.gz) or not."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path} is not a SQuAD v1.1-format file (no 'data' list)")
    return data


def load_corpus(path: Path) -> Corpus:
    """Paragraphs and answerable questions of a SQuAD v1.1-format file."""
    data = read_squad(path)
    corpus = Corpus([], [])
    articles = data["data"]
    assert isinstance(articles, list)
    for a, article in enumerate(articles):
        title = str(article.get("title", "")).replace("_", " ").strip()
        for para in article["paragraphs"]:
            index = len(corpus.paragraphs)
            context = str(para["context"])
            corpus.paragraphs.append(Paragraph(a, context, title))
            corpus.by_article.setdefault(a, []).append(index)
            for qa in para["qas"]:
                answers = qa.get("answers") or []
                if not answers:
                    continue
                first = answers[0]
                text, start = str(first["text"]), int(first["answer_start"])
                if context[start : start + len(text)] != text:
                    found = context.find(text)
                    if found < 0:
                        continue
                    start = found
                corpus.questions.append(QA(index, str(qa["question"]).strip(), text, start))
    return corpus


def answer_sentence(
    passage: str, answer: str, start: int | None = None, most: int = MAX_ANSWER_WORDS
) -> str | None:
    """The sentence of `passage` that holds `answer` (at `start`, if given), cut to the
    clause around the answer when longer than `most` words (0: never cut); None when no
    sentence holds it whole."""
    offset = 0
    pieces = [s for part in passage.split("\u2026") for s in sentences(part)]  # "…" elisions
    for sentence in pieces:
        at = passage.find(sentence, offset)
        offset = at + len(sentence) if at >= 0 else offset
        if answer not in sentence:
            continue
        if start is not None and at >= 0 and not at <= start < at + len(sentence):
            continue
        return shorten(sentence, answer, most) if most else sentence
    if start is not None:
        return answer_sentence(passage, answer, None, most)
    return None


def shorten(sentence: str, answer: str, most: int = MAX_ANSWER_WORDS) -> str:
    """`sentence` itself, or, when it is longer than `most` words, the fewest clauses around
    `answer` that make at least MIN_CLAUSE_WORDS words (in the sentence's own words)."""
    if len(sentence.split()) <= most:
        return sentence
    clauses = [c for c in _CLAUSE.split(sentence) if c]
    at = sentence.find(answer)
    pos, spans = 0, []
    for c in clauses:
        i = sentence.find(c, pos)
        spans.append((i, i + len(c)))
        pos = i + len(c)
    hit = [k for k, (a, b) in enumerate(spans) if a < at + len(answer) and b > at]
    if not hit:
        return sentence
    lo, hi = hit[0], hit[-1]
    words = lambda: len(sentence[spans[lo][0] : spans[hi][1]].split())  # noqa: E731
    while words() < MIN_CLAUSE_WORDS and (lo > 0 or hi < len(spans) - 1):
        if lo > 0:
            lo -= 1
        if words() < MIN_CLAUSE_WORDS and hi < len(spans) - 1:
            hi += 1
    piece = sentence[spans[lo][0] : spans[hi][1]].strip(" ,;:")
    if len(piece.split()) > most + 10:
        return sentence  # no clause boundary near the answer: keep the sentence whole
    return piece[0].upper() + piece[1:]


def cited(sentence: str, n: int) -> str:
    """'The sentence [n].' (its final stop moved after the citation)."""
    body = sentence.rstrip()
    end = "."
    if body and body[-1] in ".!?":
        end, body = body[-1], body[:-1].rstrip()
    return f"{body} [{n}]{end}"


@dataclass
class Tally:
    """What the generator made, for its report and the adapter's recipe."""

    answered: int = 0
    declined_no_gold: int = 0
    declined_trimmed: int = 0
    skipped: int = 0
    passages: Counter[int] = field(default_factory=Counter)
    budgets: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        total = self.answered + self.declined_no_gold
        return {
            "examples": total,
            "answered": self.answered,
            "declined_no_gold": self.declined_no_gold,
            "skipped_answer_trimmed_away": self.declined_trimmed,
            "decline_share": round((total - self.answered) / max(1, total), 3),
            "skipped": self.skipped,
            "passages": dict(sorted(self.passages.items())),
            "budgets": dict(self.budgets),
        }


def _distractors(
    corpus: Corpus, qa: QA, rng: random.Random, want: int, exclude_article: bool
) -> list[int]:
    """`want` paragraphs other than the gold that do not hold the answer text."""
    gold = corpus.paragraphs[qa.paragraph]
    ranked = corpus.keyword_ranked(qa.question, 20)
    # Any other paragraphs, for questions whose words match too few.
    ranked += rng.sample(range(len(corpus.paragraphs)), min(10, len(corpus.paragraphs)))
    same = [i for i in corpus.by_article[gold.article] if i != qa.paragraph]
    rng.shuffle(same)
    out: list[int] = []
    while len(out) < want:
        use_same = not exclude_article and same and rng.random() < SAME_ARTICLE_SHARE
        pool = same if use_same else ranked
        if not pool:
            pool = ranked or same
            if not pool:
                break
        i = pool.pop(0)
        p = corpus.paragraphs[i]
        if i == qa.paragraph or i in out or qa.answer in p.text:
            continue
        if exclude_article and p.article == gold.article:
            continue
        out.append(i)
    return out


def _without_heading(sentence: str | None) -> str | None:
    """A first sentence without the title line the passage starts with (the sentence
    splitter joins a heading without a full stop to the sentence under it)."""
    if sentence is None or "\n\n" not in sentence:
        return sentence
    return sentence.rsplit("\n\n", 1)[1].strip() or None


def _citation(n: int, index: int, text: str) -> Citation:
    return Citation.of_text(n, text, f"squad/p{index}.txt")


def build_example(
    corpus: Corpus,
    qa: QA,
    rng: random.Random,
    kind: str,
    decline_share: float,
    tally: Tally,
    answer_words: int = MAX_ANSWER_WORDS,
    titles: bool = False,
) -> Example | None:
    """One training conversation for `qa` (None when no usable prompt could be made); with
    `titles`, each passage starts with its article's title line, as indexed files do."""
    budget = rng.choices([b for b, _ in BUDGETS], [w for _, w in BUDGETS])[0]
    no_gold = rng.random() < decline_share
    count = 1 if rng.random() < DECISIVE_SHARE else budget.max_passages
    if no_gold:
        # As if the gold's article were not in the library: its best other matches.
        chosen = _distractors(corpus, qa, rng, count, exclude_article=rng.random() < 0.5)
        gold_at = -1
    else:
        chosen = _distractors(corpus, qa, rng, count - 1, exclude_article=False)
        gold_at = rng.choices(range(len(chosen) + 1), GOLD_POSITION_WEIGHTS[: len(chosen) + 1])[0]
        chosen.insert(gold_at, qa.paragraph)
    if not chosen:
        tally.skipped += 1
        return None
    texts = [corpus.paragraphs[i].as_file(titles) for i in chosen]
    passages = [_citation(n, i, t) for n, (i, t) in enumerate(zip(chosen, texts, strict=True), 1)]
    shown = prompt_passages(qa.question, passages, budget)
    refusal = BULLET_REFUSAL if kind == "bullet-brief" else REFUSAL
    answer = None
    if gold_at >= 0 and gold_at < len(shown):
        trimmed, full = shown[gold_at].text, texts[gold_at]
        offset = len(full) - len(corpus.paragraphs[qa.paragraph].text)  # the title line
        start = qa.start + offset if trimmed == full else None
        sentence = _without_heading(answer_sentence(trimmed, qa.answer, start, answer_words))
        # With titles the target must still hold the answer (checked only then: the shipped
        # recipes were made without the check, and regenerate byte for byte).
        if sentence is not None and (not titles or qa.answer.lower() in sentence.lower()):
            answer = cited(sentence, gold_at + 1)
            if kind == "bullet-brief":  # a bullet ends with its citation (BULLET_FORMAT)
                answer = "- " + answer[:-1]
    if answer is None and gold_at >= 0:
        # The trim left the answer out: no honest target either way (a decline would teach
        # refusing questions the full passage answers), so the question is not used.
        tally.declined_trimmed += 1
        return None
    if answer is None:
        tally.declined_no_gold += 1
        answer = refusal
    else:
        tally.answered += 1
    tally.passages[len(shown)] += 1
    tally.budgets["default" if budget == DEFAULT_BUDGET else "wide"] += 1
    messages = (
        Message("system", SYSTEM_PROMPT),
        Message("user", user_message(qa.question, shown)),
        Message("assistant", answer),
    )
    return Example(messages)


def generate(
    corpus: Corpus,
    kind: str,
    n: int,
    seed: int,
    decline_share: float = DECLINE_SHARE,
    answer_words: int = MAX_ANSWER_WORDS,
    titles: bool = False,
) -> tuple[list[Example], Tally]:
    """`n` examples of `kind`, one per question, questions spread over the articles; target
    sentences longer than `answer_words` are cut to the clause around the answer (0: never);
    with `titles`, passages start with their article's title line."""
    if kind not in ("grounded", "bullet-brief"):
        raise ValueError("kind must be 'grounded' or 'bullet-brief'")
    rng = random.Random(seed)
    order = list(range(len(corpus.questions)))
    rng.shuffle(order)
    tally = Tally()
    out: list[Example] = []
    for i in order:
        if len(out) >= n:
            break
        ex = build_example(
            corpus, corpus.questions[i], rng, kind, decline_share, tally, answer_words, titles
        )
        if ex is not None:
            out.append(ex)
    return out, tally


def build_parser() -> argparse.ArgumentParser:
    """The generator's command line (also how a recipe's command is read back)."""
    parser = argparse.ArgumentParser(description="Write RAFT-style examples from SQuAD.")
    parser.add_argument("kind", choices=("grounded", "bullet-brief"))
    parser.add_argument("--squad", type=Path, required=True, help="SQuAD v1.1 JSON (or .gz)")
    parser.add_argument("--n", type=int, default=4000, help="number of examples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--decline-share",
        type=float,
        default=DECLINE_SHARE,
        help=f"share of examples without the gold passage (default {DECLINE_SHARE})",
    )
    parser.add_argument(
        "--answer-words",
        type=int,
        default=MAX_ANSWER_WORDS,
        help="cut longer target sentences to the clause around the answer (0: never; "
        f"default {MAX_ANSWER_WORDS})",
    )
    parser.add_argument(
        "--titles",
        action="store_true",
        help="start each passage with its article's title line, as files indexed with a "
        "heading show it (the December 7 adapters were trained without: at answer time they "
        "copied the title, 'Super Bowl 50 [1].')",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    corpus = load_corpus(args.squad)
    examples, tally = generate(
        corpus, args.kind, args.n, args.seed, args.decline_share, args.answer_words, args.titles
    )
    write_jsonl(examples, args.out)
    recipe = {
        "generator": "desktop.train.squad_raft",
        "command": "python -m desktop.train.squad_raft " + shlex.join(words),
        "source": Path(args.squad).name,
        "source_sha256": sha256_file(args.squad),
        "output": Path(args.out).name,
        "output_sha256": sha256_file(args.out),
        "attribution": ATTRIBUTION,
        **tally.to_json(),
    }
    args.out.with_suffix(".recipe.json").write_text(json.dumps(recipe, indent=2) + "\n")
    print(json.dumps(recipe, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
