"""The library: one SQLite file of folders, documents, chunks, vectors and chats, and the
indexing, search, repair and live sync over it."""
