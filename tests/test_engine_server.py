"""The HTTP engine against a real llama-server on loopback, which the tests start themselves:
the default model with both shipped adapters loaded but off (`--lora-init-without-apply`).

Greedy answers through the server equal the local llama.cpp engine's, token for token, with no
adapter, each adapter and two at once; Stop ends the generation on the server (its slots and
its log say so); a killed server, a wrong key and a missing adapter each give one clear line.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.cancel import CancelToken
from desktop.cli import main
from desktop.engine.endpoint import Endpoint
from desktop.engine.llm import Engine
from desktop.engine.remote import RemoteEngine
from desktop.errors import AdapterError, ServerError
from desktop.rag.prompt import SYSTEM_PROMPT
from desktop.sample import make_corpus
from tests.llama_server import ADAPTERS, KEY, SHIPPED, Server, require_binary, start_server

pytestmark = pytest.mark.slow

QUESTION = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {
        "role": "user",
        "content": "Passages:\n[1] The Zorblax turbine produced 42 megawatts in March, after "
        "its blades were replaced by the northern site's staff.\n\nQuestion: How many "
        "megawatts did the Zorblax turbine produce?",
    },
]
LONG = [{"role": "user", "content": "Count from 1 to 300, one number per line."}]


@pytest.fixture(scope="module")
def server(chat_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_binary()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    running = start_server(chat_model_path, log)
    yield running
    running.stop()


# llama-server applies the repeat penalty over the prompt's last tokens too, llama-cpp-python
# over the answer's only: with the penalty off, the two must agree token for token.
NO_PENALTY = 1.0


@pytest.fixture(scope="module")
def local(chat_model_path: Path) -> Iterator[Engine]:
    engine = Engine(chat_model_path, n_ctx=2048, repeat_penalty=NO_PENALTY)
    yield engine
    engine.close()


@pytest.fixture()
def remote(server: Server) -> Iterator[RemoteEngine]:
    engine = RemoteEngine(Endpoint(server.url, api_key=KEY), repeat_penalty=NO_PENALTY)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    "adapters",
    [[], [("grounded", 1.0)], [("bullet-brief", 1.0)], [("grounded", 0.7), ("bullet-brief", 0.5)]],
    ids=["none", "grounded", "bullet-brief", "both"],
)
def test_greedy_answers_equal_the_local_engine(local, remote, adapters) -> None:  # type: ignore[no-untyped-def]
    local.set_adapters([(ADAPTERS / f"{n}.gguf", s) for n, s in adapters])
    remote.set_adapters(adapters)
    here = "".join(local.stream_chat(QUESTION, max_tokens=48))
    there = "".join(remote.stream_chat(QUESTION, max_tokens=48))
    assert there == here
    assert remote.active_adapters == tuple(adapters)
    assert remote.last_timings.get("predicted_n", 0) > 0  # the server's own count


def test_adapters_change_the_answer_so_the_comparison_means_something(remote) -> None:  # type: ignore[no-untyped-def]
    answers = set()
    for adapters in ([], [("grounded", 1.0)], [("bullet-brief", 1.0)]):
        remote.set_adapters(adapters)
        answers.add("".join(remote.stream_chat(QUESTION, max_tokens=48)))
    assert len(answers) == 3


def test_the_server_is_described(remote, server: Server) -> None:  # type: ignore[no-untyped-def]
    info = remote.info
    assert info.model.startswith("SmolLM2") and info.context == 2048
    assert set(info.adapters) == set(SHIPPED) and info.scalable
    assert info.where == "This computer (server)"
    assert remote.count_tokens("How many megawatts?") > 2


def test_stop_ends_generation_on_the_server(remote, server: Server) -> None:  # type: ignore[no-untyped-def]
    whole = "".join(remote.stream_chat(LONG, max_tokens=200))
    assert remote.last_timings["predicted_n"] >= 100, "the uncut answer must be long"
    cancel = CancelToken()
    pieces = []
    for piece in remote.stream_chat(LONG, max_tokens=200, cancel=cancel):
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.cancel()
    assert 3 <= len(pieces) <= 4 and whole.startswith("".join(pieces))

    def idle() -> bool:
        return not any(s["is_processing"] for s in server.get("/slots").json())

    deadline = time.monotonic() + 5
    while not idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert idle(), "the server kept generating after the stream was closed"
    # The server's own log: the slot was released with far fewer tokens than the uncut run.
    stops = re.findall(r"stop processing: n_tokens = (\d+)", server.log.read_text())
    assert len(stops) >= 2
    uncut, cut = int(stops[-2]), int(stops[-1])
    assert cut < uncut - 80, f"cut at {cut} tokens vs {uncut} uncut"


def test_stop_while_the_server_reads_the_prompt(remote, server: Server) -> None:  # type: ignore[no-untyped-def]
    cancel = CancelToken()
    threading.Timer(0.05, cancel.cancel).start()
    long_prompt = [{"role": "user", "content": "word " * 1500 + "\nSummarize."}]
    started = time.perf_counter()
    pieces = list(remote.stream_chat(long_prompt, max_tokens=50, cancel=cancel))
    assert time.perf_counter() - started < 1.0 and len(pieces) <= 1


def test_wrong_key_is_the_401_message(server: Server) -> None:
    with pytest.raises(ServerError, match=r"refused the API key \(401\)"):
        RemoteEngine(Endpoint(server.url, api_key="wrong"))


def test_an_adapter_the_server_lacks_is_named(remote) -> None:  # type: ignore[no-untyped-def]
    remote.set_adapters([("grounded", 1.0)])
    with pytest.raises(AdapterError, match="does not offer the adapter 'terse'.*bullet-brief"):
        remote.set_adapters([("terse", 1.0)])
    assert remote.active_adapters == (("grounded", 1.0),), "the previous set stays"


def test_unreachable_server_is_one_line_after_retries() -> None:
    from tests.llama_server import free_port

    started = time.perf_counter()
    with pytest.raises(ServerError, match="cannot reach the engine server"):
        RemoteEngine(Endpoint(f"http://127.0.0.1:{free_port()}"))
    assert time.perf_counter() - started < 5


def test_killing_the_server_mid_answer_keeps_what_was_said(
    chat_model_path: Path, tmp_path: Path
) -> None:
    doomed = start_server(chat_model_path, tmp_path / "doomed.log", key=None)
    engine = RemoteEngine(Endpoint(doomed.url))
    pieces: list[str] = []
    with pytest.raises(ServerError, match="broke in the middle of the answer") as failed:
        for piece in engine.stream_chat(LONG, max_tokens=200):
            pieces.append(piece)
            if len(pieces) == 3:
                doomed.stop()
    assert len(pieces) >= 3 and "\n" not in str(failed.value)
    engine.close()


def test_folio_ask_through_the_server_beside_local(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """`folio ask --engine` with the shipped sampling (repeat penalty 1.1, which the two
    apply over different windows): the same passages and adapters, the same fact."""
    docs = make_corpus(tmp_path)
    lib = str(tmp_path / "lib.sqlite")
    assert main(["--library", lib, "index", str(docs), "--json"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("FOLIO_ENGINE_API_KEY", KEY)
    question = "How many megawatts did the Zorblax turbine produce?"
    for adapters in ([], ["grounded"], ["bullet-brief"], ["grounded:0.7", "bullet-brief:0.5"]):
        flags = [f"--adapter={a}" for a in adapters] or ["--adapter=none"]
        answers = []
        for engine in ([], ["--engine", server.url]):
            argv = ["--library", lib, "ask", question, "--json", *flags, *engine]
            assert main(argv) == 0
            answers.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
        here, there = answers
        print(
            f"\n{adapters}: local {here['answer']!r}\n{' ' * len(str(adapters))}  server "
            f"{there['answer']!r}"
        )
        assert there["adapters"] == here["adapters"]
        assert there["tokens"] > 0 and there["found"] == here["found"]
        if not adapters:
            assert "42" in here["answer"] and "42" in there["answer"]


def test_folio_engines_test_shows_model_context_and_adapters(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FOLIO_ENGINE_API_KEY", KEY)
    assert main(["engines", "test", server.url, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "llama-server" and info["context"] == 2048
    assert {a["name"] for a in info["adapters"]} == set(SHIPPED)
    monkeypatch.setenv("FOLIO_ENGINE_API_KEY", "wrong")
    assert main(["engines", "test", server.url]) == 1
    assert "refused the API key (401)" in capsys.readouterr().err
