"""The bundle's recipe (packaging/), checked without building it: resources are found the
same way from source and frozen, the right Qt plugins and models go in, torch stays out.
The build itself and its offline smoke test run in .ci/run (packaging/build.py all)."""

from __future__ import annotations

import configparser
import sys
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import pytest

import desktop
from desktop import paths
from desktop.models.catalog import default_catalog_path, load_catalog
from desktop.paths import Locations

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))

import folio_bundle  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_resources_are_found_through_one_function_from_source_and_frozen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert paths.bundle_root() == ROOT
    assert default_catalog_path() == ROOT / "models" / "catalog.toml"
    frozen = tmp_path / "_internal"
    (frozen / "models").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(frozen), raising=False)
    assert paths.bundle_root() == frozen
    assert default_catalog_path() == frozen / "models" / "catalog.toml"
    where = Locations.from_environment({})
    assert where.bundled_models == frozen / "models"
    assert where.adapter_dirs[1] == (frozen / "models" / "adapters", "bundled")
    # ...while the user's data stays in the same platform folders as a source install.
    monkeypatch.delattr(sys, "_MEIPASS")
    assert Locations.from_environment({}).data_dir == where.data_dir


def test_the_version_comes_from_the_package_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert desktop.__version__ == project["version"]


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/imageformats/libqtiff.so", False),
        ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
        ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", True),
        (r"PySide6\Qt\plugins\platforms\qwindows.dll", True),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
        ("PySide6/Qt/lib/libQt6Quick.so.6", False),
        ("PySide6/Qt/lib/libQt6QmlModels.so.6", False),
        ("PySide6/Qt/lib/libQt6Network.so.6", False),
        ("llama_cpp/lib/libllama.so", True),
        ("sqlite_vec/vec0.so", True),
        ("onnxruntime/capi/libonnxruntime.so.1", True),
    ],
)
def test_only_the_qt_parts_the_window_needs_are_kept(dest: str, kept: bool) -> None:
    assert folio_bundle.keep_qt_file(dest) is kept


def test_the_models_that_ship_are_the_defaults_the_catalog_and_the_adapters() -> None:
    files = {rel for _, rel in folio_bundle.bundled_model_files(ROOT)}
    assert PurePosixPath("catalog.toml") in files
    for spec in load_catalog():
        for rel in spec.local_files:
            assert (PurePosixPath(rel) in files) is spec.default, rel
    shipped = {
        PurePosixPath("adapters") / p.name for p in (ROOT / "models" / "adapters").glob("*.gguf")
    }
    assert shipped <= files


def test_training_and_developer_tools_stay_out_of_the_bundle() -> None:
    for name in ("torch", "transformers", "peft", "pytest", "PySide6.QtWebEngineCore"):
        assert name in folio_bundle.EXCLUDED_MODULES
    spec = (ROOT / "packaging" / "folio.spec").read_text()
    assert 'collect_dynamic_libs("llama_cpp", destdir="llama_cpp/lib")' in spec
    assert "sqlite_vec" in spec and "copy_metadata" in spec
    # keyring's backends load by entry point: the modules and keyring's metadata travel, and
    # the smoke test asks the frozen app which backends it carries.
    assert 'collect_submodules("keyring.backends")' in spec and '"keyring")' in spec
    assert '"engines", "keyring", "--json"' in (ROOT / "packaging" / "build.py").read_text()
    launcher = (ROOT / "packaging" / "launcher.py").read_text()
    assert "freeze_support()" in launcher  # worker processes of the frozen app
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert all("==" in req for req in pyproject["project"]["optional-dependencies"]["package"])


def test_the_desktop_entry_and_the_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(ROOT / "packaging" / "folio.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Name"] == "Folio"
    assert section["Exec"].startswith("folio") and section["Icon"] == "folio"
    assert section["Categories"].endswith(";")
    svg = ET.parse(ROOT / "desktop" / "ui" / "assets" / "folio.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
