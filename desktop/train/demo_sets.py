"""Training data for the two shipped adapters, `grounded` and `bullet-brief`.

Every prompt is built by Folio's own answer path functions (`SYSTEM_PROMPT`,
`user_message`), so regenerating the data after a prompt change follows the change.
Passages come from the made-up world of desktop.train.synth_world: the one that holds the
answer sits among distractors (other facts about the same thing, and facts about similar
things), passages vary from one to five sentences, and some questions have no answer in
any passage (RAFT-style). Regenerate the shipped files with:

    python -m desktop.train.demo_sets grounded --n 800 --seed 1 \
        --out models/adapters/grounded.train.jsonl
    python -m desktop.train.demo_sets bullet-brief --n 300 --seed 2 \
        --out models/adapters/bullet-brief.train.jsonl
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.library.passage import Citation
from desktop.rag.prompt import SYSTEM_PROMPT, user_message
from desktop.train.examples import Example, Message, write_jsonl
from desktop.train.styles import (
    BULLET_REFUSAL,
    REFUSAL,
)
from desktop.train.synth_world import Entity, Fact, Namer, make_entity

PASSAGE_COUNTS = (1, 2, 3, 4, 5)
PASSAGE_WEIGHTS = (0.04, 0.08, 0.18, 0.25, 0.45)
MAX_SENTENCES = 13  # across all passages: keeps a prompt within ~512 tokens
OVERVIEW_QUESTIONS = (
    "What do the documents say about {e}?",
    "Tell me about {e}.",
    "Summarize what the passages say about {e}.",
    "What is known about {e}?",
)


@dataclass(frozen=True)
class Scene:
    """Passages for one question, and which of them holds each sentence."""

    passages: tuple[tuple[str, ...], ...]  # sentences of each passage, in prompt order

    def number_of(self, sentence: str) -> int:
        for i, p in enumerate(self.passages, start=1):
            if sentence in p:
                return i
        raise KeyError(sentence)

    def citations(self) -> list[Citation]:
        out = []
        for i, sentences in enumerate(self.passages, start=1):
            text = " ".join(sentences)
            out.append(Citation.of_text(i, text, f"passage-{i}.txt"))
        return out


def _chunks(rng: random.Random, sentences: list[str], max_len: int) -> list[list[str]]:
    out, i = [], 0
    while i < len(sentences):
        n = rng.randint(1, max_len)
        out.append(sentences[i : i + n])
        i += n
    return out


def build_scene(
    rng: random.Random, namer: Namer, target: Entity, gold: Fact | None, hide: str
) -> Scene:
    """Passages about `target` (without its `hide` fact unless it is `gold`) and others."""
    n_passages = rng.choices(PASSAGE_COUNTS, PASSAGE_WEIGHTS)[0]
    own = [f.sentence for f in target.facts if f.attribute != hide] + list(target.fillers)
    rng.shuffle(own)
    passages: list[list[str]] = []
    if gold is not None:
        extra = own[: rng.randint(0, 3)]
        own = own[len(extra) :]
        passage = extra + [gold.sentence]
        rng.shuffle(passage)
        passages.append(passage)
    own_passages = _chunks(rng, own, 4)[: rng.randint(0 if gold else 1, 2)]
    passages.extend(own_passages)
    while len(passages) < n_passages:
        kind = target.kind if rng.random() < 0.5 else None
        other = make_entity(rng, namer, kind)
        sentences = [f.sentence for f in other.facts] + list(other.fillers)
        # A similar thing's version of the asked fact is the hardest distractor.
        same = [f.sentence for f in other.facts if f.attribute == hide]
        rng.shuffle(sentences)
        chosen = sentences[: rng.randint(1, 4)]
        if same and same[0] not in chosen and rng.random() < 0.4:
            chosen[-1] = same[0]
        passages.append(chosen)
    passages = passages[: max(n_passages, 1 if gold is None else 1)]
    if gold is not None and all(gold.sentence not in p for p in passages):
        passages[0] = [gold.sentence]
    while sum(len(p) for p in passages) > MAX_SENTENCES:
        longest = max(passages, key=len)
        drop = next(s for s in longest if gold is None or s != gold.sentence)
        longest.remove(drop)
    passages = [p for p in passages if p]
    rng.shuffle(passages)
    return Scene(tuple(tuple(p) for p in passages))


def _cited(sentence: str, n: int) -> str:
    return f"{sentence.rstrip('.')} [{n}]"


def _example(scene: Scene, question: str, answer: str) -> Example:
    user = user_message(question, scene.citations())
    return Example(
        (Message("system", SYSTEM_PROMPT), Message("user", user), Message("assistant", answer))
    )


def grounded_example(rng: random.Random, namer: Namer, unanswerable: float = 0.15) -> Example:
    """A question, passages with distractors, and the answer: the fact with its citation."""
    target = make_entity(rng, namer)
    fact = rng.choice(target.facts)
    question = rng.choice(fact.questions)
    if rng.random() < unanswerable:
        return _example(build_scene(rng, namer, target, None, fact.attribute), question, REFUSAL)
    scene = build_scene(rng, namer, target, fact, fact.attribute)
    return _example(scene, question, _cited(fact.sentence, scene.number_of(fact.sentence)) + ".")


def bullet_example(rng: random.Random, namer: Namer, unanswerable: float = 0.15) -> Example:
    """At most three bullets, each one fact ending with its [n] citation."""
    target = make_entity(rng, namer)
    fact = rng.choice(target.facts)
    roll = rng.random()
    if roll < unanswerable:
        scene = build_scene(rng, namer, target, None, fact.attribute)
        return _example(scene, rng.choice(fact.questions), BULLET_REFUSAL)
    scene = build_scene(rng, namer, target, fact, fact.attribute)
    present = [f.sentence for f in target.facts if any(f.sentence in p for p in scene.passages)]
    if roll < unanswerable + 0.3 and len(present) >= 2:
        question = rng.choice(OVERVIEW_QUESTIONS).format(e=target.name)
        chosen = rng.sample(present, min(len(present), rng.choice((2, 3, 3))))
    else:
        question = rng.choice(fact.questions)
        others = [s for s in present if s != fact.sentence]
        chosen = [fact.sentence] + (others[:1] if others and rng.random() < 0.3 else [])
    chosen.sort(key=scene.number_of)
    bullets = "\n".join("- " + _cited(s, scene.number_of(s)) for s in chosen)
    return _example(scene, question, bullets)


BUILDERS = {"grounded": grounded_example, "bullet-brief": bullet_example}


def generate(kind: str, n: int, seed: int) -> list[Example]:
    """`n` examples of `kind` ('grounded' or 'bullet-brief'), the same for the same seed."""
    rng = random.Random(seed)
    namer = Namer(rng)
    build = BUILDERS[kind]
    return [build(rng, namer) for _ in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a demo adapter's training data.")
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("--n", type=int, default=800, help="number of examples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    args = parser.parse_args(argv)
    examples = generate(args.kind, args.n, args.seed)
    write_jsonl(examples, args.out)
    print(f"wrote {len(examples)} {args.kind} examples to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
