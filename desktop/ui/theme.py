"""Light and dark themes: a Fusion palette, a small style sheet and colours for the views."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QPushButton


@dataclass(frozen=True)
class Colors:
    """The colours views draw with (the palette covers standard widgets)."""

    dark: bool
    window: str
    base: str
    sidebar: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    user_bubble: str
    answer_bubble: str
    highlight_term: str
    warning: str
    drop_zone: str


LIGHT = Colors(
    dark=False,
    window="#f6f7f9",
    base="#ffffff",
    sidebar="#eef0f3",
    text="#1f2328",
    muted="#667085",
    border="#d5d9e0",
    accent="#2f6fde",
    accent_text="#ffffff",
    user_bubble="#e6eefc",
    answer_bubble="#ffffff",
    highlight_term="#ffe58a",
    warning="#b54708",
    drop_zone="#f0f5ff",
)
DARK = Colors(
    dark=True,
    window="#1e2024",
    base="#25282d",
    sidebar="#1a1c20",
    text="#e6e8eb",
    muted="#9aa3b2",
    border="#3a3f47",
    accent="#5b8def",
    accent_text="#ffffff",
    user_bubble="#2c3a55",
    answer_bubble="#25282d",
    highlight_term="#7a5d00",
    warning="#f5a524",
    drop_zone="#232a38",
)

_current: Colors = LIGHT


def colors() -> Colors:
    """The colours of the theme in use."""
    return _current


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme is not None and scheme() == Qt.ColorScheme.Dark)


def resolve(theme: str) -> Colors:
    if theme == "dark" or (theme == "system" and system_is_dark()):
        return DARK
    return LIGHT


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window),
        (role.WindowText, c.text),
        (role.Base, c.base),
        (role.AlternateBase, c.sidebar),
        (role.Text, c.text),
        (role.Button, c.base),
        (role.ButtonText, c.text),
        (role.ToolTipBase, c.base),
        (role.ToolTipText, c.text),
        (role.Highlight, c.accent),
        (role.HighlightedText, c.accent_text),
        (role.Link, c.accent),
        (role.PlaceholderText, c.muted),
        (role.Mid, c.border),
    ):
        p.setColor(r, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        p.setColor(disabled, r, QColor(c.muted))
    return p


def style_sheet(c: Colors) -> str:
    return f"""
QWidget#Sidebar, QWidget#SourcesPanel {{ background: {c.sidebar}; }}
QLabel#SectionTitle {{ color: {c.muted}; font-weight: 600; font-size: 11px;
    letter-spacing: 1px; padding: 2px 0; }}
QLabel#Muted {{ color: {c.muted}; }}
QLabel#Warning {{ color: {c.warning}; }}
QLabel#SourceTitle {{ font-size: 15px; font-weight: 600; }}
QFrame#DropZone {{ border: 2px dashed {c.border}; border-radius: 10px;
    background: {c.drop_zone}; }}
QFrame#DropZone[active="true"] {{ border-color: {c.accent}; }}
QFrame#Composer {{ border: 1px solid {c.border}; border-radius: 10px; background: {c.base}; }}
QFrame#Composer QPlainTextEdit {{ border: none; background: transparent; }}
QPushButton#Primary {{ background: {c.accent}; color: {c.accent_text}; border: none;
    border-radius: 6px; padding: 6px 14px; font-weight: 600; }}
QPushButton#Primary:disabled {{ background: {c.border}; color: {c.muted}; }}
QPushButton#Danger {{ border-radius: 6px; padding: 6px 14px; }}
QTreeWidget, QListWidget {{ border: none; background: transparent; }}
QListWidget::item {{ padding: 4px 2px; }}
QTextBrowser#Chat {{ border: none; background: {c.window}; }}
QTextBrowser#Passage {{ border: 1px solid {c.border}; border-radius: 6px;
    background: {c.base}; }}
QProgressBar {{ border: 1px solid {c.border}; border-radius: 4px; text-align: center;
    background: {c.base}; max-height: 14px; }}
QProgressBar::chunk {{ background: {c.accent}; border-radius: 3px; }}
QToolBar {{ border: none; spacing: 8px; padding: 4px 8px; }}
QSplitter::handle {{ background: {c.border}; }}
QToolButton::menu-indicator {{ image: none; width: 0; }}
"""


def apply(app: QApplication, theme: str) -> Colors:
    """Apply 'system', 'light' or 'dark' to the whole application; returns its colours."""
    global _current
    _current = resolve(theme)
    app.setStyle("Fusion")
    app.setPalette(_palette(_current))
    app.setStyleSheet(style_sheet(_current))
    return _current


def section_header(title: str, button: QPushButton) -> QHBoxLayout:
    """A side pane's header: its title in capitals (styled as #SectionTitle), `button` right."""
    label = QLabel(title)
    label.setObjectName("SectionTitle")
    header = QHBoxLayout()
    header.addWidget(label)
    header.addStretch(1)
    header.addWidget(button)
    return header
