#!/usr/bin/env python3
"""Evaluate Folio's retrieval on a BEIR-format dataset: a thin wrapper of `folio eval beir`.

    .venv/bin/python scripts/eval_beir.py ../shared/eval/scifact [--split test] [--work DIR]
        [--tune] [--json] [--out FILE]

See `folio eval beir --help` (desktop/evaluate/beir.py does the work).
"""

from __future__ import annotations

import sys

from desktop.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", "beir", *sys.argv[1:]]))
