"""What the embedder sees for a chunk, and the key under which its vector is reused.

A chunk's vector depends only on the text the embedder sees and on the model, so a chunk
whose key is already in the library is never embedded again: not after an edit elsewhere
in its file, not after a rename, not in a copy of the file.
"""

from __future__ import annotations

import hashlib

from desktop.ingest.types import ChunkDraft


def embedding_text(chunk: ChunkDraft) -> str:
    """What the embedder sees: the chunk under its heading, so a passage deep in a section
    still carries the section's (or a text file's) title."""
    return text_for(chunk.text, chunk.heading)


def text_for(text: str, heading: str | None) -> str:
    """`embedding_text` from a chunk's stored text and heading."""
    if heading and not text.startswith(heading):
        return f"{heading}\n\n{text}"
    return text


def embed_key(model_id: str, text: str) -> str:
    """The reuse key of an embedding: 128 bits of SHA-256 over the model id and the text."""
    digest = hashlib.sha256(model_id.encode("utf-8") + b"\x00" + text.encode("utf-8"))
    return digest.hexdigest()[:32]
