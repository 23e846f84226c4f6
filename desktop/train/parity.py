"""Prove an exported adapter faithful: llama.cpp's logits against transformers + PEFT.

The same token sequences go through both stacks, and at every position the next-token
distributions are compared: how often their top tokens agree, and the mean KL divergence
(PEFT's distribution as the reference). The two base models (Q4_1 in llama.cpp, the
dequantized float32 copy in transformers) do not agree perfectly by themselves, so their
agreement is measured too; the export passes when the adapter's agreement is no more than
MAX_GAP below that reference and its mean KL no more than MAX_KL_RATIO times the base's.

The reference is measured on the machine that runs the check, because it depends on the
CPU's kernels: base to base agreed 96.8 % on a Zen 1 EPYC (AVX2) and 96.4 % on a Xeon with
AVX-512, on the same sequences. An absolute floor (95 %, until December 2026) measured the
CPU as much as the export, and failed faithful exports on the second machine (94.8 % with
the adapter, KL 0.0036 against the base's 0.0038).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop import atomic
from desktop.closing import Closeable
from desktop.json_types import JSONRecord
from desktop.library.passage import Citation
from desktop.rag.prompt import SYSTEM_PROMPT, user_message
from desktop.train.examples import Example, Message
from desktop.train.job import ParityJSON

if TYPE_CHECKING:
    import torch
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

MAX_GAP = 0.02
MAX_KL_RATIO = 2.0

# The base-to-base reference depends only on the base GGUF, the dequantized copy of it,
# the sequences and the libraries' versions, never on the adapter: it is computed once per
# such key (half of a check's time) and kept in memory and, given a folder, on disk.
_BASE_LEG_VERSION = 1
_base_legs: dict[str, tuple[int, float, int]] = {}


@dataclass(frozen=True)
class ParityReport(JSONRecord[ParityJSON]):
    """Top-1 agreement and mean KL over every position, with and without the adapter; its
    JSON adds `passed`, worked out again when read back."""

    json_type = ParityJSON

    prompts: int
    positions: int
    adapter_agreement: float
    adapter_kl: float
    base_agreement: float
    base_kl: float

    @property
    def passed(self) -> bool:
        return (
            self.adapter_agreement >= self.base_agreement - MAX_GAP
            and self.adapter_kl <= MAX_KL_RATIO * self.base_kl
        )

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"parity {verdict}: top-1 agreement {self.adapter_agreement:.1%} with the adapter "
            f"(mean KL {self.adapter_kl:.4f}), {self.base_agreement:.1%} between the base "
            f"models (KL {self.base_kl:.4f}); {self.positions} positions in "
            f"{self.prompts} prompts"
        )


def _passage(n: int, text: str) -> Citation:
    return Citation.of_text(n, text, f"doc{n}.txt")


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


class LlamaLogits(Closeable):
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


def base_leg_key(
    peft_model: PeftModel, model_path: Path, sequences: Sequence[Sequence[int]]
) -> str:
    """What the base-to-base reference of a check depends on, as a digest: the GGUF file's
    identity, a checksum of every base weight of the transformers copy (so a different or
    changed base never reuses it), the sequences and the library versions."""
    import llama_cpp
    import torch
    import transformers

    st = Path(model_path).stat()
    with torch.no_grad():
        checksum = sum(
            float(p.double().sum())
            for name, p in peft_model.named_parameters()
            if "lora_" not in name
        )
    payload = [
        _BASE_LEG_VERSION, str(Path(model_path).resolve()), st.st_size, st.st_mtime_ns,
        repr(checksum), [list(s) for s in sequences], torch.__version__,
        transformers.__version__, llama_cpp.__version__,
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(payload).encode("utf-8")).hexdigest()


def forget_base_legs() -> None:
    """Drop the base-to-base references kept in this process (those on disk stay)."""
    _base_legs.clear()


def _base_leg_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / "parity-base" / f"{key[:32]}.json"


def _cached_base_leg(key: str, cache_dir: Path | None) -> tuple[int, float, int] | None:
    if key in _base_legs:
        return _base_legs[key]
    if cache_dir is None:
        return None
    try:
        raw = json.loads(_base_leg_file(cache_dir, key).read_text(encoding="utf-8"))
        if raw["key"] != key:
            return None
        leg = (int(raw["agree"]), float(raw["kl"]), int(raw["positions"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _base_legs[key] = leg
    return leg


def _keep_base_leg(key: str, leg: tuple[int, float, int], cache_dir: Path | None) -> None:
    _base_legs[key] = leg
    if cache_dir is None:
        return
    file = _base_leg_file(cache_dir, key)
    if file.is_file():
        return
    data = {"key": key, "agree": leg[0], "kl": leg[1], "positions": leg[2]}
    try:
        atomic.write_text(file, json.dumps(data))
    except OSError as exc:  # a read-only cache only costs time
        log.debug("cannot keep the parity base leg in %s: %s", file, exc)


def check_parity(
    peft_model: PeftModel,
    model_path: Path,
    adapter_path: Path,
    sequences: Sequence[Sequence[int]],
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> ParityReport:
    """Compare llama.cpp (base GGUF + `adapter_path`) with `peft_model` on `sequences`.

    The base-to-base reference is reused when it was measured before for the same key
    (`base_leg_key`), in this process or in `cache_dir`.

    Raises:
        AdapterError: the export fails Folio's adapter validation or does not load.
    """
    if not sequences:
        raise ValueError("parity needs at least one token sequence")
    n_ctx = max(len(s) for s in sequences) + 8
    key = base_leg_key(peft_model, model_path, sequences)
    base = _cached_base_leg(key, cache_dir)
    a_agree, a_kl, n = 0, 0.0, 0
    with LlamaLogits(model_path, n_ctx, threads) as lc:
        if base is None:
            lc.use_adapter(None)
            b_agree, b_kl = 0, 0.0
            for ids in sequences:
                with peft_model.disable_adapter():
                    ref = hf_logits(peft_model, ids)
                agree, kl, _ = compare(ref, lc.logits(ids))
                b_agree, b_kl = b_agree + agree, b_kl + kl
            base = (b_agree, b_kl, sum(len(s) for s in sequences))
        _keep_base_leg(key, base, cache_dir)
        lc.use_adapter(adapter_path)
        for ids in sequences:
            agree, kl, positions = compare(hf_logits(peft_model, ids), lc.logits(ids))
            a_agree, a_kl, n = a_agree + agree, a_kl + kl, n + positions
    return ParityReport(
        prompts=len(sequences),
        positions=n,
        adapter_agreement=a_agree / n,
        adapter_kl=a_kl / n,
        base_agreement=base[0] / base[2],
        base_kl=base[1] / base[2],
    )
