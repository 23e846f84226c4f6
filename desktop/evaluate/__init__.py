"""Evaluations of Folio's parts on held-out data (adapters: `adapter_eval`)."""
