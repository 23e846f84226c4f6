"""The model catalog: validation, the installed defaults, finding models, importing a GGUF."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter

from desktop import paths
from desktop.errors import ModelError
from desktop.models import verify
from desktop.models.catalog import load_catalog
from desktop.models.importer import import_model
from desktop.models.installed import local_path, require_local
from desktop.models.spec import ModelSpec, PypiSource
from desktop.paths import Locations

SHA_A = "a" * 64
SHA_B = "b" * 64

VALID_CHAT = """
[[models]]
id = "tiny-chat"
kind = "chat"
name = "Tiny chat"
repo = "folio-test/tiny-GGUF"
file = "tiny.Q4_0.gguf"
revision = "main"
sha256 = ""
size = 0
license = "MIT"
ram_gb = 0.5
context = 2048
"""

VALID_EMBEDDING = f"""
[[models]]
id = "tiny-embed"
kind = "embedding"
name = "Tiny embedder"
repo = "folio-test/tiny-onnx"
file = "onnx/model.onnx"
revision = "main"
sha256 = "{SHA_A}"
size = 0
license = "MIT"
ram_gb = 0.1
dim = 8
fastembed_name = "BAAI/bge-small-en-v1.5"
extra_files = {{ "tokenizer.json" = "" }}
"""


def write_catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- the bundled catalog ------------------------------------------------------------------


def test_the_bundled_catalog_loads_and_has_one_default_per_kind() -> None:
    catalog = load_catalog()

    assert catalog.default("chat").id == "smollm2-135m-instruct"
    assert catalog.default("embedding").id == "all-minilm-l6-v2-int8"
    assert len(catalog.all("chat")) >= 4 and len(catalog.all("embedding")) >= 2
    for spec in catalog:
        assert not spec.imported
        if spec.kind == "embedding":
            assert spec.dim and spec.fastembed_name


def test_the_bundled_stronger_embedder_is_bge_small() -> None:
    spec = load_catalog().get("bge-small-en-v1.5")

    assert (spec.kind, spec.dim, spec.fastembed_name) == (
        "embedding",
        384,
        "BAAI/bge-small-en-v1.5",
    )
    # fastembed loads `model_file` from the folder: the name must be the one it expects.
    assert spec.file == "model_optimized.onnx"
    assert {"tokenizer.json", "config.json", "tokenizer_config.json"} <= set(spec.extra_files)


@pytest.mark.parametrize("kind", ["chat", "embedding"])
def test_the_default_models_are_installed_and_intact(kind: str) -> None:
    """Setup installs them in the repo's models/ folder; a missing one fails, never skips."""
    spec = load_catalog().default(kind)  # type: ignore[arg-type]
    setup = "run `.venv/bin/python -m desktop.models.setup_defaults`"

    found = local_path(spec, [paths.bundled_models_dir()])

    assert found is not None, f"default {kind} model {spec.id} is not installed: {setup}"
    for rel, sha in spec.local_files.items():
        check = verify.check_file(found.parent / rel, sha)
        assert check.status == "ok", f"{check.path} is {check.status}: {setup}"


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('kind = "chat"', 'kind = "vision"'), 'kind must be "chat" or "embedding"'),
        (('sha256 = ""', 'sha256 = "xyz"'), "sha256 must be"),
        (('sha256 = ""', f'sha256 = "{SHA_A.upper()}"'), "sha256 must be"),
        (('repo = "folio-test/tiny-GGUF"\n', ""), "missing repo"),
        (("size = 0", "size = 0\nsha = 1"), "unknown field sha"),
        (('file = "tiny.Q4_0.gguf"', 'file = "../tiny.gguf"'), "relative path"),
        (('file = "tiny.Q4_0.gguf"', 'file = "tiny.bin"'), "must be a .gguf"),
        (("size = 0", "size = -1"), "size must be"),
        (("ram_gb = 0.5", "ram_gb = 0"), "ram_gb must be positive"),
        (('id = "tiny-chat"', 'id = "Tiny Chat"'), "id must be"),
        (('repo = "folio-test/tiny-GGUF"', 'repo = "tiny"'), 'repo must be "owner/name"'),
        (("context = 2048", "context = 2048\ndim = 8"), "for embedding models"),
        (("context = 2048", "context = 2048\ndefault = true"), "needs [[models.pypi]]"),
    ],
)
def test_invalid_chat_entries_are_rejected_with_the_reason(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in VALID_CHAT
    path = write_catalog(tmp_path, VALID_CHAT.replace(old, new, 1))

    with pytest.raises(ModelError, match=rf"{_re(str(tmp_path))}.*model #1.*{_re(message)}"):
        load_catalog(path)


def _re(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("dim = 8\n", ""), "needs dim"),
        (("dim = 8", "dim = 0"), "needs dim"),
        (('fastembed_name = "BAAI/bge-small-en-v1.5"\n', ""), "needs fastembed_name"),
        (('"tokenizer.json" = ""', '"tokenizer.json" = "nope"'), "sha256 of extra file"),
        (('"tokenizer.json" = ""', '"/etc/passwd" = ""'), "relative path"),
        (("dim = 8", "dim = 8\ncontext = 512"), "context is for chat models"),
    ],
)
def test_invalid_embedding_entries_are_rejected_with_the_reason(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in VALID_EMBEDDING
    path = write_catalog(tmp_path, VALID_EMBEDDING.replace(old, new, 1))

    with pytest.raises(ModelError, match=rf"model #1 \(tiny-embed\): .*{_re(message)}"):
        load_catalog(path)


def test_catalog_level_problems(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="appears twice"):
        load_catalog(write_catalog(tmp_path, VALID_CHAT + VALID_CHAT))
    with pytest.raises(ModelError, match="not valid TOML"):
        load_catalog(write_catalog(tmp_path, "[[models]\nid = 1"))
    with pytest.raises(ModelError, match="catalog not found"):
        load_catalog(tmp_path / "missing.toml")
    with pytest.raises(ModelError, match="unknown top-level key model"):
        load_catalog(write_catalog(tmp_path, "[[model]]\nid = 'x'"))


def pypi_block(members: str, wheel_sha: str = SHA_B) -> str:
    return f"""
[[models.pypi]]
package = "tiny-wheel"
version = "1.0"
wheel_sha256 = "{wheel_sha}"
members = {{ {members} }}
"""


def default_chat(sha: str = SHA_A) -> str:
    return VALID_CHAT.replace('sha256 = ""', f'sha256 = "{sha}"').replace(
        "context = 2048", "context = 2048\ndefault = true"
    )


def test_pypi_sources_are_validated(tmp_path: Path) -> None:
    good = default_chat() + pypi_block('"tiny.Q4_0.gguf" = "tiny_wheel/tiny.gguf"')
    spec = load_catalog(write_catalog(tmp_path, good)).get("tiny-chat")
    assert spec.pypi == (
        PypiSource("tiny-wheel", "1.0", SHA_B, {"tiny.Q4_0.gguf": "tiny_wheel/tiny.gguf"}),
    )

    cases = {
        "is not one of this model's files": default_chat() + pypi_block('"other.gguf" = "x"'),
        "wheel_sha256 of tiny-wheel must be": default_chat()
        + pypi_block('"tiny.Q4_0.gguf" = "x"', wheel_sha=""),
        "empty wheel path": default_chat() + pypi_block('"tiny.Q4_0.gguf" = "a.zip!"'),
        "needs the sha256 of tiny.Q4_0.gguf": default_chat(sha="")
        + pypi_block('"tiny.Q4_0.gguf" = "x"'),
        "missing members": default_chat() + pypi_block("").replace("members = {  }\n", ""),
    }
    for message, text in cases.items():
        with pytest.raises(ModelError, match=_re(message)):
            load_catalog(write_catalog(tmp_path, text))


def test_two_defaults_of_a_kind_are_rejected(tmp_path: Path) -> None:
    block = pypi_block('"tiny.Q4_0.gguf" = "x"')
    second = (default_chat() + block).replace('id = "tiny-chat"', 'id = "tiny-chat-2"')
    with pytest.raises(ModelError, match="several default chat models"):
        load_catalog(write_catalog(tmp_path, default_chat() + block + second))


def test_specs_are_frozen_and_hashable() -> None:
    spec = load_catalog().default("embedding")
    with pytest.raises(AttributeError):
        spec.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.extra_files["x"] = ""  # type: ignore[index]
    assert {spec: 1}[spec] == 1


def test_unknown_ids_list_the_known_ones(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path, VALID_CHAT + VALID_EMBEDDING))

    with pytest.raises(
        ModelError, match="unknown model 'nope'; known models: tiny-chat, tiny-embed"
    ):
        catalog.get("nope")
    with pytest.raises(ModelError, match="no default chat model"):
        catalog.default("chat")


# -- finding installed models -------------------------------------------------------------


@pytest.fixture
def two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A user models folder and a stand-in for the bundled one."""
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    user.mkdir()
    bundled.mkdir()
    return user, bundled


def test_local_path_prefers_the_user_folder(tmp_path: Path, two_dirs: tuple[Path, Path]) -> None:
    user, bundled = two_dirs
    spec = load_catalog(write_catalog(tmp_path, VALID_CHAT)).get("tiny-chat")
    assert local_path(spec, two_dirs) is None

    (bundled / "tiny.Q4_0.gguf").write_bytes(b"GGUF bundled")
    assert local_path(spec, two_dirs) == bundled / "tiny.Q4_0.gguf"

    (user / "tiny.Q4_0.gguf").write_bytes(b"GGUF user")
    assert local_path(spec, two_dirs) == user / "tiny.Q4_0.gguf"


def test_a_file_of_the_wrong_size_is_not_the_model(
    tmp_path: Path, two_dirs: tuple[Path, Path]
) -> None:
    user, _ = two_dirs
    text = VALID_CHAT.replace("size = 0", "size = 10")
    spec = load_catalog(write_catalog(tmp_path, text)).get("tiny-chat")

    (user / "tiny.Q4_0.gguf").write_bytes(b"short")
    assert local_path(spec, two_dirs) is None
    (user / "tiny.Q4_0.gguf").write_bytes(b"0123456789")
    assert local_path(spec, two_dirs) == user / "tiny.Q4_0.gguf"


def test_an_embedding_model_is_a_complete_folder(
    tmp_path: Path, two_dirs: tuple[Path, Path]
) -> None:
    user, _ = two_dirs
    spec = load_catalog(write_catalog(tmp_path, VALID_EMBEDDING)).get("tiny-embed")
    folder = user / "tiny-embed"
    (folder / "onnx").mkdir(parents=True)
    (folder / "onnx" / "model.onnx").write_bytes(b"onnx")

    assert local_path(spec, two_dirs) is None  # tokenizer.json missing
    (folder / "tokenizer.json").write_text("{}")
    assert local_path(spec, two_dirs) == folder


def test_require_local_says_how_to_get_the_model(
    tmp_path: Path, two_dirs: tuple[Path, Path]
) -> None:
    spec = load_catalog(write_catalog(tmp_path, VALID_CHAT)).get("tiny-chat")
    with pytest.raises(
        ModelError, match=r"tiny-chat .* is not installed .*`folio models pull tiny-chat`"
    ):
        require_local(spec, two_dirs)

    text = default_chat() + pypi_block('"tiny.Q4_0.gguf" = "x"')
    default = load_catalog(write_catalog(tmp_path, text)).get("tiny-chat")
    with pytest.raises(
        ModelError, match=r"rerun setup \(`python -m desktop.models.setup_defaults`\)"
    ):
        require_local(default, two_dirs)


def test_verify_notices_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"original")
    sha = verify.sha256_file(path)
    assert verify.file_sha256(path) == sha
    assert verify.stamped_sha256(path) == sha

    path.write_bytes(b"tampered")
    os.utime(path, ns=(1, 1))

    assert verify.stamped_sha256(path) is None  # the stamp no longer applies
    assert verify.check_file(path, sha).status == "mismatch"
    assert verify.check_file(path, "").status == "mismatch"  # against the recorded sha256


# -- importing a GGUF ---------------------------------------------------------------------


def write_gguf(path: Path, *, adapter: bool = False, tokenizer: bool = True) -> Path:
    writer = GGUFWriter(path, "llama")
    writer.add_name("Tiny Llama")
    writer.add_context_length(4096)
    writer.add_license("apache-2.0")
    if adapter:
        writer.add_type("adapter")
        writer.add_string("adapter.type", "lora")
    if tokenizer:
        writer.add_tokenizer_model("gpt2")
    writer.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_import_a_gguf(tmp_path: Path, locations: Locations) -> None:
    source = write_gguf(tmp_path / "My-Tiny.Q8_0.gguf")

    spec = import_model(source, locations.user_models_dir)

    assert (spec.id, spec.name, spec.kind, spec.imported) == (
        "my-tiny.q8_0",
        "Tiny Llama",
        "chat",
        True,
    )
    assert (spec.context, spec.license) == (4096, "apache-2.0")
    installed = locations.user_models_dir / "My-Tiny.Q8_0.gguf"
    assert installed.read_bytes() == source.read_bytes()
    assert spec.sha256 == verify.sha256_file(source)
    assert spec.size == source.stat().st_size
    # The catalog now lists it, and it is found where it was copied.
    listed = load_catalog(imported_from=locations.user_models_dir).get(spec.id)
    assert listed == spec and listed.imported
    assert local_path(listed, locations.models_search_path) == installed
    # Importing the same file again changes nothing.
    assert import_model(source, locations.user_models_dir) == spec
    index = json.loads((locations.user_models_dir / "imported.json").read_text())
    assert [m["id"] for m in index["models"]] == [spec.id]


def test_import_refuses_another_file_under_a_taken_name(
    tmp_path: Path, locations: Locations
) -> None:
    (tmp_path / "first").mkdir()
    import_model(write_gguf(tmp_path / "first" / "tiny.gguf"), locations.user_models_dir)
    other = write_gguf(tmp_path / "tiny.gguf")
    with open(other, "ab") as f:
        f.write(b"\0" * 32)  # padding after the tensor data: another file, same name

    with pytest.raises(ModelError, match="an imported model named tiny.gguf already exists"):
        import_model(other, locations.user_models_dir)


def test_a_deleted_import_can_be_imported_again(tmp_path: Path, locations: Locations) -> None:
    source = write_gguf(tmp_path / "tiny.gguf")
    first = import_model(source, locations.user_models_dir)
    (locations.user_models_dir / "tiny.gguf").unlink()
    assert (
        local_path(
            load_catalog(imported_from=locations.user_models_dir).get(first.id),
            locations.models_search_path,
        )
        is None
    )

    again = import_model(source, locations.user_models_dir)

    assert again == first
    assert (
        local_path(
            load_catalog(imported_from=locations.user_models_dir).get(first.id),
            locations.models_search_path,
        )
        == locations.user_models_dir / "tiny.gguf"
    )
    assert [s.id for s in load_catalog(imported_from=locations.user_models_dir) if s.imported] == [
        first.id
    ]


def test_import_refuses_the_file_name_of_a_catalog_model(
    tmp_path: Path, locations: Locations
) -> None:
    source = write_gguf(tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf")

    with pytest.raises(ModelError, match="is the file name of a catalog model"):
        import_model(source, locations.user_models_dir)


def test_import_rejects_a_file_that_is_not_gguf(tmp_path: Path, locations: Locations) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")

    with pytest.raises(ModelError, match="is not a GGUF model file"):
        import_model(text, locations.user_models_dir)
    assert not locations.user_models_dir.exists() or not any(locations.user_models_dir.iterdir())


def test_import_rejects_a_lora_adapter(tmp_path: Path, locations: Locations) -> None:
    with pytest.raises(ModelError, match="is a LoRA adapter, not a model"):
        import_model(write_gguf(tmp_path / "style.gguf", adapter=True), locations.user_models_dir)


def test_import_rejects_a_gguf_without_a_tokenizer(tmp_path: Path, locations: Locations) -> None:
    with pytest.raises(ModelError, match="has no tokenizer"):
        import_model(
            write_gguf(tmp_path / "weights.gguf", tokenizer=False), locations.user_models_dir
        )


def test_import_rejects_a_damaged_gguf(tmp_path: Path, locations: Locations) -> None:
    whole = write_gguf(tmp_path / "whole.gguf").read_bytes()
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(whole[:40])

    with pytest.raises(ModelError, match="is a damaged GGUF file"):
        import_model(damaged, locations.user_models_dir)


def test_import_the_real_default_chat_model(tmp_path: Path, locations: Locations) -> None:
    """The real SmolLM2 GGUF goes through the same checks (arrays like the vocab skipped)."""
    bundled = require_local(
        load_catalog(imported_from=locations.user_models_dir).default("chat"),
        locations.models_search_path,
    )
    source = tmp_path / "my-smollm2.gguf"
    source.symlink_to(bundled)

    spec = import_model(source, locations.user_models_dir)

    assert spec.context == 8192
    assert (
        spec.sha256 == load_catalog(imported_from=locations.user_models_dir).default("chat").sha256
    )


def test_a_damaged_imported_index_does_not_break_the_catalog(
    tmp_path: Path, locations: Locations
) -> None:
    locations.user_models_dir.mkdir(parents=True)
    (locations.user_models_dir / "imported.json").write_text("{not json")

    assert all(not s.imported for s in load_catalog(imported_from=locations.user_models_dir))


def test_model_spec_can_be_built_directly() -> None:
    spec = ModelSpec(
        id="x",
        kind="embedding",
        name="X",
        repo="o/x",
        file="model.onnx",
        revision="main",
        sha256="",
        size=0,
        license="MIT",
        ram_gb=0.1,
        default=False,
        context=None,
        dim=4,
        fastembed_name="BAAI/bge-small-en-v1.5",
        extra_files={"config.json": ""},
        pypi=(),
    )
    assert spec.local_files == {"x/model.onnx": "", "x/config.json": ""}
    assert spec.remote_files == (
        ("model.onnx", "x/model.onnx", ""),
        ("config.json", "x/config.json", ""),
    )
