"""Settings › Engine: where answers are computed (this computer, or a serving engine), the
server's model and API key (kept in the OS keyring), "Test connection", and where passages
are embedded (this computer, or a server's /v1/embeddings)."""

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
    QVBoxLayout,
    QWidget,
)

from desktop.engine import secrets
from desktop.errors import FolioError
from desktop.settings import Settings
from desktop.ui.qtcompat import emit


def _endpoint_warnings(url: str, embeddings: bool) -> list[str]:
    from desktop.engine.endpoint import Endpoint

    try:
        return Endpoint(url).warnings(embeddings)
    except FolioError as exc:
        return [str(exc)]


# What each kind of server field says: its placeholder, and the consent a server on another
# computer needs (quoted again by the error when it is not given).
_WORDS = {
    False: (
        "empty: answer on this computer; or http://HOST:PORT",
        "Send my questions and passages to this server",
    ),
    True: (
        "empty: embed on this computer; or http://HOST:PORT (its /v1/embeddings)",
        "Send my documents' passages to this server to be embedded",
    ),
}


class ServerUrl(QWidget):
    """A server URL field with its warnings, and the consent that a server on another computer
    needs (plain http:// to it gets a second warning).

    Args:
        url: the saved URL (consent given before stays given while it is unchanged).
        embeddings: a server that embeds the documents, not one that answers.
    """

    def __init__(self, url: str, embeddings: bool) -> None:
        super().__init__()
        placeholder, consent = _WORDS[embeddings]
        self.line = QLineEdit(url)
        self.line.setPlaceholderText(placeholder)
        self.warning = QLabel()
        self.warning.setObjectName("Warning")
        self.warning.setWordWrap(True)
        self.allow = QCheckBox(consent)
        self._saved = url
        self._embeddings = embeddings
        self._needs_consent = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for part in (self.line, self.warning, self.allow):
            column.addWidget(part)
        self.line.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        url = self.line.text().strip()
        warnings = _endpoint_warnings(url, self._embeddings) if url else []
        self.warning.setText("\n".join(f"⚠ {w[0].upper()}{w[1:]}." for w in warnings))
        self.warning.setVisible(bool(warnings))
        self._needs_consent = bool(warnings)
        self.allow.setVisible(bool(warnings))
        self.allow.setChecked(bool(warnings) and url == self._saved)

    def value(self) -> str:
        """The URL as entered; ValueError if a server on another computer was not confirmed."""
        url = self.line.text().strip()
        if url and self._needs_consent and not self.allow.isChecked():
            raise ValueError(f"tick '{self.allow.text()}' to use a server on another computer")
        return url


class EngineBox(QWidget):
    """The engine part of the Settings dialog: the server that answers, and the one that
    embeds (each empty for this computer)."""

    tested = Signal(str)  # what "Test connection" found, or why it failed

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.server = ServerUrl(settings.engine_url, embeddings=False)
        self.url = self.server.line
        self.warning = self.server.warning
        self.allow_remote = self.server.allow
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
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.tested.connect(self._show_result)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.result, 1)
        answers = QGroupBox("Engine")
        form = QFormLayout(answers)
        form.addRow("Server URL", self.server)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        form.addRow("", self.keyring_note)
        form.addRow("", row)
        self.embedder = ServerUrl(settings.embedding_url, embeddings=True)
        self.embedding_url = self.embedder.line
        self.embedding_url.setToolTip(
            "An API key for this server: `folio engines key URL` (the Engine's key is used "
            "where both URLs are the same)"
        )
        self.embedding_model = QLineEdit(settings.embedding_server_model)
        self.embedding_model.setPlaceholderText("the server's own model")
        self.reindex_note = QLabel(
            "⚠ A library keeps the vectors of one embedder. After this change, a library "
            "indexed before refuses to search or index until it is re-indexed with the new "
            "embedder (`folio rebuild`, which keeps the old file); a new library starts with it."
        )
        self.reindex_note.setObjectName("Warning")
        self.reindex_note.setWordWrap(True)
        self._embedder_saved = (settings.embedding_url, settings.embedding_server_model)
        embeddings = QGroupBox("Embeddings")
        form = QFormLayout(embeddings)
        form.addRow("Server URL", self.embedder)
        form.addRow("Model", self.embedding_model)
        form.addRow("", self.reindex_note)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(answers)
        column.addWidget(embeddings)
        self.url.textChanged.connect(self._update_keyring_note)
        self._update_keyring_note()
        for field in (self.embedding_url, self.embedding_model):
            field.textChanged.connect(self._update_reindex_note)
        self._update_reindex_note()

    def _update_keyring_note(self) -> None:
        shown = bool(self.keyring_note.text()) and bool(self.url.text().strip())
        self.keyring_note.setVisible(shown)

    def _embedder_entered(self) -> tuple[str, str]:
        return (self.embedding_url.text().strip(), self.embedding_model.text().strip())

    def _update_reindex_note(self) -> None:
        self.reindex_note.setVisible(self._embedder_entered() != self._embedder_saved)

    def values(self) -> dict[str, str]:
        """The engine settings as entered; ValueError if a server on another computer was not
        confirmed."""
        url, embedding_url = self.server.value(), self.embedder.value()
        return {
            "engine_url": url,
            "engine_model": self.model.text().strip(),
            "embedding_url": embedding_url,
            "embedding_server_model": self.embedding_model.text().strip(),
        }

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
