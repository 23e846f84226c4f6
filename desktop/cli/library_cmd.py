"""`folio index | search | ask | status | remove | watch | rebuild | library compact`: the
library and questions."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from desktop.cli import library_view
from desktop.cli.common import Subcommands, print_json, session_for, show
from desktop.cli.engines_cmd import add_engine_option, apply_engine_option
from desktop.errors import FolioError, LibraryError
from desktop.library.indexer import Indexer, IndexReport
from desktop.library.modes import MODES


def add_parser(sub: Subcommands) -> None:
    p = sub.add_parser("index", help="index files and folders (incremental)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search the library")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--folder", type=Path, default=None, help="search this indexed folder only")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("library", help="maintain the library file")
    lib_sub = p.add_subparsers(dest="library_command", required=True)
    c = lib_sub.add_parser("compact", help="give back the space left by deletions")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compact)

    p = sub.add_parser("ask", help="ask a question; the answer cites its sources")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages given to the model")
    p.add_argument("--mode", choices=MODES, default=None)
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--quote",
        dest="answer_mode",
        action="store_const",
        const="quote",
        help="answer with the passage sentence that answers, verbatim (the default setting)",
    )
    how.add_argument(
        "--write",
        dest="answer_mode",
        action="store_const",
        const="write",
        help="let the model write the answer (in the Style setting's adapter, if any)",
    )
    p.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME[:SCALE]",
        help="style adapter the model writes with (repeatable; implies --write; default: the "
        "Style setting; 'none' for the model's own style)",
    )
    p.add_argument("--json", action="store_true")
    add_engine_option(p)
    p.set_defaults(func=cmd_ask, answer_mode=None)

    p = sub.add_parser("status", help="folders, documents, chunks, failed and skipped files")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--check", action="store_true", help="read every page of the library to find damage"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("remove", help="forget an indexed folder (files are not touched)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("watch", help="keep indexed folders in step as their files change")
    p.add_argument("paths", nargs="*", type=Path, help="folders (default: every indexed one)")
    p.add_argument("--json", action="store_true", help="one JSON line per sync")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser(
        "rebuild", help="rebuild a damaged library from its folders (the old file is kept)"
    )
    p.add_argument(
        "--from",
        dest="folders",
        nargs="+",
        type=Path,
        default=[],
        help="folders to index (default: the library's own folder list)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rebuild)


def _refuse_damaged(library: Path) -> None:
    """Never write into a damaged library: say so, and how to rebuild it."""
    from desktop.library.repair import diagnose

    diagnosis = diagnose(library)
    if diagnosis.damaged:
        raise LibraryError(diagnosis.message())


def cmd_index(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        _refuse_damaged(s.library_path)
        bar = library_view.ProgressBar(enabled=not args.json)
        try:
            report = s.indexer.index(args.paths, progress=bar)
        finally:
            bar.close()
        show(args, report, library_view.report_json, library_view.print_report)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise FolioError("--k must be at least 1")
    with session_for(args) as s:
        folder_id = None
        if args.folder is not None:
            folder_id = s.library.folder_id(args.folder)
            if folder_id is None:
                raise FolioError(f"not an indexed folder: {args.folder}")
        result = s.searcher.search(args.query, k=args.k, mode=args.mode, folder_id=folder_id)
        embedding = s.library.embedding()  # still indexing: say how much the search saw
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
                    **library_view.embedding_json(embedding),
                }
            )
            return 0
        library_view.print_embedding(embedding)
        if not result.hits:
            print("no results", file=sys.stderr)
        for i, h in enumerate(result.hits, 1):
            page = f" p.{h.chunk.page}" if h.chunk.page is not None else ""
            where = f" ({h.chunk.location})" if h.chunk.location else ""
            snippet = " ".join(h.chunk.text.split())[:160]
            print(f"{i:2}. {h.chunk.path}{page}{where}  ({h.score:.4f})\n    {snippet}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    if args.k is not None and args.k < 1:
        raise FolioError("--k must be at least 1")
    with session_for(args) as s:
        if args.adapter and args.answer_mode == "quote":
            raise FolioError("--adapter styles what the model writes: it cannot go with --quote")
        # An adapter, or a server's model, is asked for to write the answer.
        served = args.engine is not None and args.engine.strip().lower() != "local"
        mode = "write" if (args.adapter or (served and not args.answer_mode)) else args.answer_mode
        if args.mode or mode:
            s.configure(
                s.settings.with_changes(
                    search_mode=args.mode or s.settings.search_mode,
                    answer_mode=mode or s.settings.answer_mode,
                )
            )
        apply_engine_option(s, args)
        if args.adapter:
            from desktop.cli.adapters_cmd import apply_adapter_args

            apply_adapter_args(s, args.adapter)
        answerer = s.answerer
        started = time.perf_counter()
        on_token = None if args.json else _stream_to_stdout
        answer = answerer.ask(args.question, k=args.k, on_token=on_token)
        embedding = s.library.embedding()
        if args.json:
            writes = s.settings.answer_mode == "write"
            style = (
                [{"name": n, "scale": sc} for n, sc in s.engine.active_adapters] if writes else []
            )
            print_json(
                {
                    **answer.to_json(),
                    "answer_mode": s.settings.answer_mode,
                    "adapters": style,
                    **library_view.embedding_json(embedding),
                }
            )
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
            f"{answer.how_made}, total {time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
        library_view.print_embedding(embedding)
    return 0


def _stream_to_stdout(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def cmd_status(args: argparse.Namespace) -> int:
    from desktop.library.repair import diagnose

    s = session_for(args)
    diagnosis = diagnose(s.library_path, thorough=args.check)
    if diagnosis.damaged:
        if args.json:
            print_json(library_view.damage_json(diagnosis))
            return 1
        raise LibraryError(diagnosis.message())
    with s:
        show(args, s.library, library_view.status_json, library_view.print_status)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    from desktop.library.compact import compact

    def waiting(message: str) -> None:
        print(f"folio: {message}", file=sys.stderr)

    with session_for(args) as s:
        report = compact(s.library.db, s.library_path, on_wait=waiting)
    if args.json:
        print_json(
            {
                "bytes_before": report.bytes_before,
                "bytes_after": report.bytes_after,
                "seconds": round(report.seconds, 2),
                "settled": report.settled,
            }
        )
    else:
        print(f"compacted in {report.summary()}", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with session_for(args) as s:
        folder_id = s.library.folder_id(args.path)
        if folder_id is None:
            raise FolioError(f"not an indexed folder: {args.path}")
        started = time.perf_counter()
        s.library.remove_folder(folder_id)
        print(
            f"removed {args.path} from the library in {time.perf_counter() - started:.2f} s "
            "(its files are not touched)",
            file=sys.stderr,
        )
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from desktop.cancel import CancelToken
    from desktop.library.sync import watch

    with session_for(args) as s:
        _refuse_damaged(s.library_path)
        roots = [p.expanduser().resolve() for p in args.paths] or [
            Path(p) for _, p in s.library.folders()
        ]
        if not roots:
            raise FolioError("nothing to watch: index a folder first, or name folders to watch")
        missing = [str(r) for r in roots if not r.is_dir()]
        if missing:
            raise FolioError(f"not a folder: {', '.join(missing)}")
        indexer = Indexer(
            s.library,
            s.embedder,
            s.tokenizer,
            s.settings.chunk_tokens,
            s.settings.chunk_overlap,
            s.ingest_limits,
            keep_workers=True,
        )

        def ready(report: IndexReport) -> None:
            line = {
                "event": "ready",
                "folders": [str(r) for r in roots],
                **library_view.report_json(report),
            }
            if args.json:
                print_json(line)
            else:
                library_view.print_report(report)
                print(
                    f"watching {len(roots)} folder(s) for changes (Ctrl-C to stop)",
                    file=sys.stderr,
                    flush=True,
                )

        def synced(root: Path, report: IndexReport, seconds: float) -> None:
            if args.json:
                print_json(
                    {
                        "event": "sync",
                        "folder": str(root),
                        "sync_s": round(seconds, 3),
                        **library_view.report_json(report),
                    }
                )
            else:
                print(
                    f"{time.strftime('%H:%M:%S')} {root}: {library_view.summary(report)} "
                    f"({seconds:.2f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        try:
            watch(indexer, roots, CancelToken(), synced, ready)
        except KeyboardInterrupt:
            print("folio: stopped watching", file=sys.stderr)
            return 0
        finally:
            indexer.close()
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from desktop.library.repair import diagnose, rebuild

    s = session_for(args)
    diagnosis = diagnose(s.library_path)
    folders = sorted({str(p.expanduser().resolve()) for p in args.folders} | set(diagnosis.folders))
    if not folders:
        raise FolioError(
            f"no folders known for {s.library_path}: name them with `folio rebuild --from DIR`"
        )
    reports: list[IndexReport] = []

    def index(path: Path, roots: list[Path]) -> None:
        # The session has not opened the library yet: it opens the new file at `path`.
        reports.append(s.indexer.index(roots, progress=library_view.ProgressBar(not args.json)))

    with s:
        aside = rebuild(s.library_path, folders, index)
    out = {
        "library": str(s.library_path),
        "damaged_copy": str(aside),
        "folders": folders,
        "problems": diagnosis.problems,
    }
    if args.json:
        print_json({**out, **(library_view.report_json(reports[0]) if reports else {})})
    else:
        print(
            f"rebuilt {s.library_path} from {len(folders)} folder(s); the old file is kept "
            f"as {aside}",
            file=sys.stderr,
        )
        for report in reports:
            library_view.print_report(report)
    return 0
