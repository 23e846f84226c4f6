"""The toolbar row that picks the model, how answers are made (quoted or written), the style
adapter the model writes with and the adapter's strength."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QWidget,
)

from desktop.ui.formatting import human_size
from desktop.ui.qtcompat import emit

if TYPE_CHECKING:
    from desktop.adapters import AdapterInfo
    from desktop.models.spec import ModelSpec
    from desktop.ui.chat_worker import AdapterRow

SCALE_STEPS = 100  # slider units per 1.0 of scale
MAX_SCALE = 2.0
APPLY_DELAY_MS = 150
_ID_ROLE = Qt.ItemDataRole.UserRole


def adapter_tooltip(row: AdapterRow) -> str:
    """An adapter's description, its measured effect (last `folio eval adapter`), its fit."""
    if not row["ok"]:
        return f"Can't be used: {row['reason']}"
    effect = row.get("effect") or ""
    lines = [row.get("description") or "", f"Measured: {effect}" if effect else "", row["reason"]]
    return "\n".join(line for line in lines if line)


class ModelBar(QWidget):
    """Model and adapter choice. It reports choices; the window applies them."""

    model_chosen = Signal(str)  # id of an installed model
    download_requested = Signal(str)  # id of a model to download
    download_cancelled = Signal()
    adapter_chosen = Signal(object, float)  # AdapterInfo or None, scale
    answer_mode_chosen = Signal(str)  # "quote" or "write" (desktop.rag.modes)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setToolTip("The language model that writes answers")
        self.model_combo.activated.connect(self._on_model_activated)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self._on_download)
        self.download_bar = QProgressBar()
        self.download_bar.setFixedWidth(140)
        self.cancel_download = QPushButton("Cancel")
        self.cancel_download.clicked.connect(self.download_cancelled)
        self.answer_combo = QComboBox()
        self.answer_combo.addItem("Quote", "quote")
        self.answer_combo.setItemData(
            0,
            "Answer with the sentence of your documents that answers, word for word, and its "
            "source (instant; the most often right on Folio's benchmark)",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.answer_combo.addItem("Write", "write")
        self.answer_combo.setItemData(
            1,
            "Let the model write the answer in its own words, in the chosen style; every "
            "citation is checked against its passage",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.answer_combo.setToolTip("How answers are made")
        self.answer_combo.currentIndexChanged.connect(self._on_answer_mode)
        self.adapter_combo = QComboBox()
        self.adapter_combo.setMinimumContentsLength(14)
        self.adapter_combo.setToolTip("A style adapter (LoRA) applied to the model")
        self.adapter_model = QStandardItemModel(self)
        self.adapter_combo.setModel(self.adapter_model)
        self.adapter_combo.currentIndexChanged.connect(self._schedule_apply)
        self.scale = QSlider(Qt.Orientation.Horizontal)
        self.scale.setRange(0, int(MAX_SCALE * SCALE_STEPS))
        self.scale.setValue(SCALE_STEPS)
        self.scale.setFixedWidth(120)
        self.scale.setToolTip("How strongly the adapter applies (0 to 2)")
        self.scale.valueChanged.connect(self._on_scale)
        self.scale_label = QLabel("1.00×")
        self.scale_label.setMinimumWidth(40)
        self.status = QLabel()
        self.status.setObjectName("Muted")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(QLabel("Model"))
        row.addWidget(self.model_combo)
        for w in (self.download_button, self.download_bar, self.cancel_download):
            row.addWidget(w)
        row.addSpacing(16)
        row.addWidget(QLabel("Answer"))
        row.addWidget(self.answer_combo)
        row.addSpacing(8)
        row.addWidget(QLabel("Style"))
        row.addWidget(self.adapter_combo)
        row.addWidget(self.scale)
        row.addWidget(self.scale_label)
        row.addStretch(1)
        row.addWidget(self.status)
        self._apply_timer = QTimer(self)
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(APPLY_DELAY_MS)
        self._apply_timer.timeout.connect(self._apply)
        self._current_model = ""
        self._specs: dict[str, ModelSpec] = {}
        self._installed: dict[str, bool] = {}
        self.set_adapters([])
        self.set_downloading(None)

    # -- models ----------------------------------------------------------------------------
    def set_models(
        self, specs: Sequence[ModelSpec], installed: Mapping[str, bool], current: str
    ) -> None:
        """List chat models; those not installed offer a download."""
        self._specs = {s.id: s for s in specs}
        self._installed = dict(installed)
        self._current_model = current
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for spec in specs:
            label = spec.name + (" (imported)" if spec.imported else "")
            if not installed.get(spec.id):
                size = f", {human_size(spec.size)}" if spec.size else ""
                label += f" — not downloaded{size}"
            self.model_combo.addItem(label, spec.id)
            self.model_combo.setItemData(
                self.model_combo.count() - 1,
                f"{spec.name}\nLicence {spec.license}, needs about {spec.ram_gb:g} GB of memory",
                Qt.ItemDataRole.ToolTipRole,
            )
        index = self.model_combo.findData(current)
        self.model_combo.setCurrentIndex(max(0, index))
        self.model_combo.blockSignals(False)
        self._update_download_button()

    def selected_model(self) -> str:
        return str(self.model_combo.currentData() or "")

    def _on_model_activated(self, _index: int) -> None:
        model_id = self.selected_model()
        self._update_download_button()
        if self._installed.get(model_id) and model_id != self._current_model:
            self._current_model = model_id
            emit(self.model_chosen, model_id)

    def _update_download_button(self) -> None:
        model_id = self.selected_model()
        missing = bool(model_id) and not self._installed.get(model_id, False)
        downloading = self.download_bar.isVisible()
        self.download_button.setVisible(missing and not downloading)
        spec = self._specs.get(model_id)
        if spec is not None and missing:
            self.download_button.setToolTip(f"Download {spec.name} from {spec.repo}")

    def _on_download(self) -> None:
        emit(self.download_requested, self.selected_model())

    def set_downloading(self, progress: tuple[int, int] | None) -> None:
        """Show download progress (bytes done, total); None hides it."""
        active = progress is not None
        self.download_bar.setVisible(active)
        self.cancel_download.setVisible(active)
        if progress is not None:
            done, total = progress
            if total:
                self.download_bar.setRange(0, 1000)
                self.download_bar.setValue(int(1000 * done / total))
                self.download_bar.setFormat(f"{human_size(done)} of {human_size(total)}")
            else:
                self.download_bar.setRange(0, 0)
        self._update_download_button()

    # -- adapters --------------------------------------------------------------------------
    def set_adapters(self, rows: Sequence[AdapterRow], active: str | None = None) -> None:
        """List None plus adapters; incompatible ones are disabled, their reason as tooltip."""
        self.adapter_combo.blockSignals(True)
        self.adapter_model.clear()
        none = QStandardItem("None")
        none.setData(None, _ID_ROLE)
        none.setToolTip("Answer in the model's own style")
        self.adapter_model.appendRow(none)
        current = 0
        for row in rows:
            label = row["name"] if row["ok"] else f"{row['name']} (can't be used)"
            item = QStandardItem(label)
            item.setData(row["info"], _ID_ROLE)
            item.setEnabled(bool(row["ok"]))
            item.setToolTip(adapter_tooltip(row))
            self.adapter_model.appendRow(item)
            if row["name"] == active and row["ok"]:
                current = self.adapter_model.rowCount() - 1
        self.adapter_combo.setCurrentIndex(current)
        self.adapter_combo.blockSignals(False)
        self._update_scale_enabled()

    def select_adapter(self, name: str | None, scale: float | None = None) -> bool:
        """Choose an adapter by name (None: no adapter); False if it is absent or unusable."""
        if scale is not None:
            self.scale.setValue(round(scale * SCALE_STEPS))
        for row in range(self.adapter_model.rowCount()):
            item = self.adapter_model.item(row)
            info = item.data(_ID_ROLE)
            if (info is None and name is None) or (info is not None and info.name == name):
                if not item.isEnabled():
                    return False
                self.adapter_combo.setCurrentIndex(row)
                self._apply_timer.stop()
                self._apply()
                return True
        return False

    def selected_adapter(self) -> AdapterInfo | None:
        """The chosen adapter (what `set_adapters` stored in its item), None for None."""
        return self.adapter_combo.currentData(_ID_ROLE)

    def scale_value(self) -> float:
        return self.scale.value() / SCALE_STEPS

    def _on_scale(self, value: int) -> None:
        self.scale_label.setText(f"{value / SCALE_STEPS:.2f}×")
        if self.selected_adapter() is not None:
            self._schedule_apply()

    def _schedule_apply(self) -> None:
        self._update_scale_enabled()
        self._apply_timer.start()

    def set_scalable(self, scalable: bool) -> None:
        """False where the engine applies an adapter with no strength (vLLM, Ollama)."""
        self._scalable = scalable
        self._update_scale_enabled()

    def _update_scale_enabled(self) -> None:
        writes = self.answer_mode() == "write"
        self.adapter_combo.setEnabled(writes)
        on = writes and self.selected_adapter() is not None and getattr(self, "_scalable", True)
        self.scale.setEnabled(on)
        self.scale_label.setEnabled(on)

    # -- answer mode -----------------------------------------------------------------------
    def answer_mode(self) -> str:
        """ "quote" or "write": how the next answer is made."""
        return str(self.answer_combo.currentData())

    def set_answer_mode(self, mode: str) -> None:
        """Show `mode` as chosen, without reporting it as the user's choice."""
        self.answer_combo.blockSignals(True)
        self.answer_combo.setCurrentIndex(max(0, self.answer_combo.findData(mode)))
        self.answer_combo.blockSignals(False)
        self._update_scale_enabled()

    def _on_answer_mode(self, _index: int) -> None:
        self._update_scale_enabled()
        emit(self.answer_mode_chosen, self.answer_mode())

    def _apply(self) -> None:
        emit(self.adapter_chosen, self.selected_adapter(), self.scale_value())

    def set_status(self, text: str) -> None:
        self.status.setText(text)
