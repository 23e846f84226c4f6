"""The composition root: one Session builds every part, per thread where it must, from an
explicit Config; fast, on the registered fakes over real SQLite + sqlite-vec + FTS5."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Slot

from desktop.config import Config
from desktop.library.store import Library
from desktop.paths import Locations
from desktop.rag.answer import Answer
from desktop.sample import make_corpus
from desktop.session import Session
from desktop.settings import Settings
from tests.fakes import HASHING_ID, SCRIPTED_ID, HashingEmbedder, ScriptedEngine, fake_registry

pytestmark = pytest.mark.fast

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"


def fake_settings() -> Settings:
    return Settings(chat_model=SCRIPTED_ID, embedding_model=HASHING_ID)


def test_the_session_builds_every_part_from_the_registered_fakes(
    fake_session: Session, tmp_path: Path
) -> None:
    docs = make_corpus(tmp_path / "docs", pdf=False)
    report = fake_session.indexer.index([docs])
    assert report.added == 4 and not report.failed
    assert isinstance(fake_session.embedder, HashingEmbedder)
    assert fake_session.library.embedder() == (HASHING_ID, 64)

    hits = fake_session.searcher.search("sourdough starter Gregory", k=3).hits
    assert hits and hits[0].chunk.path.endswith("recipes.md")

    question = "What is the office sourdough starter called?"
    quoted = fake_session.answerer.ask(question)  # a new install quotes: no model call
    engine = fake_session.engine
    assert isinstance(engine, ScriptedEngine)
    assert quoted.grounding == "quoted" and not engine.prompts
    assert "Gregory" in quoted.text and quoted.citations[0].path.endswith("recipes.md")
    assert quoted.support[0].sentence in quoted.citations[0].text

    fake_session.configure(fake_session.settings.with_changes(answer_mode="write"))
    written = fake_session.answerer.ask(question)
    assert "Gregory" in written.text and written.citations[0].path.endswith("recipes.md")
    assert len(engine.prompts) == 1 and engine.prompts[0][0]["role"] == "system"


def test_parts_follow_the_settings_they_depend_on(fake_config: Config) -> None:
    engines: list[ScriptedEngine] = []

    def build(_config: Config, _spec: object) -> ScriptedEngine:
        engines.append(ScriptedEngine())
        return engines[-1]

    registry = fake_registry()
    registry.register_chat_engine(SCRIPTED_ID, build)
    registry.register_chat_engine("other-fake", build)
    written = fake_config.settings.with_changes(answer_mode="write")
    with Session(fake_config.with_settings(written), registry) as s:
        first = s.answerer
        assert s.answerer is first  # nothing changed: nothing rebuilt
        s.configure(s.settings.with_changes(k=2, search_mode="keyword"))
        second = s.answerer
        assert second is not first and (second.k, second.mode) == (2, "keyword")
        assert second.engine is first.engine and len(engines) == 1  # no model reload
        assert s.engine_is_current()
        s.configure(s.settings.with_changes(chat_model="other-fake"))
        assert not s.engine_is_current()
        assert s.answerer.engine is engines[1]
        assert engines[0].closed and not engines[1].closed  # the old model was freed
    assert engines[1].closed


def test_each_thread_gets_its_own_connection_and_keeps_it(fake_session: Session) -> None:
    mine = fake_session.library
    assert fake_session.library is mine
    seen: list[Library] = []

    def other() -> None:
        seen.append(fake_session.library)
        seen.append(fake_session.library)
        fake_session.release_thread()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen[0] is seen[1] and seen[0] is not mine


class _Probe(QObject):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.seen: list[int] = []

    @Slot()
    def look(self) -> None:
        self.seen.append(id(self.session.library))

    @Slot()
    def done(self) -> None:
        self.session.release_thread()
        self.thread().quit()


def test_a_qt_worker_thread_keeps_its_parts_across_queued_calls(
    qtbot, fake_session: Session
) -> None:  # type: ignore[no-untyped-def]
    """Qt enters Python with a fresh thread state per slot call; a threading.local would
    forget the worker's connection between two calls (and open a new one each time)."""
    probe = _Probe(fake_session)
    thread = QThread()
    probe.moveToThread(thread)
    thread.start()
    for _ in range(3):
        QMetaObject.invokeMethod(probe, "look", Qt.ConnectionType.QueuedConnection)
    QMetaObject.invokeMethod(probe, "done", Qt.ConnectionType.QueuedConnection)
    assert thread.wait(10_000)
    assert len(probe.seen) == 3 and len(set(probe.seen)) == 1


def _bind_at_once(session: Session, threads: int) -> list[BaseException]:
    """Have `threads` threads build their indexer (which binds the embedder) together."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def bind() -> None:
        barrier.wait()
        try:
            _ = session.indexer
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            session.release_thread()

    started = [threading.Thread(target=bind) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return errors


def test_two_threads_bind_a_new_library_at_once_without_a_lock(
    locations: Locations, tmp_path: Path
) -> None:
    """`Library.bind_embedder` is race-free on its own (INSERT OR IGNORE, then compare)."""
    for attempt in range(5):
        config = Config.resolve(fake_settings(), locations, tmp_path / f"{attempt}.db")
        assert _bind_at_once(Session(config, fake_registry()), 3) == []
        with Library(config.library_path) as lib:
            assert lib.embedder() == (HASHING_ID, 64)


def test_no_setting_travels_through_the_environment() -> None:
    """The acceptance check of the composition root, kept: no module assigns FOLIO_*."""
    assigning = re.compile(
        r"os\.environ\[\s*[\"']FOLIO_|environ\.(setdefault|update)\(\s*[\"']FOLIO_"
    )
    offenders = [
        f"{path.relative_to(DESKTOP.parent)}:{n}"
        for path in DESKTOP.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if assigning.search(line)
    ]
    assert offenders == []


def test_configuration_is_explicit(locations: Locations, tmp_path: Path) -> None:
    settings = fake_settings().with_changes(models_dir=str(tmp_path / "my-models"))
    config = Config.resolve(settings, locations)
    assert config.library_path == locations.library
    assert config.locations.models_search_path[0] == tmp_path / "my-models"
    assert config.with_settings(fake_settings()).locations.models_search_path[0] == (
        locations.data_dir / "models"
    )
    with pytest.raises(ValueError, match="search mode"):
        fake_settings().with_changes(search_mode="fuzzy")


STARTER = "What is the office sourdough starter called?"


def _written_then_quoted(
    config: Config, tmp_path: Path, engine: ScriptedEngine, *questions: str
) -> tuple[list[Answer], Answer]:
    """Each question answered in Write mode by `engine` over the sample corpus, then the
    first one answered again in Quote mode."""
    docs = make_corpus(tmp_path / "docs", pdf=False)
    written = config.with_settings(config.settings.with_changes(answer_mode="write"))
    with Session(written, fake_registry(engine=engine)) as s:
        s.indexer.index([docs])
        answers = [s.answerer.ask(q) for q in questions]
        s.configure(s.settings.with_changes(answer_mode="quote"))
        return answers, s.answerer.ask(questions[0])


def test_a_written_answer_no_passage_supports_falls_back_to_the_quote(
    fake_config: Config, tmp_path: Path
) -> None:
    invented = ScriptedEngine(lambda _m: "The starter is called Brenda and eats muffins [1].")
    [answer], quoted = _written_then_quoted(fake_config, tmp_path, invented, STARTER)
    assert answer.model_text.startswith("The starter is called Brenda")
    assert answer.grounding == "quoted" and "Brenda" not in answer.text
    assert answer.text == quoted.text and "Gregory" in answer.text
    assert answer.support == quoted.support


def test_a_written_decline_gives_way_to_the_quote_when_the_passages_answer(
    fake_config: Config, tmp_path: Path
) -> None:
    declining = ScriptedEngine(lambda _m: "- The documents don't say.")
    off_question = "Which team won the 1966 football world cup final?"
    [answer, off_topic], quoted = _written_then_quoted(
        fake_config, tmp_path, declining, STARTER, off_question
    )
    assert answer.model_text == "- The documents don't say."
    assert answer.grounding == "quoted" and answer.support == quoted.support
    assert answer.text.startswith("- ") and "Gregory" in answer.text  # the model's style
    assert off_topic.grounding in ("declined", "") and "Gregory" not in off_topic.text
    assert quoted.how_made == "quoted" and answer.how_made.endswith("tokens/s")


def test_a_bulleted_style_shapes_the_models_prose_and_the_gates_decline(
    fake_config: Config, tmp_path: Path
) -> None:
    """The shipped bullet style's format (its sidecar's format_regex) holds for every answer
    under it: the model's prose becomes bullets, the relevance gate declines in its words."""
    import re
    import sys

    from desktop.adapters.discovery import find_adapter

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    docs = make_corpus(tmp_path / "docs", pdf=False)
    written = fake_config.with_settings(fake_config.settings.with_changes(answer_mode="write"))
    engine = ScriptedEngine()  # one plain sentence from passage [1]
    with Session(written, fake_registry(engine=engine)) as s:
        s.indexer.index([docs])
        info = find_adapter("bullet-brief", s.locations.adapter_dirs)
        declared = tomllib.loads(info.path.with_suffix(".toml").read_text())["format_regex"]
        assert info.format_regex == declared
        s.engine.set_adapters([("bullet-brief", 1.0)])
        shaped = s.answerer.ask(STARTER)
        declined = s.answerer.ask("Zeppelins over Reykjavik: quasars?")
        s.engine.set_adapters([])
        plain = s.answerer.ask(STARTER)
    assert not shaped.model_text.startswith("- ") and shaped.text.startswith("- ")
    assert re.fullmatch(declared, shaped.text), shaped.text
    assert not declined.found and re.fullmatch(declared, declined.text), declined.text
    assert plain.text == shaped.model_text and not plain.text.startswith("- ")
