"""The main window: composes the views and connects them to the two worker controllers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

from PySide6.QtCore import QByteArray, QMimeData, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop import settings as settings_mod
from desktop.library import warm
from desktop.session import Session
from desktop.settings import Settings
from desktop.ui import gc_on_gui_thread, opener, theme
from desktop.ui.chat_controller import ChatController
from desktop.ui.chat_view import ChatView
from desktop.ui.chat_worker import AdapterRow, ModelInfo
from desktop.ui.composer import HINT, Composer
from desktop.ui.history_pane import HistoryPane
from desktop.ui.library_controller import COMPACTING, LibraryController
from desktop.ui.library_sidebar import LibrarySidebar
from desktop.ui.menus import MenuCommands, build_menus
from desktop.ui.model_bar import ModelBar
from desktop.ui.model_controller import ModelController
from desktop.ui.qtcompat import emit
from desktop.ui.sources_panel import SourcesPanel
from desktop.ui.workers import user_message

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

_P = ParamSpec("_P")


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders carried by a drag (URLs from the file manager)."""
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class MainWindow(QMainWindow):
    """Folio's window over one Session (the composition root of the core).

    Raises LibraryError if the library file cannot be opened.
    """

    settings_applied = Signal(Settings)
    _apply_settings = Signal()
    _start = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__()
        gc_on_gui_thread.hold()  # released in shutdown()
        self.setWindowTitle("Folio")
        self.setAcceptDrops(True)
        self.session = session
        self.library_path = session.library_path
        self.library = session.library  # this thread's connection: status and chats
        self._closed = False
        self._build_views()
        self.library_ctl = LibraryController(self.sidebar, session)
        self._read_ahead = False  # the library file read ahead once, after the model loads
        self.chat = ChatController(
            session,
            self.chat_view,
            self.composer,
            self.sources,
            self.history,
            self._library_empty,
        )
        self.models = ModelController(self.model_bar, self.chat.worker, session)
        self._connect()
        self.named_actions = build_menus(self, self._menu_commands())
        self._restore_geometry()
        emit(self._start)  # the chat worker loads the model in the background

    # -- construction ----------------------------------------------------------------------
    def _menu_commands(self) -> MenuCommands:
        def rename() -> None:
            if self.chat.chat_id is not None:
                self.history.start_rename(self.chat.chat_id)

        log_dir = QUrl.fromLocalFile(str(self.session.locations.log_dir))
        return MenuCommands(
            choose_folder=self.choose_folder,
            compact_library=self.compact_library,
            add_adapter=self.choose_adapter_file,
            open_settings=self.open_settings,
            quit=self.close,
            new_chat=self.chat.new_chat,
            stop=self.chat.stop,
            export_chat=self.export_chat,
            rename_chat=rename,
            teach=self.open_teach,
            show_sources=self.sources.setVisible,
            reload_adapters=self.refresh_adapters,
            copy_diagnostics=self.copy_diagnostics,
            open_log_folder=lambda: QDesktopServices.openUrl(log_dir),
        )

    def _read_ahead_once(self, _info: object) -> None:
        """Once the model is ready (the window's start-up I/O done), the library file is
        read into the OS page cache in the background, if it is small enough
        (desktop/library/warm.py), so the first question reads memory, not the disk."""
        if not self._read_ahead:
            self._read_ahead = True
            chat = self.chat  # read from the read-ahead's thread: one attribute, under the GIL
            warm.read_ahead_in_background(
                self.session.library_path, paused=lambda: chat.pending is not None
            )

    def _show_compacting(self, running: bool) -> None:
        """While the library is compacted, the status bar says so and the question box
        says why questions wait; both are restored after."""
        edit = self.composer.edit
        if running:
            edit.setPlaceholderText(
                "The library is being compacted: questions wait until it is done…"
            )
            after = " after the indexing under way" if self.library_ctl.busy else ""
            # No timeout: it stays until the result replaces it.
            self.statusBar().showMessage(
                f"Compacting the library{after}; new questions wait until it is done…"
            )
        else:
            edit.setPlaceholderText(HINT)
            self.statusBar().clearMessage()

    def compact_library(self) -> None:
        """File → Compact library, once no answer is being written (it saves to the
        library); new questions wait while it runs."""
        if self.chat.pending is not None:
            self.notify("Compact the library once the answer is done.")
            return
        self.library_ctl.compact_library()

    def open_teach(self) -> None:
        """Chat → Teach a style…: the dialog for this window's chat model."""
        from desktop.ui.teach_dialog import open_teach_dialog

        open_teach_dialog(self, self.session, self.model_info, self.refresh_adapters)

    def copy_diagnostics(self) -> str:
        """Help → Copy diagnostics: the report on the clipboard (and returned)."""
        from desktop.ui.diagnostics import report_for

        text = report_for(self.session.config, self.library, self.model_info)
        QGuiApplication.clipboard().setText(text)
        self.notify("Diagnostics copied to the clipboard.")
        return text

    def _build_views(self) -> None:
        self.model_bar = ModelBar()
        toolbar = self.addToolBar("Model")
        toolbar.setObjectName("ModelToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.model_bar)
        self.sidebar = LibrarySidebar()
        self.history = HistoryPane()
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.sidebar)
        left.addWidget(self.history)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        left.setObjectName("Sidebar")
        self.chat_view = ChatView()
        self.composer = Composer()
        self.chat_view.type_target = self.composer.edit
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 10)
        column.addWidget(self.chat_view, 1)
        inset = QVBoxLayout()
        inset.setContentsMargins(18, 0, 18, 0)
        inset.addWidget(self.composer)
        column.addLayout(inset)
        self.sources = SourcesPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for widget in (left, center, self.sources):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([290, 700, 330])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.statusBar().setSizeGripEnabled(True)

    def _connect(self) -> None:
        lib, chat = self.library_ctl, self.chat
        worker = chat.worker
        lib.error.connect(self.show_error)
        lib.notice.connect(self.notify)
        lib.library_changed.connect(chat.refresh_welcome)
        chat.blocked_by = lambda: COMPACTING if lib.compacting else None
        lib.compacting_changed.connect(self._show_compacting)
        chat.error.connect(self.show_error)
        chat.notice.connect(self.notify)
        self.sidebar.add_folder_requested.connect(self.choose_folder)
        self.sidebar.remove_requested.connect(self.confirm_remove_folder)
        self.sidebar.reveal_requested.connect(lambda p: self._guard(opener.show_in_folder, p))
        self.sources.open_requested.connect(
            lambda p, page: self._guard(opener.open_document, p, page)
        )
        self.sources.reveal_requested.connect(lambda p: self._guard(opener.show_in_folder, p))
        self.history.delete_requested.connect(self.confirm_delete_chat)
        self.history.export_requested.connect(self.export_chat)
        self.composer.edit.escape_pressed.connect(chat.stop)
        self._start.connect(worker.start)
        self._apply_settings.connect(worker.apply_settings)
        self.models.error.connect(self.show_error)
        self.models.notice.connect(self.notify)
        self.models.model_switch.connect(self._switch_model)
        self.models.model_ready.connect(self._read_ahead_once)
        self.models.adapters_changed.connect(chat.warm_if_typing)

    @property
    def settings(self) -> Settings:
        return self.session.settings

    def _switch_model(self, model_id: str) -> None:
        self.apply_settings(self.settings.with_changes(chat_model=model_id))

    # -- messages --------------------------------------------------------------------------
    def show_error(self, message: str, title: str = "Folio") -> None:
        """A readable message in a window-modal box that does not block the event loop."""
        log.info("shown to the user: %s", message)
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def notify(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _guard(self, action: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            action(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - a user never sees a traceback
            self.show_error(user_message(exc))

    def confirm(self, title: str, text: str, action: str) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self
        )
        yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        return box.clickedButton() is yes

    # -- library ---------------------------------------------------------------------------
    def _library_empty(self) -> bool:
        return not self.library_ctl.busy and self.library.counts()["documents"] == 0

    def index_paths(self, paths_: list[Path]) -> int | None:
        """Queue files and folders for indexing (what a drop or Add folder… does)."""
        job = self.library_ctl.index_paths(paths_)
        self.chat.refresh_welcome()  # "add documents" no longer applies
        self._focus_composer()
        return job

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder to the library", str(Path.home())
        )
        if folder:
            self.index_paths([Path(folder)])
        else:
            self._focus_composer()

    def _focus_composer(self) -> None:
        """Whatever the user did last, the next keys they type are a question: focus left on
        Add folder… would turn the first space into another click on it."""
        self.composer.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def confirm_remove_folder(self, folder_id: int, path: str) -> None:
        if self.confirm(
            "Remove folder",
            f"Remove {path} from the library?\n\nIts passages "
            "are forgotten; the files themselves are not touched.",
            "Remove",
        ):
            self.library_ctl.remove_folder(folder_id)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.sidebar.drop_zone.set_active(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.sidebar.drop_zone.set_active(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.sidebar.drop_zone.set_active(False)
        dropped = local_paths(event.mimeData())
        if dropped:
            event.acceptProposedAction()
            self.index_paths(dropped)

    # -- chats -----------------------------------------------------------------------------
    def confirm_delete_chat(self, chat_id: int) -> None:
        title = self.chat.chats.get(chat_id).title
        if self.confirm("Delete chat", f"Delete “{title}”? This cannot be undone.", "Delete"):
            self.chat.delete_chat(chat_id)

    def export_chat(self, chat_id: int | None = None) -> None:
        chat_id = chat_id if chat_id is not None else self.chat.chat_id
        if chat_id is None:
            self.notify("Nothing to export yet: ask a question first.")
            return
        title = self.chat.chats.get(chat_id).title
        safe = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in title).strip()
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export chat as Markdown",
            str(Path.home() / f"{safe or 'chat'}.md"),
            "Markdown (*.md)",
        )
        if path:
            self._guard(self._export_to, chat_id, Path(path))

    def _export_to(self, chat_id: int, path: Path) -> None:
        self.notify(f"Exported to {self.chat.export_chat(chat_id, path)}")

    # -- models and adapters ---------------------------------------------------------------
    @property
    def model_info(self) -> ModelInfo:
        """The loaded chat model ({} while none is)."""
        return self.models.model_info

    @property
    def adapter_rows(self) -> list[AdapterRow]:
        return self.models.adapter_rows

    def refresh_adapters(self) -> None:
        self.models.refresh_adapters()

    def choose_adapter_file(self) -> None:
        """File → Add style adapter…: a LoRA .gguf trained elsewhere, with its sidecar."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a style adapter", str(Path.home()), "LoRA adapters (*.gguf)"
        )
        if path:
            self.models.add_adapter_file(path)

    # -- settings --------------------------------------------------------------------------
    def apply_settings(self, new: Settings) -> None:
        """Save settings and apply them: theme now, the model only if it must reload."""
        old = self.settings
        try:
            settings_mod.save(new, self.session.locations.settings_file)
        except OSError as exc:
            self.show_error(f"Settings could not be saved: {exc}")
        self.session.configure(new)  # each part follows on its next use
        if new.theme != old.theme:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                theme.apply(app, new.theme)
            if not self.chat.busy:
                self.chat.open_chat(self.chat.chat_id)  # redraw the bubbles in the new colours
        emit(self._apply_settings)
        if new.models_dir != old.models_dir or new.chat_model != old.chat_model:
            self.models.refresh_models()
        emit(self.settings_applied, new)

    def open_settings(self) -> None:
        from desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.session.locations, self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    # -- window state ----------------------------------------------------------------------
    def _window_state(self) -> QSettings:
        return QSettings(str(self.session.locations.window_state_file), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        state = self._window_state()
        geometry = state.value("geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            return
        self.resize(1320, 820)

    def shutdown(self) -> None:
        """Stop the workers and close the library (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._window_state().setValue("geometry", self.saveGeometry())
        except Exception:  # noqa: BLE001 - never block closing
            log.exception("could not save the window geometry")
        try:
            self.models.shutdown()
            self.library_ctl.shutdown()
            self.chat.shutdown()
            self.session.release_thread()  # the GUI thread's connection
        finally:
            gc_on_gui_thread.release()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # gone at once, even if a worker needs a moment to finish its step
        self.shutdown()
        super().closeEvent(event)
