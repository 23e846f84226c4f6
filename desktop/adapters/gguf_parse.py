"""A fast, bounds-checked parse of a GGUF file's metadata and tensor table.

`gguf.GGUFReader` builds a numpy view for every part of every field; a chat model's
tokenizer arrays (49,152 tokens and as many merges) make that 8–11 s per file on a laptop
CPU, and Folio reads base models often (adapter validation, training, import). This walks
the same layout with `struct` over a memory map in a fraction of a second. The format, from
the GGUF spec: magic, version, tensor count, key count; the key/value pairs; the tensor
table; then the tensor data at the next `general.alignment` boundary.

Every read is checked against the file's size, so a truncated or corrupt file is a
ValueError that says where, never an IndexError or a read past the end.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Container
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TypeAlias

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

Scalar: TypeAlias = "str | int | float | bool"
Value: TypeAlias = "Scalar | list[Scalar] | None"

_SCALAR = {  # value type -> struct format (little-endian)
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h", GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}  # fmt: skip
_VERSIONS = (2, 3)
_MAX_COUNT = 1 << 32  # more keys, tensors, dims or array items than this is corruption
SHORT_ARRAY = 64  # arrays up to this long are returned; longer ones only counted


@dataclass(frozen=True)
class Field:
    """One metadata key: its type name as gguf spells it ("UINT32", "ARRAY[STRING]")."""

    kind: str
    value: Value  # None for an array longer than SHORT_ARRAY (unless asked for in full)
    count: int = 1  # the number of items of an array


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # ggml order: ne[0], the fastest-moving dimension, first
    dtype: str  # ggml type name, e.g. "F32", "Q4_1"
    offset: int  # absolute file offset of the data
    n_bytes: int


@dataclass(frozen=True)
class Parsed:
    version: int
    fields: dict[str, Field]
    tensors: dict[str, Tensor]
    data_start: int


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def take(self, n: int, what: str) -> int:
        if n < 0 or self.pos + n > self.size:
            raise ValueError(f"the file ends inside {what} (offset {self.pos}, {self.size} bytes)")
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: str, what: str) -> tuple[int | float | bool, ...]:
        start = self.take(struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self.buf, start)

    def u32(self, what: str) -> int:
        return int(self.unpack("<I", what)[0])

    def count(self, what: str) -> int:
        n = int(self.unpack("<Q", what)[0])
        if n > _MAX_COUNT:
            raise ValueError(f"{what}: implausible count {n}")
        return n

    def string(self, what: str) -> str:
        n = self.count(what)
        start = self.take(n, what)
        try:
            return bytes(self.buf[start : start + n]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{what} is not UTF-8 (offset {start})") from exc

    def skip_string(self, what: str) -> None:
        self.take(self.count(what), what)


def _value_type(raw: int, key: str) -> GGUFValueType:
    try:
        return GGUFValueType(raw)
    except ValueError:
        raise ValueError(f"key {key!r} has unknown value type {raw}") from None


def _scalar(cur: _Cursor, kind: GGUFValueType, key: str) -> Scalar:
    if kind == GGUFValueType.STRING:
        return cur.string(f"the value of {key!r}")
    return cur.unpack(_SCALAR[kind], f"the value of {key!r}")[0]


def _field(cur: _Cursor, key: str, full: bool) -> Field:
    kind = _value_type(cur.u32(f"the type of {key!r}"), key)
    if kind != GGUFValueType.ARRAY:
        return Field(kind.name, _scalar(cur, kind, key))
    item = _value_type(cur.u32(f"the item type of {key!r}"), key)
    if item == GGUFValueType.ARRAY:
        raise ValueError(f"key {key!r} is an array of arrays, which GGUF files do not hold")
    n = cur.count(f"the length of {key!r}")
    name = f"ARRAY[{item.name}]"
    keep = full or n <= SHORT_ARRAY
    if item != GGUFValueType.STRING:
        fmt = _SCALAR[item]
        start = cur.take(n * struct.calcsize(fmt), f"the items of {key!r}")
        if not keep:
            return Field(name, None, n)
        items = struct.unpack_from(f"<{n}{fmt[1]}", cur.buf, start)
        return Field(name, list(items), n)
    if not keep:
        for _ in range(n):
            cur.skip_string(f"an item of {key!r}")
        return Field(name, None, n)
    return Field(name, [cur.string(f"an item of {key!r}") for _ in range(n)], n)


def _tensor_bytes(dtype: GGMLQuantizationType, shape: tuple[int, ...], name: str) -> int:
    block, size = GGML_QUANT_SIZES[dtype]
    elements = prod(shape)
    if shape and shape[0] % block:
        raise ValueError(f"tensor {name!r}: {shape[0]} columns do not fill {dtype.name} blocks")
    return elements // block * size


def parse(path: Path, full_arrays: Container[str] = ()) -> Parsed:
    """The metadata and tensor table of the GGUF at `path` (tensor data is not read).

    Args:
        full_arrays: keys whose arrays are wanted in full however long they are.

    Raises:
        ValueError: the file is not a well-formed GGUF (the message says what is wrong).
        OSError: it cannot be opened.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise ValueError(f"{size} bytes is too short for a GGUF header")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Cursor(buf, size), full_arrays)


def _parse(cur: _Cursor, full_arrays: Container[str]) -> Parsed:
    start = cur.take(4, "the magic")
    if bytes(cur.buf[start : start + 4]) != b"GGUF":
        raise ValueError("no GGUF magic at the start of the file")
    version = cur.u32("the version")
    if version not in _VERSIONS:
        raise ValueError(f"GGUF version {version} is not supported (only 2 and 3)")
    n_tensors, n_fields = cur.count("the tensor count"), cur.count("the key count")
    fields: dict[str, Field] = {}
    for _ in range(n_fields):
        key = cur.string("a metadata key")
        fields[key] = _field(cur, key, key in full_arrays)
    infos: list[tuple[str, tuple[int, ...], GGMLQuantizationType, int]] = []
    for _ in range(n_tensors):
        name = cur.string("a tensor name")
        n_dims = cur.u32(f"the rank of {name!r}")
        if n_dims > 8:
            raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
        shape = tuple(int(d) for d in cur.unpack(f"<{n_dims}Q", f"the shape of {name!r}"))
        raw_type, offset = (int(x) for x in cur.unpack("<IQ", f"the type of {name!r}"))
        try:
            dtype = GGMLQuantizationType(raw_type)
        except ValueError:
            raise ValueError(f"tensor {name!r} has unknown ggml type {raw_type}") from None
        infos.append((name, shape, dtype, offset))
    align_field = fields.get("general.alignment")
    align = align_field.value if align_field is not None else 32
    if not isinstance(align, int) or isinstance(align, bool) or align <= 0 or align & (align - 1):
        raise ValueError(f"general.alignment {align!r} is not a power of two")
    data_start = -(-cur.pos // align) * align
    tensors: dict[str, Tensor] = {}
    for name, shape, dtype, offset in infos:
        n_bytes = _tensor_bytes(dtype, shape, name)
        at = data_start + offset
        if at + n_bytes > cur.size:
            raise ValueError(f"tensor {name!r} extends past the end of the file (truncated?)")
        tensors[name] = Tensor(name, shape, dtype.name, at, n_bytes)
    return Parsed(version, fields, tensors, data_start)
