"""The types of JSON values Folio writes and reads: reports, sidecars, stored metadata.

`json.loads` returns untyped values; code that reads JSON narrows it into these (or into a
dataclass) at the edge, so that the rest of the core is checked.
"""

from __future__ import annotations

from typing import TypeAlias

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
