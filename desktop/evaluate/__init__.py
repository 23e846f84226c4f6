"""Quality evaluation on public datasets: BEIR retrieval and SQuAD-style cited answers."""
