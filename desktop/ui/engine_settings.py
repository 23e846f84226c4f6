"""Settings › Engine: where answers are computed (this computer, or a serving engine), the
server's model and API key (kept in the OS keyring), and "Test connection"."""

from __future__ import annotations

import threading

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop.engine import secrets
from desktop.errors import FolioError
from desktop.settings import Settings
from desktop.ui.qtcompat import emit


def _endpoint_warnings(url: str) -> list[str]:
    from desktop.engine.endpoint import Endpoint

    try:
        return Endpoint(url).warnings()
    except FolioError as exc:
        return [str(exc)]


class EngineBox(QGroupBox):
    """The engine part of the Settings dialog."""

    tested = Signal(str)  # what "Test connection" found, or why it failed

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__("Engine", parent)
        self.url = QLineEdit(settings.engine_url)
        self.url.setPlaceholderText("empty: answer on this computer; or http://HOST:PORT")
        self.model = QLineEdit(settings.engine_model)
        self.model.setPlaceholderText("the server's own model")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("unchanged" if settings.engine_url else "none")
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setObjectName("Muted")
        if not secrets.has_keyring():
            self.key.setEnabled(False)
            self.keyring_note.setText(secrets.NO_KEYRING + ".")
        self.allow_remote = QCheckBox("Send my questions and passages to this server")
        self.warning = QLabel()
        self.warning.setObjectName("Warning")
        self.warning.setWordWrap(True)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.tested.connect(self._show_result)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.result, 1)
        form = QFormLayout(self)
        form.addRow("Server URL", self.url)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        form.addRow("", self.keyring_note)
        form.addRow("", self.warning)
        form.addRow("", self.allow_remote)
        form.addRow("", row)
        self._remote_before = settings.engine_url
        self.url.textChanged.connect(self._update_warning)
        self._update_warning()

    def _update_warning(self) -> None:
        url = self.url.text().strip()
        warnings = _endpoint_warnings(url) if url else []
        self.warning.setText("\n".join(f"⚠ {w[0].upper()}{w[1:]}." for w in warnings))
        self.warning.setVisible(bool(warnings))
        self._needs_consent = bool(warnings)
        self.allow_remote.setVisible(bool(warnings))
        self.allow_remote.setChecked(bool(warnings) and url == self._remote_before)
        self.keyring_note.setVisible(bool(self.keyring_note.text()) and bool(url))

    def values(self) -> dict[str, str]:
        """The engine settings as entered; ValueError if a remote server was not confirmed."""
        url = self.url.text().strip()
        if url and self._needs_consent and not self.allow_remote.isChecked():
            raise ValueError(
                "tick 'Send my questions and passages to this server' to use a server on "
                "another computer"
            )
        return {"engine_url": url, "engine_model": self.model.text().strip()}

    def save_key(self) -> None:
        """Keep a newly typed key in the OS keyring (raises ServerError without one)."""
        url, key = self.url.text().strip(), self.key.text()
        if url and key:
            from desktop.engine.endpoint import Endpoint

            secrets.store_key(Endpoint(url).url, key)

    def test_connection(self) -> None:
        """Probe the server on a background thread; the answer comes back as `tested`."""
        url, model, typed = self.url.text().strip(), self.model.text().strip(), self.key.text()
        if not url:
            self._show_result("Answers are computed on this computer.")
            return
        self.test_button.setEnabled(False)
        self.result.setText("Connecting…")
        threading.Thread(target=self._probe, args=(url, model, typed), daemon=True).start()

    def _probe(self, url: str, model: str, typed: str) -> None:
        from desktop.engine.endpoint import Endpoint
        from desktop.engine.server_info import probe

        try:
            endpoint = Endpoint(url, model, typed or secrets.stored_key(Endpoint(url).url))
            with endpoint.client(read_timeout_s=15) as client:
                info = probe(endpoint, client)
            emit(self.tested, "\n".join(info.lines()))
        except FolioError as exc:
            emit(self.tested, f"✗ {exc}")
        except Exception as exc:  # noqa: BLE001 - shown, never raised on a stray thread
            emit(self.tested, f"✗ {type(exc).__name__}: {exc}")

    def _show_result(self, text: str) -> None:
        self.test_button.setEnabled(True)
        self.result.setText(text)
