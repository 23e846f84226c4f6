"""The model bar's logic: which model is loaded, downloads, how answers are made and the style
adapter in use (both remembered in the settings)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QMetaObject, QObject, Qt, Signal

from desktop import settings as settings_mod
from desktop.errors import FolioError
from desktop.models.installed import local_path
from desktop.session import Session
from desktop.ui.chat_worker import AdapterRow, AppliedAdapter, ChatWorker, ModelInfo
from desktop.ui.model_bar import ModelBar
from desktop.ui.qtcompat import emit
from desktop.ui.workers import DownloadThread

if TYPE_CHECKING:
    from desktop.adapters import AdapterInfo

log = logging.getLogger(__name__)


class ModelController(QObject):
    """Connects the model bar to the chat worker and to model downloads."""

    model_ready = Signal(ModelInfo)  # once the chat worker has loaded it
    adapters_changed = Signal(list)  # list[AppliedAdapter]: the adapters now applied
    model_switch = Signal(str)  # the user chose (or finished downloading) this model
    error = Signal(str, str)  # message, title
    notice = Signal(str)

    _set_adapters = Signal(list)  # list[tuple[AdapterInfo, float]]
    _add_adapter = Signal(str)

    def __init__(self, bar: ModelBar, worker: ChatWorker, session: Session) -> None:
        super().__init__()
        self.bar = bar
        self.worker = worker
        self.session = session
        self.model_info: ModelInfo = {}
        self.adapter_rows: list[AdapterRow] = []
        self.active_adapters: list[AppliedAdapter] = []
        self._download: DownloadThread | None = None
        self._download_id = ""
        self._set_adapters.connect(worker.set_adapters)
        self._add_adapter.connect(worker.add_adapter)
        worker.adapter_added.connect(self._on_adapter_added)
        worker.loading.connect(bar.set_status)
        worker.ready.connect(self._on_model_ready)
        worker.model_failed.connect(self._on_model_failed)
        worker.adapters_listed.connect(self._on_adapters_listed)
        worker.adapters_applied.connect(self._on_adapters_applied)
        worker.adapter_failed.connect(self._on_adapter_failed)
        bar.model_chosen.connect(self._on_model_chosen)
        bar.download_requested.connect(self.download_model)
        bar.download_cancelled.connect(self.cancel_download)
        bar.adapter_chosen.connect(self._choose_adapter)
        bar.set_answer_mode(session.settings.answer_mode)
        bar.answer_mode_chosen.connect(lambda mode: self.remember(answer_mode=mode))
        bar.adapter_chosen.connect(
            lambda info, scale: self.remember(
                style=info.name if info is not None else "", style_scale=float(scale)
            )
        )
        self.refresh_models()

    def remember(self, **changes: object) -> None:
        """What is picked in the bar (answer mode; style, "None" included) applies to the next
        answer and is where the next start begins."""
        new = self.session.settings.with_changes(**changes)
        if new == self.session.settings:
            return
        try:
            settings_mod.save(new, self.session.locations.settings_file)
        except OSError as exc:
            log.warning("the choice could not be saved: %s", exc)
        self.session.configure(new)

    # -- models ----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """List the catalog's chat models, marking those that are installed."""
        try:
            specs = self.session.catalog.all("chat")
        except FolioError as exc:
            emit(self.error, str(exc), "Folio")
            return
        search_path = self.session.locations.models_search_path
        installed = {s.id: local_path(s, search_path) is not None for s in specs}
        self.bar.set_models(specs, installed, self.session.settings.chat_model)

    def _on_model_chosen(self, model_id: str) -> None:
        emit(self.model_switch, model_id)

    def _on_model_ready(self, info: ModelInfo) -> None:
        self.model_info = info
        self.bar.set_scalable(info.get("scalable", True))
        self.bar.set_status(f"Ready · {info.get('name', '')} · {info.get('where', '')}")
        emit(self.model_ready, info)

    def _on_model_failed(self, message: str) -> None:
        self.model_info = {}
        self.bar.set_status("No model loaded")
        emit(self.error, message, "The model could not be loaded")

    # -- adapters --------------------------------------------------------------------------
    def refresh_adapters(self) -> None:
        """Look for new adapter files (they are also listed after every model load)."""
        QMetaObject.invokeMethod(self.worker, "list_adapters", Qt.ConnectionType.QueuedConnection)

    def add_adapter_file(self, path: str) -> None:
        """Install an adapter trained elsewhere; it shows in the Style dropdown once added."""
        emit(self._add_adapter, path)

    def _on_adapter_added(self, name: str) -> None:
        emit(self.notice, f"Style adapter '{name}' added: pick it in the Style list.")

    def _on_adapters_listed(self, rows: list[AdapterRow]) -> None:
        self.adapter_rows = rows
        active = self.active_adapters[0]["name"] if self.active_adapters else None
        self.bar.set_adapters(rows, active)

    def _choose_adapter(self, info: AdapterInfo | None, scale: float) -> None:
        emit(self._set_adapters, [] if info is None else [(info, scale)])

    def _on_adapters_applied(self, adapters: list[AppliedAdapter]) -> None:
        self.active_adapters = adapters
        style = ", ".join(f"{a['name']} ×{a['scale']:.2f}" for a in adapters)
        if self.model_info:
            name = self.model_info.get("name", "")
            where = self.model_info.get("where", "")
            self.bar.set_status(f"Ready · {name} · {where}" + (f" · {style}" if style else ""))
        emit(self.adapters_changed, adapters)

    def _on_adapter_failed(self, message: str) -> None:
        emit(self.error, message, "The style could not be applied")

    # -- downloads -------------------------------------------------------------------------
    def download_model(self, model_id: str) -> None:
        if self._download is not None:
            return
        try:
            spec = self.session.catalog.get(model_id)
        except FolioError as exc:
            emit(self.error, str(exc), "Folio")
            return
        thread = DownloadThread(spec, self.session.locations.user_models_dir, self)
        # Bound methods only: PySide would run a lambda on the download thread.
        thread.progressed.connect(self._on_download_progress)
        thread.succeeded.connect(self._on_download_succeeded)
        thread.failed.connect(self._on_download_failed)
        thread.cancelled.connect(self._on_download_cancelled)
        self._download = thread
        self._download_id = model_id
        self.bar.set_downloading((0, spec.size))
        thread.start()

    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel_token.cancel()

    def _on_download_progress(self, done: int, total: int) -> None:
        self.bar.set_downloading((done, total))

    def _on_download_succeeded(self, _path: str) -> None:
        self._download_done(None)

    def _on_download_failed(self, message: str) -> None:
        self._download_done(message)

    def _on_download_cancelled(self) -> None:
        self._download_done("")

    def _download_done(self, error: str | None) -> None:
        thread, self._download = self._download, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self.bar.set_downloading(None)
        self.refresh_models()
        if error:
            emit(self.error, error, "Download failed")
        elif error is None:
            emit(self.notice, "Download complete.")
            emit(self.model_switch, self._download_id)

    def shutdown(self) -> None:
        """Cancel a download in progress and wait for its thread."""
        thread = self._download
        if thread is not None:
            thread.cancel_token.cancel()
            thread.wait()
