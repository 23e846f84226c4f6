"""The types of JSON values Folio writes and reads: reports, sidecars, stored metadata.

`json.loads` returns untyped values; code that reads JSON narrows it into these (or into a
dataclass) at the edge, so that the rest of the core is checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

JSONScalar: TypeAlias = "str | int | float | bool | None"
JSON: TypeAlias = "JSONScalar | list[JSON] | dict[str, JSON]"
JSONObject: TypeAlias = "dict[str, JSON]"


def as_object(value: object, where: str = "JSON") -> JSONObject:
    """`value` if it is a JSON object (a dict with str keys), else a ValueError naming `where`."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def as_float(value: object, default: float = 0.0) -> float:
    """A number from JSON as a float (bools and non-numbers give `default`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def attributes(record: object, keys: Iterable[str]) -> dict[str, Any]:
    """`record`'s attributes named by `keys`, in that order: a record's JSON, each field
    named once, where `keys` is its TypedDict's `__annotations__` (the JSON's declared keys)."""
    return {key: getattr(record, key) for key in keys}


def known_fields(record_type: type[DataclassInstance], data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of `data` that name a field of the dataclass `record_type`, to build it back
    with `record_type(**...)`: what its JSON adds (worked-out figures) is left out, and a
    field that older JSON lacks takes its default."""
    names = {f.name for f in fields(record_type)}
    return {key: value for key, value in data.items() if key in names}


def numbered_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSONL text, each with its line number (from 1, blank lines
    counted), so that a message can name the line a reader must fix."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line
