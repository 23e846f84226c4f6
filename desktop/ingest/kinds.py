"""Which files Folio reads, by name suffix: imported by the walk and the watcher without
loading any parser."""

from __future__ import annotations

PROSE_SUFFIXES = frozenset({".txt", ".text", ".log"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv"})
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
CODE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .cjs .ts .tsx .jsx .vue .svelte .java .kt .kts .scala .groovy .gradle "
    ".c .h .cc .cpp .cxx .hpp .hh .m .mm .cs .fs .go .rs .swift .dart .rb .php .pl .pm .lua "
    ".r .jl .ex .exs .erl .hs .ml .clj .el .lisp .sh .bash .zsh .fish .ps1 .bat .sql .css "
    ".scss .sass .less .json .jsonl .yaml .yml .toml .ini .cfg .conf .xml .proto .graphql "
    ".tf .cmake .mk .tex .bib .ipynb".split()
)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    PROSE_SUFFIXES
    | MARKDOWN_SUFFIXES
    | TABLE_SUFFIXES
    | WORKBOOK_SUFFIXES
    | CODE_SUFFIXES
    | {".rst", ".html", ".htm", ".xhtml", ".pdf", ".docx", ".pptx", ".odt", ".epub"}
)
