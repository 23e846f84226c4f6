"""`folio bench index`: SQuAD paragraphs become files in a temporary folder; Folio's run is
timed from the drop to the first keyword hit, all text and every vector, beside the naive
loops in the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.bench.report import targets
from desktop.bench.squad_files import write_files


def _squad(path: Path, articles: int = 3, paragraphs: int = 4) -> Path:
    data = {
        "version": "1.1",
        "data": [
            {
                "title": f"Article {a}",
                "paragraphs": [
                    {
                        "context": f"Paragraph {a}-{p} tells of the lighthouse keeper {a}{p}.",
                        "qas": [],
                    }
                    for p in range(paragraphs)
                ],
            }
            for a in range(articles)
        ],
    }
    path.write_text(json.dumps(data))
    return path


@pytest.mark.fast
def test_paragraphs_become_files_spread_over_the_whole_set(tmp_path: Path) -> None:
    squad = _squad(tmp_path / "train.json")
    files = write_files(squad, tmp_path / "dropped", 3)
    texts = [f.read_text() for f in files]
    assert [t.split()[1] for t in texts] == ["0-0", "1-0", "2-0"]  # one from each article
    assert all(f.parent == tmp_path / "dropped" for f in files)
    with pytest.raises(ValueError, match="fewer than 13"):
        write_files(squad, tmp_path / "more", 13)


@pytest.mark.slow
def test_bench_index_times_the_drop_beside_the_naive_loops(tmp_path: Path) -> None:
    from desktop.bench.system import bench_index

    squad = _squad(tmp_path / "train.json")
    result = bench_index(squad, tmp_path, sizes=(6,), naive_max_chunks=4)
    size = result["sizes"]["6"]
    folio = size["folio"]
    assert folio["files"] == folio["chunks"] == 6 and folio["reindex_embedded"] == 0
    # Found by keyword before (or when) all the text was in, all of it before every vector.
    assert 0 <= folio["first_keyword_hit_s"] <= folio["all_text_s"] <= folio["embedded_s"]
    assert size["naive"]["chunks"] == size["naive_quiet"]["chunks"] == 4
    assert size["ratio_chunks_per_s"] is not None and len(size["load_1min"]) == 4
    rows = {r["target"]: r for r in targets({"index": result})}
    assert rows["first keyword hit ≤ 10 s after the drop (6 files)"]["met"]
    assert not list(tmp_path.glob("index-6-*"))  # the generated folder is gone
