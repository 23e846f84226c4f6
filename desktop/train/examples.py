"""Training examples: read a JSONL file (or pasted Q/A text) and check every line first.

A JSONL line is either `{"messages": [{"role": ..., "content": ...}, ...]}` (an optional
system message, then user and assistant turns in turn, ending with the assistant) or
`{"prompt": ..., "response": ...}` (with an optional `"system"`). Every problem is reported
with its line number before any training starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.json_types import numbered_lines
from desktop.train.errors import ExamplesError

ROLES = ("system", "user", "assistant")
MAX_REPORTED = 5  # problems listed in one message; the rest are counted


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Example:
    """A conversation to learn from; the assistant turns are what the model is taught."""

    messages: tuple[Message, ...]
    line: int = 0  # where it came from, for messages

    def __post_init__(self) -> None:
        problem = conversation_problem(self.messages)
        if problem:
            raise ValueError(problem)

    def to_json(self) -> dict[str, object]:
        return {"messages": [m.to_json() for m in self.messages]}


def conversation_problem(messages: Sequence[Message]) -> str:
    """Why `messages` cannot be a training example ("" when it can)."""
    if not messages:
        return "it has no messages"
    turns = list(messages)
    if turns[0].role == "system":
        turns = turns[1:]
    for i, m in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if m.role != expected:
            where = "first" if i == 0 else f"message {i + 1 + (len(messages) - len(turns))}"
            return f"{where} has role '{m.role}' where '{expected}' was expected"
    if not turns or turns[-1].role != "assistant":
        return "it must end with an assistant message (the answer to learn)"
    if any(not m.content.strip() for m in turns if m.role == "assistant"):
        return "an assistant message is empty"
    if any(not m.content.strip() for m in turns if m.role == "user"):
        return "a user message is empty"
    return ""


def _messages_from(obj: object) -> tuple[Message, ...]:
    """The conversation in one decoded JSON line; raises ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "messages" in obj:
        raw = obj["messages"]
        if not isinstance(raw, list):
            raise ValueError('"messages" must be a list')
        out: list[Message] = []
        for i, m in enumerate(raw, start=1):
            if not isinstance(m, dict):
                raise ValueError(f"message {i} is not an object")
            role, content = m.get("role"), m.get("content")
            if role is None:
                raise ValueError(f'message {i} has no "role"')
            if role not in ROLES:
                raise ValueError(
                    f"message {i} has role {json.dumps(role)}; use system, user or assistant"
                )
            if not isinstance(content, str):
                raise ValueError(f'message {i} has no text "content"')
            out.append(Message(role, content))
        return tuple(out)
    if "prompt" in obj or "response" in obj:
        for key in ("prompt", "response"):
            if key not in obj:
                raise ValueError(f'missing "{key}"')
            if not isinstance(obj[key], str):
                raise ValueError(f'"{key}" must be text')
        system = obj.get("system")
        if system is not None and not isinstance(system, str):
            raise ValueError('"system" must be text')
        lead = (Message("system", system),) if system else ()
        return (*lead, Message("user", obj["prompt"]), Message("assistant", obj["response"]))
    raise ValueError('expected "messages", or "prompt" and "response"')


def _raise_collected(label: str, problems: list[str]) -> None:
    shown = "; ".join(problems[:MAX_REPORTED])
    more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    raise ExamplesError(f"{label}: {shown}{more}")


def parse_jsonl_lines(lines: Iterable[str], label: str) -> list[Example]:
    """Examples from JSONL text lines, every bad line reported with its number.

    Raises:
        ExamplesError: a line is not valid JSON or not a usable example, or there are none.
    """
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in numbered_lines(lines):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        try:
            messages = _messages_from(obj)
            problem = conversation_problem(messages)
            if problem:
                raise ValueError(problem)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        examples.append(Example(messages, number))
    if problems:
        _raise_collected(label, problems)
    if not examples:
        raise ExamplesError(f"{label} has no examples (one JSON object per line)")
    return examples


def load_examples(path: Path) -> list[Example]:
    """Read and check every example in a JSONL file.

    Raises:
        ExamplesError: the file cannot be read, or a line is bad (with its number), or the
            file holds no examples.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ExamplesError(f"examples file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ExamplesError(f"{path} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ExamplesError(f"cannot read examples file {path}: {exc.strerror or exc}") from None
    return parse_jsonl_lines(text.splitlines(), str(path))


_QA = re.compile(r"^\s*(Q|A|Question|Answer)\s*:\s?(.*)$", re.IGNORECASE)


def parse_pasted(text: str, label: str = "the pasted examples") -> list[Example]:
    """Examples from plain text: `Q: ...` then `A: ...`, an answer running to the next `Q:`.

    For people who have never seen JSONL; lines before the first `Q:` are an error.

    Raises:
        ExamplesError: a line is out of place (with its number), or there are no examples.
    """
    examples: list[Example] = []
    problems: list[str] = []
    question: list[str] | None = None
    answer: list[str] | None = None
    start = 0

    def close(line_no: int) -> None:
        nonlocal question, answer
        if question is None:
            return
        q, a = "\n".join(question).strip(), "\n".join(answer or []).strip()
        if not q:
            problems.append(f"line {start}: the question is empty")
        elif not a:
            problems.append(f"line {start}: this question has no 'A:' answer")
        else:
            examples.append(Example((Message("user", q), Message("assistant", a)), start))
        question, answer = None, None

    for number, line in enumerate(text.splitlines(), start=1):
        m = _QA.match(line)
        kind = m.group(1)[0].upper() if m else ""
        if kind == "Q":
            close(number)
            question, answer, start = [m.group(2)] if m else [], None, number
        elif kind == "A":
            if question is None:
                problems.append(f"line {number}: an answer comes before any 'Q:' question")
            elif answer is not None:
                problems.append(f"line {number}: a second 'A:' for the same question")
            else:
                answer = [m.group(2)] if m else []
        elif question is None:
            if line.strip():
                problems.append(f"line {number}: text before the first 'Q:' question")
        elif answer is None:
            question.append(line)
        else:
            answer.append(line)
    close(0)
    if problems:
        _raise_collected(label, problems)
    if not examples:
        raise ExamplesError(f"{label} hold no examples: write 'Q:' lines, each with an 'A:'")
    return examples


def write_jsonl(examples: Sequence[Example], path: Path) -> Path:
    """Write examples as JSONL (the form `folio train-adapter --examples` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
    return path
