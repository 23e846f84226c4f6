"""Quality evaluation on held-out data: BEIR retrieval, SQuAD-style cited answers, adapters."""
