"""The rooms of the house import each other one way only.

A room is a package or module directly under desktop/ (library, rag, engine, ui, ...).
The core never imports the clients (ui, cli) or the measuring wing (bench, evaluate); the
library never imports the answer path (rag); and no two rooms import each other, however
indirectly. Checked on the source (every import, also those inside functions and under
TYPE_CHECKING), so a new upward arrow fails here before anyone runs into the cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

DESKTOP = Path(__file__).resolve().parents[1] / "desktop"
CLIENTS_AND_WING = {"ui", "cli", "bench", "evaluate"}
ENTRY = {"__main__"}  # `python -m desktop` starts the CLI


def _module(path: Path) -> str:
    parts = path.relative_to(DESKTOP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every desktop module or package `path` imports."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("desktop")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("desktop"):
                out |= {f"{module}.{a.name}" for a in node.names} | {module}
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in DESKTOP.rglob("*.py"):
        here = _room(_module(path))
        for target in _imports(path):
            there = _room(target)
            if there and there != here:
                graph[here].add(there)
    return graph


def _edges() -> list[tuple[str, str]]:
    return [(a, b) for a, bs in _room_graph().items() for b in bs]


def test_the_core_never_imports_the_clients_or_the_measuring_wing() -> None:
    upward = [
        (a, b) for a, b in _edges() if a not in CLIENTS_AND_WING | ENTRY and b in CLIENTS_AND_WING
    ]
    assert upward == []


def test_the_library_never_imports_the_answer_path() -> None:
    assert "rag" not in _room_graph()["library"]


def test_no_two_rooms_import_each_other() -> None:
    graph = _room_graph()
    cycles: list[list[str]] = []

    def visit(room: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(room, ())):
            if nxt == trail[0]:
                cycles.append([*trail, nxt])
            elif nxt not in trail and nxt > trail[0]:
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_the_parser_finds_imports_inside_functions(tmp_path: Path) -> None:
    # The checks above are only as good as the parser: session.py imports the adapters
    # inside a method, and the store imports the passage record at the top.
    assert "desktop.adapters" in _imports(DESKTOP / "session.py")
    assert "desktop.library.passage" in _imports(DESKTOP / "library" / "store.py")
