"""A real llama-server on 127.0.0.1, started by the tests themselves (scripts/bootstrap.py
builds it into .venv/bin from the llama.cpp that llama-cpp-python vendors)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / ".venv" / "bin" / "llama-server"
ADAPTERS = ROOT / "models" / "adapters"
SHIPPED = ("bullet-brief", "grounded")
KEY = "folio-test-key"


def require_binary() -> Path:
    """The llama-server binary; skipped where setup did not build it, failed in CI."""
    if BINARY.is_file():
        return BINARY
    message = (
        f"{BINARY} is missing: `python3 scripts/bootstrap.py setup` builds it (needs cmake and "
        "~10 minutes)"
    )
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must run the serving-engine tests")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running llama-server; `url` for Folio, `log` for what the server itself says."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    key: str | None

    def get(self, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return httpx.get(self.url + path, headers=headers, timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_server(
    model: Path,
    log: Path,
    adapters: Sequence[str] = SHIPPED,
    key: str | None = KEY,
    parallel: int = 1,
    extra: Sequence[str] = (),
) -> Server:
    """Start llama-server with the shipped adapters loaded but off, and wait until ready."""
    binary = require_binary()
    port = free_port()
    cmd = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["-c", str(2048 * parallel), "-np", str(parallel), "-t", "2", "--seed", "0"]
    cmd += ["--metrics", "--slots", "--no-webui"]
    for name in adapters:
        cmd += ["--lora", str(ADAPTERS / f"{name}.gguf")]
    if adapters:
        cmd.append("--lora-init-without-apply")
    if key:
        cmd += ["--api-key", key]
    cmd += list(extra)
    out = log.open("wb")
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log, key)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited ({process.returncode}): {log.read_text()}")
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"llama-server did not get ready in 120 s: {log.read_text()[-2000:]}")
