"""`folio engines test URL | key URL`: a serving engine (llama-server, vLLM, Ollama), and the
`--engine URL` option that `folio ask` and `folio bench rag` share."""

from __future__ import annotations

import argparse
import getpass
import sys

from desktop.cli.common import Subcommands, config_for, print_json
from desktop.session import Session

LOCAL_WORDS = ("local", "none", "")


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """`--engine URL`: answer through this server for this run ('local': this computer)."""
    p.add_argument(
        "--engine",
        default=None,
        metavar="URL",
        help="answer through an OpenAI-compatible server (llama-server, vLLM, Ollama) at URL "
        "for this run; 'local' for this computer (default: Settings › Engine)",
    )
    p.add_argument(
        "--engine-model",
        default=None,
        metavar="ID",
        help="the server's model id (default: its own)",
    )


def apply_engine_option(session: Session, args: argparse.Namespace) -> None:
    """Point `session` at `--engine` (if given), warning where passages leave the machine."""
    url = getattr(args, "engine", None)
    model = getattr(args, "engine_model", None)
    if url is None and model is None:
        return
    changes: dict[str, str] = {}
    if url is not None:
        changes["engine_url"] = "" if url.strip().lower() in LOCAL_WORDS else url.strip()
    if model is not None:
        changes["engine_model"] = model
    session.configure(session.settings.with_changes(**changes))
    warn_about(session.settings.engine_url)


def warn_about(url: str) -> None:
    """Say on stderr what pointing at `url` means for privacy (nothing for loopback)."""
    if not url:
        return
    from desktop.engine.endpoint import Endpoint

    for warning in Endpoint(url).warnings():
        print(f"folio: warning: {warning}", file=sys.stderr)


def add_parser(sub: Subcommands) -> None:
    p = sub.add_parser("engines", help="serving engines: test a server, keep its API key")
    esub = p.add_subparsers(dest="engines", metavar="WHAT", required=True)
    t = esub.add_parser("test", help="connect and show the model, context size and adapters")
    t.add_argument("url")
    t.add_argument("--model", default="", help="the model id to ask for (default: its own)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_test)
    k = esub.add_parser("key", help="keep the server's API key in the OS keyring (read on stdin)")
    k.add_argument("url")
    k.add_argument("--delete", action="store_true", help="forget the kept key")
    k.set_defaults(func=cmd_key)


def cmd_test(args: argparse.Namespace) -> int:
    from desktop.engine import secrets
    from desktop.engine.endpoint import Endpoint
    from desktop.engine.server_info import probe

    config = config_for(args)
    key = config.engine_api_key or secrets.stored_key(Endpoint(args.url).url)
    endpoint = Endpoint(args.url, args.model, key)
    warn_about(endpoint.url)
    with endpoint.client(read_timeout_s=30) as client:
        info = probe(endpoint, client)
    if args.json:
        print_json(info.to_json())
    else:
        print("\n".join(info.lines()))
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    from desktop.engine import secrets
    from desktop.engine.endpoint import Endpoint

    url = Endpoint(args.url).url
    if args.delete:
        print("key forgotten" if secrets.forget_key(url) else "no key was kept for " + url)
        return 0
    if not secrets.has_keyring():
        from desktop.errors import ServerError

        raise ServerError(secrets.NO_KEYRING)
    prompt = f"API key for {url}: "
    key = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not key:
        from desktop.errors import ServerError

        raise ServerError("no key given")
    secrets.store_key(url, key)
    print(f"key kept in the OS keyring for {url}")
    return 0
