"""The window's state machines on the registered fakes: asking, streaming, Stop (confirmed
by the engine, or closed locally when the engine is slow), an engine bug, and where the
keyboard goes after Add folder…. Real Qt (offscreen) and real SQLite; no model files."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from desktop.config import Config
from desktop.session import Session
from desktop.ui.chat_controller import STOP_GRACE_MS
from desktop.ui.main_window import MainWindow
from tests.fakes import ScriptedEngine, fake_registry

pytestmark = pytest.mark.fast

LONG = " ".join(f"word{i}" for i in range(400))


@pytest.fixture
def open_fake(open_window, fake_config: Config):  # type: ignore[no-untyped-def]
    """A window on the fakes, with this scripted engine writing the answers (the streaming and
    Stop machinery is the model's: `answer_mode="quote"` for a new install's window)."""

    def make(engine: ScriptedEngine | None = None, answer_mode: str = "write") -> MainWindow:
        registry = fake_registry(engine=engine or ScriptedEngine())
        settings = fake_config.settings.with_changes(answer_mode=answer_mode)
        config = fake_config.with_settings(settings)
        return open_window(Session(config, registry), model_timeout_ms=10_000)

    return make


def notes(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "starter.txt").write_text(
        "The office sourdough starter is named Gregory. It is fed rye flour on Tuesdays.\n",
        encoding="utf-8",
    )
    (root / "travel.txt").write_text(
        "Flights to Reykjavik are booked through the Hvalur agency.\n", encoding="utf-8"
    )
    return root


def index(qtbot, w: MainWindow, folder: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(w.library_ctl.job_ended, timeout=10_000) as ended:
        w.index_paths([folder])
    assert ended.args[1] == "done"


def test_an_answer_streams_cites_and_is_stored(  # type: ignore[no-untyped-def]
    qtbot, open_fake, tmp_path: Path
) -> None:
    w = open_fake()
    index(qtbot, w, notes(tmp_path / "docs"))
    pieces: list[str] = []
    w.chat.streamed.connect(lambda _r, p: pieces.append(p))
    with qtbot.waitSignal(w.chat.answer_finished, timeout=10_000) as done:
        w.chat.send("What is the sourdough starter called?")
    _, answer, info = done.args
    assert len(pieces) > 3 and "".join(pieces).strip() == answer.text
    assert "Gregory" in answer.text and answer.citations[0].path.endswith("starter.txt")
    assert info["model"] == "fake-scripted"
    assert w.history.list.count() == 1
    stored = w.chat.chats.messages(w.chat.chat_id or 0)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].citations


def test_a_new_window_quotes_and_the_answer_menu_switches_to_writing(  # type: ignore[no-untyped-def]
    qtbot, open_fake, tmp_path: Path
) -> None:
    engine = ScriptedEngine()
    w = open_fake(engine, answer_mode="quote")
    bar = w.model_bar
    assert bar.answer_mode() == "quote" and not bar.adapter_combo.isEnabled()
    index(qtbot, w, notes(tmp_path / "docs"))
    with qtbot.waitSignal(w.chat.answer_finished, timeout=10_000) as done:
        w.chat.send("What is the sourdough starter called?")
    quoted = done.args[1]
    assert quoted.grounding == "quoted" and not engine.prompts
    assert quoted.text == "The office sourdough starter is named Gregory [1]."
    assert quoted.support[0].sentence == "The office sourdough starter is named Gregory."
    assert quoted.citations[0].path.endswith("starter.txt")

    bar.answer_combo.setCurrentIndex(bar.answer_combo.findData("write"))
    assert bar.adapter_combo.isEnabled()
    assert w.session.settings.answer_mode == "write"  # remembered for the next start
    with qtbot.waitSignal(w.chat.answer_finished, timeout=10_000) as done:
        w.chat.send("What is the sourdough starter called?")
    assert done.args[1].grounding != "quoted" and len(engine.prompts) == 1


def _stop_at_first_piece(qtbot, w: MainWindow) -> tuple[object, dict]:  # type: ignore[no-untyped-def]
    def on_piece(_request: int, _piece: str) -> None:
        w.chat.streamed.disconnect(on_piece)
        qtbot.mouseClick(w.composer.button, Qt.MouseButton.LeftButton)

    w.chat.streamed.connect(on_piece)
    with qtbot.waitSignal(w.chat.answer_finished, timeout=10_000) as done:
        w.chat.send("What is the office sourdough starter named?")
    _, answer, info = done.args
    return answer, info


def test_stop_is_confirmed_by_the_engine(qtbot, open_fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = ScriptedEngine(lambda _m: LONG, token_delay_s=0.005)
    w = open_fake(engine)
    index(qtbot, w, notes(tmp_path / "docs"))
    answer, info = _stop_at_first_piece(qtbot, w)
    assert answer.stopped and info.get("confirmed", True)  # the worker's own answer
    assert len(answer.text.split()) < 50  # it did stop, well before 400 words
    assert w.composer.button.text() == "Send" and not w.chat.in_flight
    assert "stopped" in w.chat_view.toPlainText()


def test_a_slow_engine_is_closed_locally_and_keeps_its_sources(  # type: ignore[no-untyped-def]
    qtbot, open_fake, tmp_path: Path
) -> None:
    # The first word comes at once; the engine then spends 0.5 s inside the next one.
    engine = ScriptedEngine(lambda _m: LONG, token_delay_s=0.5, first_delayed_token=1)
    w = open_fake(engine)
    index(qtbot, w, notes(tmp_path / "docs"))
    answer, info = _stop_at_first_piece(qtbot, w)
    assert answer.stopped and info["confirmed"] is False  # closed after STOP_GRACE_MS
    assert w.composer.button.text() == "Send"
    assert w.chat.in_flight  # the engine is still inside its slow token
    qtbot.waitUntil(lambda: not w.chat.in_flight, timeout=10_000)
    stored = w.chat.chats.messages(w.chat.chat_id or 0)[-1]
    assert stored.meta["passages"], "the late result fills in the sources"
    assert STOP_GRACE_MS < 500


def test_a_bug_in_the_engine_is_a_readable_message(qtbot, open_fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def broken(_messages: Sequence[dict[str, str]]) -> str:
        raise RuntimeError("kv cache exploded")

    w = open_fake(ScriptedEngine(broken))
    index(qtbot, w, notes(tmp_path / "docs"))
    with qtbot.waitSignal(w.chat.answer_failed, timeout=10_000) as failed:
        w.chat.send("What is the starter called?")
    message = failed.args[1]
    assert message.startswith("Something went wrong inside Folio (RuntimeError: kv cache")
    assert "folio.log" in message and "Traceback" not in message
    assert "Couldn't answer" in w.chat_view.toPlainText()


@pytest.fixture
def chosen_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    asked: list[str] = []
    folder = notes(tmp_path / "picked")

    def pick(*_args: object, **_kwargs: object) -> str:
        asked.append("dialog")
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", pick)
    yield asked


def test_after_add_folder_typing_goes_to_the_question(  # type: ignore[no-untyped-def]
    qtbot, open_fake, chosen_folder: list[str]
) -> None:
    w = open_fake()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5_000)
    button = w.sidebar.add_button
    button.setFocus()
    with qtbot.waitSignal(w.library_ctl.job_ended, timeout=10_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert chosen_folder == ["dialog"]
    assert QApplication.focusWidget() is w.composer.edit

    # The user clicks the transcript, then types: the keys land in the question box,
    # and the space bar never presses Add folder… again.
    w.chat_view.setFocus()
    qtbot.keyClicks(w.chat_view, "how is the starter called")
    assert w.composer.edit.toPlainText() == "how is the starter called"
    assert QApplication.focusWidget() is w.composer.edit
    assert chosen_folder == ["dialog"]
    typed: Callable[[], str] = w.composer.edit.toPlainText
    qtbot.keyClicks(w.chat_view, "?")
    assert typed().endswith("?")


def test_garbage_is_collected_on_the_gui_thread_only(qtbot, open_fake) -> None:  # type: ignore[no-untyped-def]
    # A worker that allocates cyclic garbage must not run the collector itself: the garbage
    # of a closed window holds Qt objects, and destroying those off the GUI thread crashed
    # the process (a segfault "Garbage-collecting" in the chat worker, 1 run in 6).
    import gc
    import threading

    w = open_fake()
    collected_on: list[int] = []

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collected_on.append(threading.get_ident())

    def churn() -> None:
        for _ in range(50_000):
            cycle: list[object] = []
            cycle.append(cycle)

    gc.callbacks.append(on_gc)
    try:
        worker = threading.Thread(target=churn)
        worker.start()
        worker.join()
        gui = threading.get_ident()
        qtbot.waitUntil(lambda: gui in collected_on, timeout=5_000)  # collected, on the GUI
    finally:
        gc.callbacks.remove(on_gc)
    assert set(collected_on) == {gui}
    w.close()
    assert gc.isenabled()  # the last window gives automatic collection back
