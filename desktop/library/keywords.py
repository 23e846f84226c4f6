"""The keyword leg: BM25 over the chunks, with a bounded cost at any library size.

BM25 over an OR query scores every chunk that holds any query word, so one common word
("cells" in a medical library) makes the leg as slow as a scan: 50k matching chunks of
100k took half a second. BM25 gives such a word little weight (its IDF is low), so when
the query's words together match more than POSTINGS_BUDGET chunks, the most common ones
are left out of the FTS5 query, rarest first kept, and at least the rarest word always
stays. Document frequencies are counted once per word and connection, each count stopping
at the budget (past it, the count is extrapolated from how far into the rowids the budget
reached), so a lookup costs at most one bounded pass; they are estimates, so a count that
went slightly stale as the library grew does no harm.

FTS5's bm25() over the kept words picks the best RESCORE_DEPTH chunks. The words left out
are added back to their scores, computed as FTS5's bm25() would, so each has FTS5's BM25
over every query word; the best RESCORE_TOP of those are then scored again with the leg's
own BM25 constants (`BM25`; desktop/library/rescore.py). Ranking by the kept words alone
lost up to 0.19 nDCG@10 once the budget was a small share of the library; adding the
left-out words back wins nearly all of it back for about 10 ms at a million chunks
(figures beside the constants).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import islice

import apsw

from desktop.library.conn_cache import UntilChanged
from desktop.library.folder_scope import small_folder_chunks
from desktop.library.rescore import Bm25, rescored

# Most chunks the pruned OR query may match (the sum of its words' document frequencies).
# Cost of the kept words' query alone at the 1M-chunk padded library, 20 SciFact queries,
# counts not yet cached (load ~3): 8,000: p50 20 ms / p95 37 ms; 32,000: 35 / 44 ms;
# 128,000: 85 / 104 ms; 512,000: 204 / 271 ms. At 1M, 8,000 keeps one word of most queries.
POSTINGS_BUDGET = 8_000
# Chunks of the pruned query scored again over every query word (at least the `limit`
# asked for). What pruning costs depends on the budget's share of the library: on 22,866
# chunks of SQuAD train (2,000 questions; unpruned nDCG@10 0.835), a budget of 500
# (8,000's share of ~370k chunks) gave 0.649 by the kept words alone, 0.817 with the
# left-out words added back at this depth (0.799 at 100, 0.826 at 1,000); 250 (~730k):
# 0.537 -> 0.806; 2,000: 0.793 -> 0.834. At the 1M library (60 SciFact queries, two
# runs, load ~3) the leg took p50 18-29 ms / p95 28-38 ms with it, 8-15 / 25-37 ms
# without; at the 100k one 11 / 14 ms against 4 / 6 ms (most of it tokenizing the 200
# chunks). A query the budget leaves whole tokenizes only the best RESCORE_TOP.
RESCORE_DEPTH = 200
# Chunks scored again with the leg's own constants: the best by FTS5's BM25 over every word;
# the others keep FTS5's order, scaled (rescore.rescored). Scoring all 200 this way cost
# about 6 ms a query at 100k, measured alone (2.9 ms tokenizing, 2.2 ms counting; 40
# SciFact queries, December 8); 30 cost about 1 ms. On the training
# sets the hybrid kept nearly all of the constants' gain: 0.7432 / 0.9203 nDCG@10 at 30,
# 0.7433 / 0.9195 at 20, 0.7440 / 0.9202 scoring all 200 (SciFact train / SQuAD train;
# 0.7380 / 0.9143 with FTS5's constants).
RESCORE_TOP = 30
# The heading column's weight in BM25 (the text column's is 1): a term in a chunk's heading
# counts this many times a term in its text, as FTS5's bm25(chunks_fts, 1.0, w) weighs it.
# A document's title is the heading of every one of its chunks, so a long question that
# shares a title word lifts all of that document's chunks alike. Chosen with the fusion on
# training splits only (`folio eval beir --split train --tune`, desktop/evaluate/
# fusion_tuning.py): the keyword leg alone scored 0.691 / 0.696 / 0.697 nDCG@10 at 0 / 0.5 /
# 1 on SciFact train and 0.871 / 0.874 / 0.875 on SQuAD train, but the chosen hybrid was
# best at 0.5 (0.738 on SciFact train against 0.736 at 0 and at 1).
HEADING_WEIGHT = 0.5

# The constants the candidates are scored with (FTS5's own are k1 1.2, b 0.75). Chosen on
# training splits only, with the fusion and the heading weight fixed as shipped (`folio
# eval beir --split train --tune`, desktop/evaluate/fusion_tuning.py `choose_bm25`): the
# best mean hybrid nDCG@10 over SciFact train (809 queries) and SQuAD train (1,500
# questions) among the settings whose hybrid is at or above plain RRF and whose keyword leg
# is at or above plain BM25-OR on both; k1 0.3-1.2 x b 0.1-0.75. Hybrid 0.7440 / 0.9202
# against 0.7380 / 0.9143 with FTS5's constants; keyword leg 0.6950 / 0.8691 against 0.6959
# / 0.8740 (plain BM25-OR: 0.6925 / 0.8676). A chunk is a bounded span of text, so its
# length says little about how much of it is about a word: b is low.
BM25 = Bm25(k1=0.6, b=0.2)

# Function words that only add noise to an OR query (FTS5 has no stopword list of its own).
STOPWORDS = frozenset(
    """a an and are as at be but by can did do does for from had has have how i if in into is
    it its of on or our so than that the their them then there these they this to was we were
    what when where which who whom why will with would you your""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The distinct content words of a query, lower-cased, in order (all words if every
    one is a function word)."""
    words = [w.lower() for w in _WORD.findall(text)]
    terms = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(terms))


def or_query(words: list[str]) -> str | None:
    """An FTS5 OR query of `words`, each quoted so no syntax leaks in."""
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


# Word counts by (word, cap), per connection until the library changes
# (desktop/library/conn_cache.py): a count past its cap is an estimate of that cap's.
_counts: UntilChanged[tuple[str, int], int] = UntilChanged()


def doc_frequencies(
    db: apsw.Connection, words: Sequence[str], cap: int = POSTINGS_BUDGET + 1
) -> dict[str, int]:
    """How many chunks hold each word: counted up to `cap`, past it extrapolated from the
    highest rowid the first `cap` reached (FTS5 returns them in rowid order); remembered
    per connection until the library changes (checked once per call)."""
    cache, remembered = _counts.lookup(db, [(w, cap) for w in words])
    known = {w: n for (w, _), n in remembered.items()}
    for word in dict.fromkeys(w for w in words if w not in known):
        row = db.execute(
            "SELECT count(*), max(rowid) FROM "
            "(SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (or_query([word]), cap),
        ).fetchone()
        n = int(row[0]) if row else 0
        if n >= cap and row is not None and row[1]:
            top = db.execute("SELECT max(rowid) FROM chunks").fetchone()
            n = max(n, round(n * int(top[0] if top and top[0] else 0) / int(row[1])))
        known[word] = n
    _counts.store(cache, {(w, cap): n for w, n in known.items()})
    return known


def pruned_words(
    df: Mapping[str, int], words: list[str], budget: int = POSTINGS_BUDGET
) -> list[str]:
    """The rarest words whose matches (`df`: their document frequencies) fit the budget
    (the rarest always), in query order."""
    kept: set[str] = set()
    total = 0
    for w in sorted(words, key=lambda x: (df[x], words.index(x))):
        if df[w] == 0:
            continue
        if kept and total + df[w] > budget:
            break
        kept.add(w)
        total += df[w]
    return [w for w in words if w in kept]


def keyword_search(
    db: apsw.Connection,
    query: str,
    limit: int,
    budget: int | None = POSTINGS_BUDGET,
    folder_id: int | None = None,
    heading_weight: float = HEADING_WEIGHT,
    bm25: Bm25 = BM25,
) -> list[tuple[int, float]]:
    """The `limit` best chunks by BM25 as (chunk id, score), best first; `folder_id` keeps
    only that folder's chunks (filtered before the limit, so up to `limit` of them). The
    best RESCORE_DEPTH chunks of the pruned query get the left-out words added back, and
    the best RESCORE_TOP of them are scored again with `bm25`'s constants.
    `budget=None` is the naive leg: FTS5's own bm25() over every query word however
    common, nothing scored again. `heading_weight` is the heading column's BM25 weight
    (HEADING_WEIGHT)."""
    words = query_words(query)
    if budget is None:
        match = or_query(words)
        return [] if match is None else _ranked(db, match, limit, folder_id, heading_weight)
    df = doc_frequencies(db, words, budget + 1)
    kept = pruned_words(df, words, budget)
    match = or_query(kept)
    if match is None:
        return []
    ranked = _ranked(db, match, max(limit, RESCORE_DEPTH), folder_id, heading_weight)
    scored = {w: df[w] for w in words if df[w]}
    left_out = [w for w in scored if w not in kept]
    return rescored(db, ranked, scored, left_out, limit, heading_weight, bm25, RESCORE_TOP)


def plain_search(db: apsw.Connection, query: str, limit: int) -> list[tuple[int, float]]:
    """Plain FTS5 BM25 over an OR of every word of the query, function words included, both
    columns weighted alike: the baseline the keyword leg must not fall below."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    match = or_query(words)
    return [] if match is None else _ranked(db, match, limit, None, 1.0)


def _ranked(
    db: apsw.Connection,
    match: str,
    limit: int,
    folder_id: int | None,
    heading_weight: float = HEADING_WEIGHT,
) -> list[tuple[int, float]]:
    """The `limit` best chunks for an FTS5 query, as (chunk id, -bm25), best first."""
    weight = float(heading_weight)
    if folder_id is None:
        rows = db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, ?) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY s, rowid LIMIT ?",
            (weight, match, limit),
        )
    elif (ids := small_folder_chunks(db, folder_id)) is not None:
        # The library-wide ranking, the folder's rows kept (desktop/library/folder_scope.py).
        if not ids:
            return []
        cursor = db.execute(
            "SELECT rowid, bm25(chunks_fts, 1.0, ?) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY s, rowid",
            (weight, match),
        )
        try:
            kept = (row for row in cursor if int(row[0]) in ids)
            return [(int(r), -float(s)) for r, s in islice(kept, limit)]
        finally:
            cursor.close()
    else:
        rows = db.execute(
            "SELECT f.rowid, bm25(chunks_fts, 1.0, ?) AS s FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
            "WHERE chunks_fts MATCH ? AND d.folder_id = ? ORDER BY s, f.rowid LIMIT ?",
            (weight, match, int(folder_id), limit),
        )
    return [(int(r), -float(s)) for r, s in rows]
