"""`folio index | search | ask | status | remove`: the library and questions to it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from desktop.cli.common import print_json, session_for
from desktop.errors import FolioError
from desktop.library.indexer import IndexProgress
from desktop.library.modes import MODES


def add_parser(sub: Any) -> None:
    p = sub.add_parser("index", help="index files and folders (incremental)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search the library")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="ask a question; the answer cites its sources")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages given to the model")
    p.add_argument("--mode", choices=MODES, default=None)
    p.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME[:SCALE]",
        help="style adapter to apply (repeatable)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("status", help="folders, documents, chunks and failed files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("remove", help="forget an indexed folder (files are not touched)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_remove)


class _ProgressBar:
    """Renders indexing progress on stderr: files, chunks/s and ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, p: IndexProgress) -> None:
        if not self.enabled:
            return
        if self.bar is None and p.phase == "indexing":
            self.bar = tqdm(
                total=p.files_total,
                unit="file",
                file=sys.stderr,
                dynamic_ncols=True,
                desc="indexing",
            )
        if self.bar is not None:
            self.bar.n = p.files_done
            self.bar.set_postfix_str(
                f"{p.chunks_done} chunks, {p.chunks_per_s:.1f} chunks/s", refresh=False
            )
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_index(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        bar = _ProgressBar(enabled=not args.json)
        try:
            report = s.indexer.index(args.paths, progress=bar)
        finally:
            bar.close()
        out = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "chunks": report.chunks,
            "seconds": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks_per_s, 1),
            "failed": [{"path": p, "error": e} for p, e in report.failed],
        }
        if args.json:
            print_json(out)
        else:
            print(
                f"indexed: {report.added} new, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.removed} removed; "
                f"{report.chunks} chunks in {report.seconds:.1f} s "
                f"({report.chunks_per_s:.1f} chunks/s)",
                file=sys.stderr,
            )
            for path, error in report.failed:
                print(f"  failed: {path}: {error}", file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise FolioError("--k must be at least 1")
    with session_for(args) as s:
        result = s.searcher.search(args.query, k=args.k, mode=args.mode)
        if args.json:
            print_json(
                {
                    "results": [
                        {
                            "path": h.chunk.path,
                            "page": h.chunk.page,
                            "score": round(h.score, 6),
                            "text": h.chunk.text,
                            "chunk_id": h.chunk.chunk_id,
                        }
                        for h in result.hits
                    ],
                    "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
                }
            )
            return 0
        if not result.hits:
            print("no results", file=sys.stderr)
        for i, h in enumerate(result.hits, 1):
            page = f" p.{h.chunk.page}" if h.chunk.page is not None else ""
            snippet = " ".join(h.chunk.text.split())[:160]
            print(f"{i:2}. {h.chunk.path}{page}  ({h.score:.4f})\n    {snippet}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    if args.k is not None and args.k < 1:
        raise FolioError("--k must be at least 1")
    with session_for(args) as s:
        if args.mode:
            s.configure(s.settings.with_changes(search_mode=args.mode))
        if args.adapter:
            from desktop.cli.adapters_cmd import apply_adapter_args

            apply_adapter_args(s, args.adapter)
        answerer = s.answerer
        started = time.perf_counter()
        on_token = None if args.json else _stream_to_stdout
        answer = answerer.ask(args.question, k=args.k, on_token=on_token)
        if args.json:
            print_json(answer.to_json())
            return 0
        sys.stdout.write("\n")
        if answer.citations:
            print("\nSources:")
            for c in answer.citations:
                snippet = " ".join(c.text.split())[:120]
                print(
                    f"  [{c.n}] {c.path}"
                    + (f", page {c.page}" if c.page else "")
                    + f"\n      {snippet}"
                )
        t = answer.timings_ms
        print(
            f"\n(retrieval {t['retrieve']:.0f} ms, first token {t['first_token']:.0f} ms, "
            f"{answer.tokens_per_s:.1f} tokens/s, total {time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
    return 0


def _stream_to_stdout(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def cmd_status(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        lib = s.library
        folders = lib.status()
        counts = lib.counts()
        bound = lib.embedder()
        if args.json:
            print_json(
                {
                    "library": str(lib.path),
                    "embedder": bound[0] if bound else None,
                    **counts,
                    "folders_detail": [
                        {
                            "path": f.path,
                            "documents": f.documents,
                            "chunks": f.chunks,
                            "indexed_at": f.indexed_at,
                            "failed": [{"path": p, "error": e} for p, e in f.failed],
                        }
                        for f in folders
                    ],
                }
            )
            return 0
        print(f"library: {lib.path}")
        print(
            f"{counts['folders']} folders, {counts['documents']} documents, "
            f"{counts['chunks']} chunks, {counts['failed']} failed"
        )
        for f in folders:
            print(f"  {f.path}: {f.documents} documents, {f.chunks} chunks")
            for path, error in f.failed:
                print(f"    failed: {Path(path).name}: {error}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        folder_id = s.library.folder_id(args.path)
        if folder_id is None:
            raise FolioError(f"not an indexed folder: {args.path}")
        s.library.remove_folder(folder_id)
        print(f"removed {args.path} from the library", file=sys.stderr)
    return 0
