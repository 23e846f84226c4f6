"""What goes into Folio's PyInstaller bundle, shared by folio.spec, build.py and the tests.

Kept out of the spec so it can be read and tested as ordinary Python.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

# Modules the bundle must not carry. Training (torch, transformers, peft) is an optional
# add-on outside the bundle; the rest are developer tools or Qt parts the window never uses.
EXCLUDED_MODULES = [
    "torch",
    "torchvision",
    "transformers",
    "peft",
    "accelerate",
    "safetensors",
    "datasets",
    "tensorflow",
    "jax",
    "sympy",
    "scipy",
    "pandas",
    "IPython",
    "jupyter",
    "pytest",
    "pytestqt",
    "_pytest",
    "mypy",
    "ruff",
    "tkinter",
    "tests",
    "PyInstaller",
    "hf_xet",  # huggingface_hub's Xet transfer backend: Folio's downloads use plain HTTP
    # Optional extras left out of the bundle: OCR (rapidocr drags in opencv, ~100 MB; the
    # bundle says OCR is not included), benchmark plots, the tests' spreadsheet writer.
    "rapidocr_onnxruntime",
    "cv2",
    "matplotlib",
    "xlsxwriter",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtPrintSupport",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtUiTools",
    "PySide6.QtSvgWidgets",
]

# Qt plugins the window needs, by plugin folder: file-name stems kept (None: the whole
# folder). Platforms: X11, Wayland, offscreen (selftest, CI), macOS, Windows. Image formats:
# the ones icons and themes use. Everything else (tls, sqldrivers, qml, multimedia, EGL
# device integrations, VNC, framebuffer...) stays out.
QT_PLUGINS_KEPT: dict[str, frozenset[str] | None] = {
    "platforms": frozenset(
        {
            "libqxcb",
            "libqwayland",
            "libqoffscreen",
            "libqminimal",
            "libqcocoa",
            "qwindows",
            "qoffscreen",
            "qminimal",
        }
    ),
    "xcbglintegrations": None,
    "wayland-shell-integration": None,
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": None,
    "platformthemes": frozenset({"libqxdgdesktopportal", "libqgtk3"}),
    "platforminputcontexts": None,  # typing accents and CJK through the desktop's IME
    "iconengines": None,
    "imageformats": frozenset(
        {"libqsvg", "libqico", "libqjpeg", "libqgif", "qsvg", "qico", "qjpeg", "qgif"}
    ),
    "styles": None,
}

# Qt libraries whose modules the window never imports; the PySide6 hook can still pull them
# in as dependencies of plugins that were dropped above.
QT_LIBRARIES_DROPPED = ("Qt6Qml", "Qt6Quick", "Qt6Pdf", "Qt6Network", "Qt6VirtualKeyboard")


def keep_qt_file(dest: str) -> bool:
    """Whether a file bound for the bundle at `dest` is kept (False: an unneeded Qt part)."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    if "PySide6" not in parts:
        return True
    if "plugins" in parts:
        i = parts.index("plugins")
        if i + 1 >= len(parts):
            return True
        kept = QT_PLUGINS_KEPT.get(parts[i + 1], frozenset())
        if kept is None or i + 2 >= len(parts):
            return parts[i + 1] in QT_PLUGINS_KEPT
        return parts[-1].split(".")[0] in kept
    name = parts[-1].removeprefix("lib")
    return not name.startswith(QT_LIBRARIES_DROPPED)


def bundled_model_files(root: Path) -> list[tuple[Path, PurePosixPath]]:
    """The files under `root/models` that ship: the catalog, the shipped adapters with their
    sidecars, and every file of the catalog's default models, as (source, path under
    models/).

    Raises:
        SystemExit: a default model is not installed (run the setup first).
    """
    sys.path.insert(0, str(root))
    from desktop.models.catalog import load_catalog
    from desktop.models.installed import local_path

    models = root / "models"
    files: list[Path] = [models / "catalog.toml"]
    adapters = models / "adapters"
    if adapters.is_dir():
        files += sorted(
            p for p in adapters.iterdir() if p.suffix in (".gguf", ".toml", ".json", ".md")
        )
    catalog = load_catalog(models / "catalog.toml")
    for spec in catalog:
        if not spec.default:
            continue
        where = local_path(spec, [models])
        if where is None:
            raise SystemExit(
                f"default model {spec.id} is not installed in {models}: run "
                "`python3 scripts/bootstrap.py setup` first"
            )
        files += [models / rel for rel in spec.local_files]
    return [(f, PurePosixPath(f.relative_to(models).as_posix())) for f in files]
