"""The Settings dialog: models folder, threads, GPU layers, chunking, k, search mode, theme,
how files are read (live sync, OCR of scans, size and time limits), and the engine."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.errors import FolioError
from desktop.ingest import ocr
from desktop.library.modes import MODES
from desktop.paths import Locations
from desktop.settings import THEMES, Settings
from desktop.ui.engine_settings import EngineBox

_MODE_LABELS = {
    "hybrid": "Hybrid (meaning + keywords)",
    "vector": "Meaning only",
    "keyword": "Keywords only",
}


def _spin_box(lowest: int, highest: int, value: int, suffix: str = "") -> QSpinBox:
    """A spin box over [lowest, highest] showing `value` (range first, so it is not clamped)."""
    box = QSpinBox()
    box.setRange(lowest, highest)
    box.setSuffix(suffix)
    box.setValue(value)
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` is valid after Accept."""

    def __init__(
        self, settings: Settings, locations: Locations, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.locations = locations
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self.original = settings
        self._result = settings
        self.models_dir = QLineEdit(settings.models_dir)
        default_dir = locations.with_models_dir(None).user_models_dir
        self.models_dir.setPlaceholderText(f"{default_dir}  (default)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        models_row = QHBoxLayout()
        models_row.addWidget(self.models_dir, 1)
        models_row.addWidget(browse)
        self.threads = _spin_box(0, 256, settings.threads)
        self.threads.setSpecialValueText("Automatic")
        self.gpu_layers = QComboBox()
        self.gpu_layers.setEditable(True)
        self.gpu_layers.addItems(["auto", "0", "-1"])
        self.gpu_layers.setCurrentText(settings.gpu_layers)
        self.gpu_layers.setToolTip(
            "auto: all layers when a GPU build is present; 0: CPU only; "
            "-1: all layers; or a number of layers"
        )
        self.chunk_tokens = _spin_box(32, 512, settings.chunk_tokens, " tokens")
        self.chunk_overlap = _spin_box(0, 255, settings.chunk_overlap, " tokens")
        self.k = _spin_box(1, 20, settings.k)
        self.search_mode = QComboBox()
        for mode in MODES:
            self.search_mode.addItem(_MODE_LABELS.get(mode, mode), mode)
        self.search_mode.setCurrentIndex(max(0, self.search_mode.findData(settings.search_mode)))
        self.theme = QComboBox()
        for name in THEMES:
            self.theme.addItem(name.capitalize(), name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        self.watch_folders = QCheckBox("Keep indexed folders in step while Folio is open")
        self.watch_folders.setChecked(settings.watch_folders)
        self.ocr = QCheckBox("Read scanned PDF pages with OCR (slower)")
        self.ocr.setChecked(settings.ocr)
        if not ocr.available():
            self.ocr.setEnabled(settings.ocr)  # an unusable setting can still be turned off
            self.ocr.setToolTip("OCR is not installed in this Folio (the folio[ocr] extra)")
        self.max_file_mb = _spin_box(1, 65536, settings.max_file_mb, " MB")
        self.parse_timeout_s = _spin_box(1, 3600, round(settings.parse_timeout_s), " s")
        self.parse_timeout_s.setToolTip("A file that takes longer to read is marked failed")
        form = QFormLayout()
        form.addRow("Models folder", models_row)
        form.addRow("CPU threads", self.threads)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Chunk size", self.chunk_tokens)
        form.addRow("Chunk overlap", self.chunk_overlap)
        form.addRow("Passages per answer (k)", self.k)
        form.addRow("Search mode", self.search_mode)
        form.addRow("Theme", self.theme)
        form.addRow("Live sync", self.watch_folders)
        form.addRow("Scans", self.ocr)
        form.addRow("Skip files larger than", self.max_file_mb)
        form.addRow("Time limit per file", self.parse_timeout_s)
        note = QLabel(
            "Chunk size and overlap apply to documents indexed from now on; "
            "re-index a folder to apply them to it."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setObjectName("Warning")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.engine = EngineBox(settings)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.engine)
        box.addWidget(note)
        box.addWidget(self.problem)
        box.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Models folder", self.models_dir.text() or str(self.locations.data_dir)
        )
        if folder:
            self.models_dir.setText(folder)

    def values(self) -> Settings:
        """The settings as entered. Raises ValueError with a readable message if invalid."""
        return self.original.with_changes(
            models_dir=self.models_dir.text().strip(),
            threads=self.threads.value(),
            gpu_layers=self.gpu_layers.currentText().strip() or "auto",
            chunk_tokens=self.chunk_tokens.value(),
            chunk_overlap=self.chunk_overlap.value(),
            k=self.k.value(),
            search_mode=str(self.search_mode.currentData()),
            theme=str(self.theme.currentData()),
            watch_folders=self.watch_folders.isChecked(),
            ocr=self.ocr.isChecked(),
            max_file_mb=self.max_file_mb.value(),
            parse_timeout_s=float(self.parse_timeout_s.value()),
            **self.engine.values(),
        )

    def accept(self) -> None:
        try:
            self._result = self.values()
            self.engine.save_key()
        except FolioError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        except (ValueError, TypeError) as exc:
            self.problem.setText(str(exc).capitalize() + ".")
            self.problem.show()
            return
        super().accept()

    def result_settings(self) -> Settings:
        return self._result
