"""Nothing leaves the machine: a process that embeds with the real model writes nothing
outside its own folders (onnxruntime's telemetry queue and device id included).

The suite's socket guard (conftest.py) sees Python's sockets only; onnxruntime's native
uploader would pass it, so what it leaves on disk is checked instead, in a fresh process
whose home is an empty folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from desktop.privacy import TELEMETRY_OFF, silence_telemetry

# Embeds one text through Folio's embedder (importing `desktop` first, as every entry
# point does), with the model folder and file passed as arguments.
THROUGH_FOLIO = """
import sys
from pathlib import Path
from desktop.embed.fastembed_embedder import FastEmbedEmbedder
from desktop.models.catalog import load_catalog
spec = load_catalog().default("embedding")
folder = Path(sys.argv[1])
e = FastEmbedEmbedder(spec.id, spec.fastembed_name, folder, spec.dim, model_file=spec.file)
print(e.embed_query("where is the lighthouse").shape)
"""
# The same model opened by onnxruntime alone, without Folio: the control.
RAW_RUNTIME = """
import sys, onnxruntime
onnxruntime.InferenceSession(sys.argv[1] + "/" + sys.argv[2], providers=["CPUExecutionProvider"])
print("opened")
"""


def _files_after(script: str, home: Path, *args: str) -> list[Path]:
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_OFF}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    env["FOLIO_HOME"] = str(home / "folio")
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [p for p in home.rglob("*") if p.is_file() and "folio" not in p.relative_to(home).parts]


def test_an_embedding_process_leaves_nothing_outside_its_folders(
    tmp_path: Path, embedding_model_dir: Path
) -> None:
    from desktop.models.catalog import load_catalog

    model_file = load_catalog().default("embedding").file
    control = _files_after(RAW_RUNTIME, tmp_path / "raw", str(embedding_model_dir), model_file)
    folio = _files_after(THROUGH_FOLIO, tmp_path / "folio-run", str(embedding_model_dir))
    assert folio == [], f"Folio wrote outside its folders: {folio} (onnxruntime alone: {control})"


def test_telemetry_switches_are_forced_over_the_users_environment() -> None:
    environ = {"ORT_DISABLE_TELEMETRY": "0", "PATH": "/bin"}
    silence_telemetry(environ)
    assert environ == {
        "ORT_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PATH": "/bin",
    }
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"  # the suite imported desktop
