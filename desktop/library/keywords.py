"""The keyword leg: FTS5 BM25 over the chunks, with a bounded cost at any library size.

BM25 over an OR query scores every chunk that holds any query word, so one common word
("cells" in a medical library) makes the leg as slow as a scan: 50k matching chunks of
100k took half a second. BM25 gives such a word little weight (its IDF is low), so when
the query's words together match more than POSTINGS_BUDGET chunks, the most common ones
are left out of the query, rarest first kept, and at least the rarest word always stays.
Document frequencies are counted once per word and connection, each count stopping at the
budget, so a lookup costs at most one bounded pass; they are estimates used for this
choice only, so a count that went slightly stale as the library grew does no harm.
"""

from __future__ import annotations

import re
import threading
import weakref

import apsw

# Most chunks the pruned OR query may match (the sum of its words' document frequencies).
POSTINGS_BUDGET = 8_000

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


_df_cache: weakref.WeakKeyDictionary[apsw.Connection, dict[str, int]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def doc_frequency(db: apsw.Connection, word: str, cap: int = POSTINGS_BUDGET + 1) -> int:
    """How many chunks hold `word`, counted up to `cap` (remembered per connection)."""
    with _lock:
        cache = _df_cache.setdefault(db, {})
        if word in cache:
            return cache[word]
    row = db.execute(
        "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
        (or_query([word]), cap),
    ).fetchone()
    n = int(row[0]) if row else 0
    with _lock:
        cache[word] = n
    return n


def pruned_words(db: apsw.Connection, words: list[str], budget: int = POSTINGS_BUDGET) -> list[str]:
    """The rarest words whose matches fit the budget (the rarest always), in query order."""
    df = {w: doc_frequency(db, w, budget + 1) for w in words}
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
) -> list[tuple[int, float]]:
    """The `limit` best chunks by BM25 as (chunk id, score), best first; `budget=None`
    searches every query word however common (the naive leg); `folder_id` keeps only that
    folder's chunks (filtered before the limit, so up to `limit` of them)."""
    words = query_words(query)
    if budget is not None and len(words) > 1:
        words = pruned_words(db, words, budget)
    match = or_query(words)
    if match is None:
        return []
    if folder_id is None:
        rows = db.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY s, rowid LIMIT ?",
            (match, limit),
        )
    else:
        rows = db.execute(
            "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
            "WHERE chunks_fts MATCH ? AND d.folder_id = ? ORDER BY s, f.rowid LIMIT ?",
            (match, int(folder_id), limit),
        )
    return [(int(r), -float(s)) for r, s in rows]
