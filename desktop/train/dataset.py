"""Turn examples into token sequences whose loss falls on the assistant's tokens only.

The conversation is rendered with the model's own chat template (the one stored in its
GGUF, which llama.cpp uses at answer time). Each assistant turn's characters are found by
rendering the conversation up to that turn with and without it, so no knowledge of any
particular template is built in. Tokens starting inside an assistant turn (its closing
end-of-turn marker included) are learned; the rest only give context.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop.train.errors import TrainingError
from desktop.train.examples import Example

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE = -100  # the label value PyTorch's cross-entropy skips


@dataclass(frozen=True)
class Encoded:
    """One training sequence: token ids and, per token, its label (IGNORE: not learned)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    truncated: bool = False

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError("input_ids and labels differ in length")

    @property
    def n_learned(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


@dataclass(frozen=True)
class EncodedSet:
    """The sequences to train on, and what had to be cut to fit `max_len`."""

    items: tuple[Encoded, ...]
    truncated: int  # examples cut to max_len that still teach something
    dropped: int  # examples whose answer started beyond max_len (nothing left to learn)
    max_len: int

    @property
    def warning(self) -> str:
        """A sentence counting the cut examples, or "" when none were."""
        if not self.truncated and not self.dropped:
            return ""
        parts = []
        if self.truncated:
            parts.append(f"{self.truncated} example(s) longer than {self.max_len} tokens")
            parts[-1] += " were truncated"
        if self.dropped:
            parts.append(
                f"{self.dropped} example(s) were skipped: their answer starts after token "
                f"{self.max_len}"
            )
        return "; ".join(parts) + " (raise --max-seq-len to keep more)"


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[dict[str, str]], gen: bool
) -> str:
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=gen)
    if not isinstance(text, str):
        raise TrainingError("the model's chat template did not render text")
    return text


def assistant_spans(
    tokenizer: PreTrainedTokenizerBase, example: Example
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character ranges of its assistant turns."""
    if not tokenizer.chat_template:
        raise TrainingError("the base model has no chat template, so it cannot be trained here")
    msgs = [m.to_json() for m in example.messages]
    full = _render(tokenizer, msgs, gen=False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, msgs[:i], gen=True)
        upto = _render(tokenizer, msgs[: i + 1], gen=False)
        if not full.startswith(upto) or not upto.startswith(before):
            raise TrainingError(
                "the model's chat template renders a conversation differently from its "
                "beginning, so the answer tokens cannot be found"
            )
        spans.append((len(before), len(upto)))
    return full, spans


def encode(tokenizer: PreTrainedTokenizerBase, example: Example, max_len: int) -> Encoded | None:
    """The example as tokens with assistant-only labels; None if nothing learnable fits."""
    text, spans = assistant_spans(tokenizer, example)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [
        tok if any(a <= start < b for a, b in spans) else IGNORE
        for tok, (start, _end) in zip(ids, offsets, strict=True)
    ]
    truncated = len(ids) > max_len
    ids, labels = ids[:max_len], labels[:max_len]
    if all(x == IGNORE for x in labels):
        return None
    return Encoded(tuple(ids), tuple(labels), truncated)


def encode_all(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example], max_len: int
) -> EncodedSet:
    """Encode every example; cut ones are counted for a warning.

    Raises:
        TrainingError: no example has an answer within `max_len` tokens.
    """
    if max_len < 16:
        raise TrainingError("--max-seq-len must be at least 16 tokens")
    items: list[Encoded] = []
    dropped = 0
    for ex in examples:
        e = encode(tokenizer, ex, max_len)
        if e is None:
            dropped += 1
        else:
            items.append(e)
    if not items:
        raise TrainingError(
            f"no example has its answer within the first {max_len} tokens; "
            "raise --max-seq-len or shorten the prompts"
        )
    return EncodedSet(tuple(items), sum(e.truncated for e in items), dropped, max_len)


@dataclass(frozen=True)
class Batch:
    """Padded tensors-to-be: token ids, attention mask and labels, one row per sequence."""

    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    labels: list[list[int]]

    @property
    def n_tokens(self) -> int:
        return sum(sum(row) for row in self.attention_mask)


def pad_batch(items: Sequence[Encoded], pad_id: int) -> Batch:
    """Right-pad sequences to the longest; padding is masked out and never learned."""
    width = max(len(e.input_ids) for e in items)
    ids, mask, labels = [], [], []
    for e in items:
        n = len(e.input_ids)
        ids.append(list(e.input_ids) + [pad_id] * (width - n))
        mask.append([1] * n + [0] * (width - n))
        labels.append(list(e.labels) + [IGNORE] * (width - n))
    return Batch(ids, mask, labels)


def batches(
    items: Sequence[Encoded], batch_size: int, seed: int, epoch: int
) -> Iterator[list[Encoded]]:
    """Shuffled batches of similar length (less padding), a new order each epoch."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(items)))
    rng.shuffle(order)
    pool = batch_size * 8  # sort within pools of a few batches, then shuffle the batches
    grouped: list[list[Encoded]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(items[i].input_ids))
        grouped.extend(
            [items[i] for i in chunk[j : j + batch_size]] for j in range(0, len(chunk), batch_size)
        )
    rng.shuffle(grouped)
    yield from grouped


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    """Batches in one pass over `n_items` (the last pool may hold a short batch)."""
    pool = batch_size * 8
    full, rest = divmod(n_items, pool)
    return full * 8 + -(-rest // batch_size)
