"""Starting the desktop app: logging, the Qt application, the theme and the main window."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop import APP_NAME, __version__, boundary
from desktop.config import Config
from desktop.logs import setup_logging
from desktop.session import Session
from desktop.ui import theme
from desktop.ui.qtcompat import emit

log = logging.getLogger(__name__)


def needs_offscreen() -> bool:
    """True on Linux without a display server (CI, ssh): Qt must render offscreen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


ICON = Path(__file__).resolve().parent / "assets" / "folio.svg"


def app_icon() -> QIcon:
    """Folio's icon (an SVG shipped with the package, found the same way when frozen)."""
    return QIcon(str(ICON))


def ensure_app() -> QApplication:
    """The QApplication, created once with Folio's names, icon and logging."""
    if needs_offscreen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("folio")
    app.setWindowIcon(app_icon())
    return app


class _BugReporter(QObject):
    """Turns an exception that escaped to Python's hooks into a log entry and a calm message,
    through the core's error boundary."""

    report = Signal(str)

    def __init__(self, config: Config | None) -> None:
        super().__init__()
        self.config = config
        self.report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        from desktop.ui.workers import user_message

        outcome = boundary.classify(exc)
        if outcome.kind == "cancelled":
            return
        emit(self.report, user_message(exc, self.config))

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def _show(self, message: str) -> None:
        parent = QApplication.activeWindow()
        box = QMessageBox(
            QMessageBox.Icon.Warning, APP_NAME, message, QMessageBox.StandardButton.Ok, parent
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


_reporter: _BugReporter | None = None


def install_error_hooks(config: Config | None = None) -> None:
    """Route uncaught exceptions (main thread, Python threads, Qt slots) to the reporter."""
    global _reporter
    if _reporter is None:
        _reporter = _BugReporter(config)
    else:
        _reporter.config = config
    sys.excepthook = _reporter.excepthook
    threading.excepthook = _reporter.thread_hook


def run_app(library: Path | None = None) -> int:
    """Open Folio's window and run until it is closed; returns the exit code."""
    if needs_offscreen():
        # An invisible window nobody can close is worse than a clear word.
        print(
            "folio: no display found, so the window cannot open here. Use the command line "
            "(`folio --help`), or `folio selftest` to check the window offscreen.",
            file=sys.stderr,
        )
        return 1
    config = Config.from_environment(library)
    setup_logging(config.locations.log_file)
    log.info("Folio %s starting", __version__)
    app = ensure_app()
    install_error_hooks(config)
    theme.apply(app, config.settings.theme)
    from desktop.ui.main_window import MainWindow
    from desktop.ui.repair_prompt import offer_rebuild
    from desktop.ui.workers import user_message

    try:
        ours = config.library_path == config.locations.library
        to_index = offer_rebuild(config.library_path, ours=ours)
        if to_index is None:
            return 1
        window = MainWindow(Session(config))
    except Exception as exc:  # noqa: BLE001 - a damaged library must not show a traceback
        QMessageBox.critical(None, APP_NAME, user_message(exc, config))
        return 1
    window.show()
    if to_index:
        window.index_paths(to_index)  # the rebuild, with its progress in the sidebar
    _quit_on_signals(window)
    code = app.exec()
    window.shutdown()
    log.info("Folio closed (exit code %s)", code)
    return int(code)


def _quit_on_signals(window: QWidget) -> None:
    """Close the window cleanly on Ctrl+C or SIGTERM from a terminal or a session manager.

    Python runs signal handlers only when it gets control, so a timer hands it control
    a few times a second while Qt's event loop waits.
    """

    def close(_signum: int, _frame: object) -> None:
        window.close()

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    timer = QTimer(window)
    timer.timeout.connect(_python_tick)
    timer.start(250)


def _python_tick() -> None:
    """Nothing: returning to Python lets pending signal handlers run."""
