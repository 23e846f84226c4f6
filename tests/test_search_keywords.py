"""The keyword leg's postings budget, on a real FTS5 index."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from desktop.library import folder_scope, keywords, rescore
from desktop.library.store import Library


def _library(tmp_path: Path, texts: list[str], headings: list[str | None] | None = None) -> Library:
    lib = Library(tmp_path / "kw.sqlite")
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/f', 0)")
        lib.db.execute(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (1, 1, '/f/a.txt', 0, 0, 'indexed', 0)"
        )
        heads = headings or [None] * len(texts)
        lib.db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, heading, char_start, char_end) "
            "VALUES (?, 1, ?, ?, ?, 0, 1)",
            ((i, i, t, h) for i, (t, h) in enumerate(zip(texts, heads, strict=True), start=1)),
        )
    return lib


def test_common_words_are_dropped_rarest_first_within_the_budget(tmp_path: Path) -> None:
    # "cells" is in every chunk, "membrane" in 30, "zorblax" in one (chunk 77).
    texts = [
        "cells " + ("membrane " if i % 10 == 0 else "") + ("zorblax" if i == 77 else "")
        for i in range(300)
    ]
    lib = _library(tmp_path, texts)
    words = keywords.query_words("Do the cells of a zorblax have a membrane?")
    assert words == ["cells", "zorblax", "membrane"]
    assert keywords.doc_frequencies(lib.db, ["cells"], cap=1000) == {"cells": 300}
    # Counting stops at cap, then extrapolates: the 10th "membrane" is chunk 91 of 300.
    membrane = round(10 * 300 / 91)
    assert keywords.doc_frequencies(lib.db, ["membrane"], cap=10) == {"membrane": membrane}
    # A count is remembered for its own cap: under the default one "membrane" is exact.
    df = keywords.doc_frequencies(lib.db, words)
    assert df == {"cells": 300, "zorblax": 1, "membrane": 30}
    assert keywords.pruned_words(df, words, budget=50) == ["zorblax", "membrane"]
    assert keywords.pruned_words(df, words, budget=10) == ["zorblax"]
    assert keywords.pruned_words(df, ["cells"], budget=10) == ["cells"]  # rarest stays
    hits = keywords.keyword_search(lib.db, "cells zorblax membrane", 5, budget=50)
    assert hits[0][0] == 78  # chunk ids start at 1: text index 77
    naive = keywords.keyword_search(lib.db, "cells zorblax membrane", 400, budget=None)
    assert len(naive) == 300  # the naive OR query matches every chunk
    lib.close()


def test_left_out_words_are_scored_as_fts5_bm25_scores_them(tmp_path: Path) -> None:
    # "zorblax" is in chunks 1 and 2, "cells" in 101 (chunk 2 and every third one after):
    # with a budget of 99 the query keeps "zorblax" only. Ranked by it alone, the shorter
    # chunk 1 wins; with "cells" scored too (twice in chunk 2) chunk 2 wins, as it does in
    # FTS5's own BM25 over every word, and under FTS5's constants both scores are FTS5's
    # to the last digits.
    texts = ["zorblax filler", "zorblax cells cells"] + [
        "plain filler text" + (" cells" if i % 3 == 2 else "") for i in range(2, 300)
    ]
    lib = _library(tmp_path, texts)
    query = "cells of a zorblax"
    words = keywords.query_words(query)
    assert keywords.pruned_words(keywords.doc_frequencies(lib.db, words), words, 99) == ["zorblax"]
    assert [c for c, _ in keywords.keyword_search(lib.db, "zorblax", 2)] == [1, 2]
    naive = dict(keywords.keyword_search(lib.db, query, 400, budget=None))
    hits = keywords.keyword_search(lib.db, query, 2, budget=99, bm25=rescore.FTS5_BM25)
    assert [c for c, _ in hits] == [2, 1]
    for cid, score in hits:
        assert abs(score - naive[cid]) < 1e-9
    assert [c for c, _ in keywords.keyword_search(lib.db, query, 2, budget=99)] == [2, 1]
    assert rescore.totals(lib.db) == (300, sum(len(t.split()) for t in texts) / 300)
    lib.close()


def test_the_leg_scores_with_its_own_bm25_constants(tmp_path: Path) -> None:
    # Chunk 1 says "zorblax" three times in 40 words, chunk 2 once in 4; the others have
    # 30 words. FTS5's constants
    # (b 0.75) discount the long chunk below the short one; the leg's own (k1 0.6, b 0.2)
    # barely discount length, so the three mentions win. Each score is BM25's formula
    # with the leg's constants, by hand; a word the tokenizer splits ("e_coli") counts as
    # the phrase FTS5 matches, its stems in a row.
    long_text = " ".join(["zorblax"] * 3 + [f"filler{i}" for i in range(37)])
    texts = [long_text, "zorblax and e coli", "e filler coli"] + [" ".join(["plain"] * 30)] * 47
    lib = _library(tmp_path, texts)
    fts5 = keywords.keyword_search(lib.db, "zorblax", 2, bm25=rescore.FTS5_BM25)
    ours = keywords.keyword_search(lib.db, "zorblax", 2)
    assert [c for c, _ in fts5] == [2, 1]
    assert [c for c, _ in ours] == [1, 2]
    n, avg = rescore.totals(lib.db)
    k1, b = keywords.BM25.k1, keywords.BM25.b
    idf = math.log((n - 2 + 0.5) / (2 + 0.5))
    for cid, tf, length in ((1, 3, 40), (2, 1, 4)):
        expected = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        assert abs(dict(ours)[cid] - expected) < 1e-9
    phrase = keywords.keyword_search(lib.db, "e_coli", 5, bm25=rescore.FTS5_BM25)
    exact = lib.db.execute(
        "SELECT rowid, bm25(chunks_fts, 1.0, 0.5) FROM chunks_fts "
        "WHERE chunks_fts MATCH '\"e coli\"'"
    ).fetchall()
    assert [int(r) for r, _ in exact] == [2]  # chunk 3 has both stems, not in a row
    assert [(c, round(s, 9)) for c, s in phrase] == [(int(r), round(-s, 9)) for r, s in exact]
    lib.close()


def test_query_words_neutralise_fts_syntax() -> None:
    assert keywords.or_query(keywords.query_words('NEAR(a b) "x" OR -y*')) == (
        '"near" OR "b" OR "x" OR "y"'
    )
    assert keywords.or_query([]) is None


def test_heading_weight_scores_as_fts5_weighs_the_column(tmp_path: Path) -> None:
    # "zorblax" is the heading of chunks 1-3 and in the text of 4-6; "cells" (in 101 chunks)
    # is left out by a budget of 99 and added back. With the heading at weight 0 the
    # text matches win; at 1 the heading matches tie in; at every weight the pruned leg's
    # scores are FTS5's own bm25(chunks_fts, 1.0, w) over every word.
    texts = ["cells here", "filler", "filler words", "zorblax cells", "zorblax", "zorblax x y"]
    texts += ["plain filler" + (" cells" if i % 3 else "") for i in range(6, 300)]
    headings: list[str | None] = ["Zorblax", "Zorblax cells", "Zorblax"] + [None] * 297
    lib = _library(tmp_path, texts, headings)
    query = "cells of a zorblax"
    for weight in (0.0, 0.25, 1.0, 2.0):
        exact = {
            int(r): -float(s)
            for r, s in lib.db.execute(
                "SELECT rowid, bm25(chunks_fts, 1.0, ?) FROM chunks_fts "
                'WHERE chunks_fts MATCH \'"cells" OR "zorblax"\'',
                (weight,),
            )
        }
        hits = keywords.keyword_search(
            lib.db, query, 6, budget=99, heading_weight=weight, bm25=rescore.FTS5_BM25
        )
        for cid, score in hits:
            assert abs(score - exact[cid]) < 1e-9, (weight, cid)
    low = [c for c, _ in keywords.keyword_search(lib.db, query, 3, budget=99, heading_weight=0)]
    assert set(low) == {4, 5, 6}
    high = [c for c, _ in keywords.keyword_search(lib.db, query, 3, budget=99, heading_weight=2)]
    assert 1 in high  # "cells" in its text and "zorblax" twice over in its heading
    lib.close()


def test_plain_search_is_bm25_over_every_word(tmp_path: Path) -> None:
    # The plain baseline keeps function words: "the" matches chunk 2 only, so it ranks there.
    lib = _library(tmp_path, ["zorblax cells", "the zorblax cells", "filler"])
    assert [c for c, _ in keywords.plain_search(lib.db, "the zorblax cells", 5)] == [2, 1]
    assert [c for c, _ in keywords.keyword_search(lib.db, "the zorblax cells", 5)] == [1, 2]
    assert keywords.plain_search(lib.db, " ?! ", 5) == []
    lib.close()


def test_a_folder_search_returns_the_folders_best_matches_by_either_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most matches lie outside the folder: the folder search still returns `limit` of
    the folder's own, in BM25 order, whether it keeps the folder's rows of the library's
    ranking (a small folder) or joins each match to its document (a large one)."""
    texts = [f"zorblax {'cells ' * (i % 7)}filler {i}" for i in range(400)]
    lib = _library(tmp_path, texts)
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (2, '/g', 0)")
        lib.db.execute(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (2, 2, '/g/b.txt', 0, 0, 'indexed', 0)"
        )
        lib.db.execute("UPDATE chunks SET document_id = 2 WHERE id % 40 = 0")  # 10 of 400
    ours = {i for i in range(1, 401) if i % 40 == 0}
    # Under FTS5's constants the leg's scores are FTS5's, so the folder's rows of the
    # library-wide ranking are exactly what a folder search must return.
    fts5 = rescore.FTS5_BM25
    everywhere = keywords.keyword_search(lib.db, "zorblax cells", 400, bm25=fts5)
    expected = [hit for hit in everywhere if hit[0] in ours][:6]
    assert folder_scope.small_folder_chunks(lib.db, 2) == frozenset(ours)
    assert keywords.keyword_search(lib.db, "zorblax cells", 6, folder_id=2, bm25=fts5) == expected
    small = keywords.keyword_search(lib.db, "zorblax cells", 6, folder_id=2)
    assert {c for c, _ in small} <= ours and len(small) == 6
    monkeypatch.setattr(folder_scope, "SMALL_FOLDER", 5)  # the folder is now "large"
    assert folder_scope.small_folder_chunks(lib.db, 2) is None
    assert keywords.keyword_search(lib.db, "zorblax cells", 6, folder_id=2, bm25=fts5) == expected
    assert keywords.keyword_search(lib.db, "zorblax cells", 6, folder_id=2) == small
    with lib.db:  # a change to the library is seen at once
        lib.db.execute("UPDATE chunks SET document_id = 2 WHERE id = 1")
    monkeypatch.setattr(folder_scope, "SMALL_FOLDER", 20_000)
    assert folder_scope.small_folder_chunks(lib.db, 2) == frozenset(ours | {1})
    with lib.db:  # an empty folder: nothing, without walking the library's matches
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (3, '/h', 0)")
    assert folder_scope.small_folder_chunks(lib.db, 3) == frozenset()
    assert keywords.keyword_search(lib.db, "zorblax", 6, folder_id=3) == []
    lib.close()


def test_a_connection_keeps_the_ids_of_its_last_few_folders_only(tmp_path: Path) -> None:
    lib = _library(tmp_path, ["zorblax"] * 10)
    with lib.db:
        for folder in range(2, 12):
            lib.db.execute(
                "INSERT INTO folders(id, path, added_at) VALUES (?, ?, 0)", (folder, f"/{folder}")
            )
    for folder in range(2, 12):
        assert folder_scope.small_folder_chunks(lib.db, folder) == frozenset()
    store, _ = folder_scope._ids.lookup(lib.db, [])
    assert [f for f, _ in store] == list(range(12 - folder_scope.KEPT_FOLDERS, 12))
    lib.close()


def test_past_the_top_scores_keep_their_order_on_the_new_scale(tmp_path: Path) -> None:
    # Four chunks ranked by their FTS5 score; the best two are scored again with the leg's
    # constants, the other two keep their order and their FTS5 score times the median
    # new/FTS5 ratio of the two.
    texts = ["zorblax", "zorblax zorblax filler", "zorblax filler words", "zorblax x y z"]
    lib = _library(tmp_path, texts + ["plain"] * 20)
    fts5 = keywords.keyword_search(lib.db, "zorblax", 4, bm25=rescore.FTS5_BM25)
    full = dict(rescore.rescored(lib.db, fts5, {"zorblax": 4}, [], 4, 0.5, keywords.BM25))
    part = rescore.rescored(lib.db, fts5, {"zorblax": 4}, [], 4, 0.5, keywords.BM25, top=2)
    (a, sa), (b, sb), (c, sc), (d, sd) = fts5
    scale = (full[a] / sa + full[b] / sb) / 2
    assert dict(part)[a] == full[a] and dict(part)[b] == full[b]
    assert abs(dict(part)[c] - sc * scale) < 1e-12 and abs(dict(part)[d] - sd * scale) < 1e-12
    assert [cid for cid, _ in part][2:] == [c, d]
    lib.close()
