"""The Style dropdown's rows when answers come from a server: the adapters it holds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop.adapters import AdapterDirs, AdapterInfo, discover
from desktop.engine.api import EngineInfo

if TYPE_CHECKING:
    from desktop.ui.chat_worker import AdapterRow


def server_rows(info: EngineInfo, dirs: AdapterDirs) -> list[AdapterRow]:
    """One row per adapter the server offers, described by the local file of the same name
    where there is one (the shipped adapters are)."""
    local = {i.path.stem: i for i in discover(dirs)}
    rows: list[AdapterRow] = []
    for name in info.adapters:
        adapter = local.get(name) or AdapterInfo(
            name=name,
            description="held by the server",
            path=Path(name),
            base_model="",
            architecture="",
            rank=0,
            alpha=0.0,
            size_bytes=0,
            problem="held by the server only",
        )
        rows.append(
            {
                "name": name,
                "info": adapter,
                "ok": True,
                "reason": f"offered by the server ({info.where})",
                "description": adapter.description,
                "effect": "",
            }
        )
    return rows
