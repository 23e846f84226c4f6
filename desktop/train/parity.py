"""Prove an exported adapter faithful: llama.cpp's logits against transformers + PEFT.

The same token sequences go through both stacks, and at every position the next-token
distributions are compared: how often their top tokens agree, and the mean KL divergence
(PEFT's distribution as the reference). The two base models (Q4_1 in llama.cpp, the
dequantized float32 copy in transformers) do not agree perfectly by themselves, so their
agreement is measured too; the export passes when the adapter's agreement is at least
MIN_AGREEMENT and no more than MAX_GAP below that reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.rag.prompt import SYSTEM_PROMPT, Citation, user_message
from desktop.train.examples import Example, Message
from desktop.train.job import ParityJSON

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

MIN_AGREEMENT = 0.95
MAX_GAP = 0.02


@dataclass(frozen=True)
class ParityReport:
    """Top-1 agreement and mean KL over every position, with and without the adapter."""

    prompts: int
    positions: int
    adapter_agreement: float
    adapter_kl: float
    base_agreement: float
    base_kl: float

    @property
    def passed(self) -> bool:
        return (
            self.adapter_agreement >= MIN_AGREEMENT
            and self.adapter_agreement >= self.base_agreement - MAX_GAP
        )

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"parity {verdict}: top-1 agreement {self.adapter_agreement:.1%} with the adapter "
            f"(mean KL {self.adapter_kl:.4f}), {self.base_agreement:.1%} between the base "
            f"models (KL {self.base_kl:.4f}); {self.positions} positions in "
            f"{self.prompts} prompts"
        )

    def to_json(self) -> ParityJSON:
        return {
            "prompts": self.prompts,
            "positions": self.positions,
            "adapter_agreement": self.adapter_agreement,
            "adapter_kl": self.adapter_kl,
            "base_agreement": self.base_agreement,
            "base_kl": self.base_kl,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, data: ParityJSON) -> ParityReport:
        """The report `to_json` wrote (`passed` is worked out again, not read)."""
        return cls(
            prompts=data["prompts"],
            positions=data["positions"],
            adapter_agreement=data["adapter_agreement"],
            adapter_kl=data["adapter_kl"],
            base_agreement=data["base_agreement"],
            base_kl=data["base_kl"],
        )


def _passage(n: int, text: str) -> Citation:
    return Citation(n, n, f"doc{n}.txt", None, None, text, 0, len(text))


def default_examples() -> list[Example]:
    """A few conversations in Folio's own answer shape, plus a plain one."""
    passages = [
        _passage(1, "The Harlow Bridge opened in 1931 and carries two lanes of traffic."),
        _passage(2, "Mira Kestel founded the Lindqvist Observatory after moving to Tarno."),
        _passage(3, "The observatory's main telescope has a mirror 2.4 metres wide."),
    ]
    grounded = [
        ("Who founded the Lindqvist Observatory?", "Mira Kestel founded it [2]."),
        ("How wide is the telescope's mirror?", "- The mirror is 2.4 metres wide [3]."),
        ("When did the Harlow Bridge open?", "The documents don't say."),
    ]
    out = [
        Example(
            (
                Message("system", SYSTEM_PROMPT),
                Message("user", user_message(q, passages)),
                Message("assistant", a),
            )
        )
        for q, a in grounded
    ]
    out.append(
        Example(
            (
                Message("user", "Write one sentence about rivers."),
                Message("assistant", "Rivers carry water from the hills down to the sea."),
            )
        )
    )
    return out


def sequences_for(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example]
) -> list[list[int]]:
    """Token ids of each whole conversation, rendered with the model's chat template."""
    out = []
    for ex in examples:
        text = tokenizer.apply_chat_template(
            [m.to_json() for m in ex.messages], tokenize=False, add_generation_prompt=False
        )
        out.append(list(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return out


def hf_logits(model: torch.nn.Module, ids: Sequence[int]) -> np.ndarray:
    """Next-token logits at every position from a transformers model, float64."""
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([list(ids)]))
    return np.asarray(out.logits[0].double().cpu().numpy())


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare(reference: np.ndarray, other: np.ndarray) -> tuple[int, float, int]:
    """(top-1 agreements, summed KL(reference || other), positions) of two logit matrices."""
    if reference.shape != other.shape:
        raise ValueError(f"logit shapes differ: {reference.shape} vs {other.shape}")
    agree = int((reference.argmax(-1) == other.argmax(-1)).sum())
    lp, lq = _log_softmax(reference.astype(np.float64)), _log_softmax(other.astype(np.float64))
    kl = float((np.exp(lp) * (lp - lq)).sum())
    return agree, kl, int(reference.shape[0])


class LlamaLogits:
    """The base GGUF in llama.cpp with every position's logits kept; adapters on demand."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int | None = None) -> None:
        from llama_cpp import Llama

        from desktop.engine.lora import AdapterPool

        self.model_path = Path(model_path)
        self.llm = Llama(
            model_path=str(self.model_path),
            n_ctx=n_ctx,
            n_batch=min(n_ctx, 512),
            n_threads=threads,
            logits_all=True,
            verbose=False,
        )
        self.pool = AdapterPool(self.llm)

    def use_adapter(self, adapter_path: Path | None) -> None:
        """Apply the adapter at `adapter_path` at scale 1 (None: the base model alone).

        Raises:
            AdapterError: the file fails Folio's adapter validation or llama.cpp refuses it.
        """
        from desktop.adapters import inspect

        if adapter_path is None:
            self.pool.apply([])
            return
        loaded = self.pool.load(inspect(Path(adapter_path)), self.model_path)
        self.pool.apply([(loaded, 1.0)])

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        from desktop.engine.prefix_cache import forget_all

        forget_all(self.llm)
        self.llm.eval(list(ids))
        return np.array(self.llm.scores[: len(ids)], dtype=np.float64)

    def close(self) -> None:
        self.pool.close()
        self.llm.close()

    def __enter__(self) -> LlamaLogits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_parity(
    peft_model: PeftModel,
    model_path: Path,
    adapter_path: Path,
    sequences: Sequence[Sequence[int]],
    threads: int | None = None,
) -> ParityReport:
    """Compare llama.cpp (base GGUF + `adapter_path`) with `peft_model` on `sequences`.

    Raises:
        AdapterError: the export fails Folio's adapter validation or does not load.
    """
    if not sequences:
        raise ValueError("parity needs at least one token sequence")
    n_ctx = max(len(s) for s in sequences) + 8
    totals = {"a_agree": 0, "a_kl": 0.0, "b_agree": 0, "b_kl": 0.0, "n": 0}
    with LlamaLogits(model_path, n_ctx, threads) as lc:
        for label, path in (("b", None), ("a", adapter_path)):
            lc.use_adapter(path)
            for ids in sequences:
                if label == "b":
                    with peft_model.disable_adapter():
                        ref = hf_logits(peft_model, ids)
                else:
                    ref = hf_logits(peft_model, ids)
                agree, kl, n = compare(ref, lc.logits(ids))
                totals[f"{label}_agree"] += agree
                totals[f"{label}_kl"] += kl
                if label == "a":
                    totals["n"] += n
    n = int(totals["n"])
    return ParityReport(
        prompts=len(sequences),
        positions=n,
        adapter_agreement=totals["a_agree"] / n,
        adapter_kl=totals["a_kl"] / n,
        base_agreement=totals["b_agree"] / n,
        base_kl=totals["b_kl"] / n,
    )
