"""`folio selftest`: the real window, end to end, in a temporary home; exit 0 only if all worked.

Steps: open the window (offscreen without a display), load the default model, index a
generated sample folder through the same path as a drop, ask a question and open its
citation (quoted, as a new install answers), switch to written answers with a style adapter
(writing a small synthetic one first if none is installed) and ask again on the same
resident model. `--screenshot DIR` saves each state.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.paths import Locations
from desktop.sample import QUESTIONS, make_corpus

if TYPE_CHECKING:
    from desktop.library.index_types import IndexProgress
    from desktop.ui.main_window import MainWindow

log = logging.getLogger(__name__)

MODEL_TIMEOUT_S = 180
INDEX_TIMEOUT_S = 300
ANSWER_TIMEOUT_S = 300
ADAPTER_NAME = "selftest-style"
# The synthetic adapter's weights are random: at full strength it turns answers into noise,
# at this strength it visibly rewords them (what a real style adapter does).
ADAPTER_SCALE = 0.3
ARCHIVE_NOTES = 200  # small generated notes, so indexing shows real progress
ANSWER_TOKENS = 64  # enough for the sample answers; a synthetic style may ramble on


class StepFailed(Exception):
    """A self-test step did not do what it should."""


class SelfTest:
    """Runs the steps against one window and records what happened."""

    def __init__(
        self, root: Path, where: Locations, shots: Path | None, echo: Callable[[str], None]
    ) -> None:
        self.root = root
        self.where = where
        self.shots = shots
        self.echo = echo
        self.results: list[tuple[str, bool, str, float]] = []
        self.window: MainWindow | None = None

    def step(self, name: str, action: Callable[[], str]) -> bool:
        started = time.perf_counter()
        try:
            detail = action()
            ok = True
        except StepFailed as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - a self-test reports, it does not crash
            log.exception("self-test step %s failed", name)
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        self.results.append((name, ok, detail, seconds))
        suffix = f": {detail}" if detail else ""
        self.echo(f"{'ok  ' if ok else 'FAIL'} {name} ({seconds:.1f} s){suffix}")
        return ok

    @property
    def opened(self) -> MainWindow:
        """The window `open_window` opened (the later steps run only once it has)."""
        if self.window is None:
            raise StepFailed("the window is not open")
        return self.window

    def shot(self, name: str) -> None:
        from desktop.ui.harness import screenshot

        screenshot(self.opened, self.shots, name)

    # -- steps -----------------------------------------------------------------------------
    def open_window(self) -> str:
        from desktop.config import Config
        from desktop.session import Session
        from desktop.settings import Settings
        from desktop.ui.harness import wait_for
        from desktop.ui.main_window import MainWindow

        settings = Settings(max_answer_tokens=ANSWER_TOKENS)
        self.window = MainWindow(Session(Config.resolve(settings, self.where)))
        self.window.resize(1320, 820)
        self.window.show()
        got = (
            wait_for(self.window.models.model_ready, MODEL_TIMEOUT_S)
            if not self.window.model_info
            else (1,)
        )
        if got is None:
            raise StepFailed("the model did not load in time")
        self.shot("01-first-run.png")
        return f"model {self.window.model_info.get('name', '?')}"

    def index_sample(self) -> str:
        from desktop.ui.harness import drop_paths, wait_for, write_notes

        docs = make_corpus(self.root / "sample")
        notes = write_notes(self.root / "garden-diary", ARCHIVE_NOTES)
        w = self.opened
        shot_taken: list[bool] = []

        def on_progress(_job: int, progress: IndexProgress) -> None:
            total = progress.files_total
            if not shot_taken and total // 4 <= progress.files_done < total * 3 // 4:
                shot_taken.append(True)
                w.library_ctl.refresh()  # counts as stored so far
                self.shot("02-indexing.png")

        w.library_ctl.job_progress.connect(on_progress)
        try:
            if not drop_paths(w, [docs, notes]):  # as if dragged from the file manager
                raise StepFailed("the window did not accept the dropped folders")
            ended = wait_for(w.library_ctl.job_ended, INDEX_TIMEOUT_S)
        finally:
            w.library_ctl.job_progress.disconnect(on_progress)
        if ended is None or ended[1] != "done":
            raise StepFailed(f"indexing did not finish ({ended[1] if ended else 'timed out'})")
        counts = w.library.counts()
        if counts["documents"] < 4 + ARCHIVE_NOTES or counts["chunks"] < 4 + ARCHIVE_NOTES:
            raise StepFailed(f"the sample was not indexed: {counts}")
        self.shot("03-library.png")
        return f"{counts['documents']} documents, {counts['chunks']} chunks"

    def ask(self, question: str, shot: str, expect_adapter: str | None = None) -> str:
        from desktop.rag.answer import Answer
        from desktop.ui.harness import wait_for

        w = self.opened
        request = w.chat.send(question)
        if request is None:
            raise StepFailed("the question was not accepted")
        got = wait_for(w.chat.answer_finished, ANSWER_TIMEOUT_S, lambda r, *_: r == request)
        if got is None:
            raise StepFailed("no answer in time")
        _, answer, info = got  # answer_finished: request id, Answer, AnswerInfo
        if not isinstance(answer, Answer) or not isinstance(info, dict):
            raise StepFailed(f"answer_finished sent {type(answer).__name__}, {type(info).__name__}")
        if not answer.found or not answer.text.strip():
            raise StepFailed(f"no grounded answer: {answer.text[:80]!r}")
        # A synthetic style changes the wording, so it may cite nothing; retrieval must
        # still hand the model the right page.
        pool = answer.passages if expect_adapter else answer.citations
        cited = [c for c in pool if c.path.endswith("operations-report.pdf")]
        if not cited or cited[0].page != 2:
            raise StepFailed("the answer does not cite operations-report.pdf page 2")
        names = [a["name"] for a in info.get("adapters", [])]
        if expect_adapter is not None and expect_adapter not in names:
            raise StepFailed(f"the answer was not written with {expect_adapter} ({names})")
        w.chat.show_citation(w.chat.sources.key or 0, cited[0].n)
        current = w.sources.current or {}
        if current.get("page") != 2:
            raise StepFailed("the sources panel does not show page 2")
        self.shot(shot)
        return (
            f"{len(answer.text)} characters, first token "
            f"{answer.timings_ms.get('first_token', 0):.0f} ms, {answer.how_made}"
        )

    def switch_adapter(self) -> str:
        from desktop.ui.harness import wait_for, wait_until

        w = self.opened
        before = id(w.chat.worker.engine)
        usable = [r for r in w.adapter_rows if r["ok"]]
        if not usable:
            w.refresh_adapters()
            wait_until(lambda: any(r["ok"] for r in w.adapter_rows), 30)
            usable = [r for r in w.adapter_rows if r["ok"]]
        if not usable:
            raise StepFailed("no compatible adapter is listed")
        name = usable[0]["name"]
        bar = w.model_bar
        bar.answer_combo.setCurrentIndex(bar.answer_combo.findData("write"))  # as a user picks
        if w.session.settings.answer_mode != "write":
            raise StepFailed("choosing Write in the Answer menu did not apply")
        if not bar.select_adapter(name, ADAPTER_SCALE):
            raise StepFailed(f"adapter {name} cannot be chosen in the dropdown")
        got = wait_for(
            w.models.adapters_changed, 60, lambda rows: any(r["name"] == name for r in rows)
        )
        if got is None:
            raise StepFailed(f"adapter {name} was not applied")
        engine = w.chat.worker.engine
        if engine is None or id(engine) != before:
            raise StepFailed("the model was reloaded to switch the adapter")
        return name

    def settings_and_theme(self) -> str:
        from desktop.ui import theme
        from desktop.ui.formatting import citation_number
        from desktop.ui.harness import screenshot
        from desktop.ui.settings_dialog import SettingsDialog

        window = self.opened
        dialog = SettingsDialog(window.settings, self.where, window)
        dialog.show()
        screenshot(dialog, self.shots, "06-settings.png")
        dialog.reject()
        if self.shots is not None:
            from PySide6.QtWidgets import QApplication

            app = QApplication.instance()
            assert isinstance(app, QApplication)
            theme.apply(app, "dark")
            chat = window.chat
            chat.open_chat(chat.chat_id)  # redraw with dark colours
            answers = [
                m
                for m in chat.chats.messages(chat.chat_id or 0)
                if m.role == "assistant" and m.citations
            ]
            if answers:
                chat.show_citation(answers[0].id, citation_number(answers[0].citations[0]))
            self.shot("07-dark.png")
            theme.apply(app, "light")
        return ""


def ensure_adapter(where: Locations) -> str:
    """Use an installed adapter that fits the default model, or write a small one."""
    from desktop.adapters import check_compatibility, discover
    from desktop.adapters.synth import write_lora
    from desktop.models.catalog import load_catalog
    from desktop.models.installed import require_local

    model = require_local(load_catalog().default("chat"), where.models_search_path)
    for info in discover(where.adapter_dirs):
        if check_compatibility(info, model, where.cache_dir).ok:
            return f"using installed adapter {info.name}"
    out = where.user_adapters_dir / f"{ADAPTER_NAME}.gguf"
    write_lora(
        model,
        out,
        name=ADAPTER_NAME,
        seed=7,
        description="A synthetic style written by folio selftest",
    )
    return f"wrote {out.name}"


def run_selftest(
    screenshot_dir: Path | None = None,
    echo: Callable[[str], None] | None = None,
    user: Locations | None = None,
) -> int:
    """Run every step in a temporary home that sees the `user`'s models (default: this
    user's); returns 0 if all passed, 1 otherwise."""
    from desktop.logs import close_logging, recent_log, setup_logging
    from desktop.ui import theme
    from desktop.ui.app import ensure_app, install_error_hooks
    from desktop.ui.harness import temporary_home

    say = echo or (lambda line: print(line, flush=True))
    shots = Path(screenshot_dir).resolve() if screenshot_dir else None
    with temporary_home(user or Locations.from_environment()) as (root, where):
        setup_logging(where.log_file)
        app = ensure_app()
        install_error_hooks()
        theme.apply(app, "light")
        test = SelfTest(root, where, shots, say)
        ok = test.step("adapter available", lambda: ensure_adapter(where))
        ok = test.step("open window and load model", test.open_window) and ok
        if test.window is not None:
            ok = test.step("index sample folder", test.index_sample) and ok
            ok = test.step("ask a question", lambda: test.ask(QUESTIONS[0], "04-answer.png")) and ok
            adapter: list[str] = []

            def switch() -> str:
                adapter.append(test.switch_adapter())
                return adapter[0]

            switched = test.step("switch adapter", switch)
            ok = switched and ok
            if switched:
                ok = (
                    test.step(
                        "ask with the adapter",
                        lambda: test.ask(QUESTIONS[0], "05-adapter.png", expect_adapter=adapter[0]),
                    )
                    and ok
                )
            ok = test.step("settings and theme", test.settings_and_theme) and ok
            test.window.close()
        if not ok:
            print(recent_log(where.log_file, 30), file=sys.stderr)
        close_logging()
    passed = sum(1 for r in test.results if r[1])
    say(
        f"selftest: {passed}/{len(test.results)} steps passed"
        + (f"; screenshots in {shots}" if shots else "")
    )
    return 0 if ok else 1
