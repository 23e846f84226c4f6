"""`.gitignore` and `.folioignore` rules of one folder, matched with pathspec's GitIgnoreSpec,
and the reason a match gives ("matched the ignore rule 'drafts/' in docs/.folioignore")."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

log = logging.getLogger(__name__)

#: Ignore files read in every folder, in this order (later lines win), both gitignore syntax.
IGNORE_FILES = (".gitignore", ".folioignore")
# What pathspec raises for a pattern it cannot compile: its own ValueError, or re's error.
_BAD_PATTERN = (ValueError, re.error)


@dataclass(frozen=True)
class Rules:
    """The patterns of one folder's ignore files, matched against paths relative to it."""

    base: Path
    spec: GitIgnoreSpec
    sources: tuple[str, ...]  # the file each pattern came from, by pattern index


def read_rules(folder: Path, names: set[str]) -> Rules | None:
    """Return the patterns of a folder's ignore files, or None if it has none."""
    lines: list[tuple[str, str]] = []
    for name in IGNORE_FILES:
        if name not in names:
            continue
        try:
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            log.warning("%s: cannot be read, not applied (%s)", folder / name, e.strerror or e)
            continue
        lines += [(line, name) for line in text.splitlines()]
    if not lines:
        return None
    good = _valid(folder, lines)
    spec = GitIgnoreSpec.from_lines([line for line, _ in good])
    # pathspec keeps one pattern per non-empty line (comments become null patterns).
    kept = tuple(name for line, name in good if line)
    return Rules(folder, spec, kept if len(kept) == len(spec.patterns) else ())


def _valid(folder: Path, lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ignore lines pathspec accepts; each rejected one is logged and not applied."""
    try:
        GitIgnoreSpec.from_lines([line for line, _ in lines])
        return lines
    except _BAD_PATTERN:
        good = []
        for line, name in lines:
            try:
                GitIgnoreSpec.from_lines([line])
            except _BAD_PATTERN:
                log.warning("%s: ignore pattern %r is invalid, not applied", folder, line)
            else:
                good.append((line, name))
        return good


def ignored(rules: tuple[Rules, ...], path: Path, *, is_dir: bool) -> str | None:
    """Why the ignore rules exclude a path (None if they do not); deeper folders' rules win."""
    for rule in reversed(rules):
        relative = path.relative_to(rule.base).as_posix() + ("/" if is_dir else "")
        result = rule.spec.check_file(relative)
        if result.include is None:
            continue
        if not result.include:
            return None
        pattern, source = _pattern(rule, result.index), _source(rule, result.index)
        return f"matched the ignore rule '{pattern}' in {source}"
    return None


def _pattern(rule: Rules, index: int | None) -> str:
    """The text of the pattern that matched, as the ignore file writes it."""
    patterns = rule.spec.patterns
    if index is not None and 0 <= index < len(patterns):
        return str(getattr(patterns[index], "pattern", "") or "?")
    return "?"


def _source(rule: Rules, index: int | None) -> str:
    """The ignore file the matching pattern came from."""
    sources = rule.sources
    name = sources[index] if index is not None and 0 <= index < len(sources) else "ignore file"
    return str(rule.base / name)
