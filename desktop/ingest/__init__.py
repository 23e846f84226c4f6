"""Document ingestion: files found (`walk`), read into sections (`extract`), cut (`chunker`).

`types` holds the values passed on to the indexer: `Section` and `ChunkDraft`.
"""
