"""`folio eval beir` and `folio eval squad` end to end on tiny fixtures, real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cli import main

DOCS = {
    "d1": ("Zorblax turbines", "The Zorblax turbine at the northern site produced 42 megawatts."),
    "d2": ("Sourdough", "The office sourdough starter is named Gregory and eats rye flour."),
    "d3": ("Travel", "Employees flying to Reykjavik book through the Hvalur agency."),
}


def _beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n" for d, (t, x) in DOCS.items())
    )
    (root / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "How many megawatts did the Zorblax turbine produce?"})
        + "\n"
        + json.dumps({"_id": "q2", "text": "Which agency books flights to Reykjavik?"})
        + "\n"
    )
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return root


def test_eval_beir_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = _beir(tmp_path / "tiny")
    work = str(tmp_path / "w")
    assert main(["eval", "beir", str(dataset), "--work", work, "--json", "--tune"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["documents"] == 3 and out["queries"] == 2
    for mode in ("keyword", "vector", "hybrid", "plain-rrf-60", "plain-bm25-or"):
        m = out["modes"][mode]
        assert set(m) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert m["ndcg@10"] == 1.0 and m["mrr@10"] == 1.0  # each answer is unmistakable
    assert out["hybrid_beats_best_leg"] is True
    assert out["hybrid_beats_plain_rrf"] is True and out["keyword_beats_plain_bm25"] is True
    tuned = out["tuned"]
    methods = {"rrf", "convex", "tmm"}
    assert set(tuned["best_per_method"]) == methods | {f"{m}+fill" for m in methods}
    assert tuned["best"]["ndcg@10"] == 1.0
    weights = {row["heading_weight"] for row in tuned["grid"]}
    assert weights == set(map(float, tuned["keyword_ndcg_by_heading_weight"])) and len(weights) > 1


def test_eval_beir_names_a_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "beir", str(tmp_path)]) == 1
    assert "corpus.jsonl is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_squad_through_the_real_answer_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {
        "data": [
            {
                "title": "Zorblax",
                "paragraphs": [
                    {
                        "context": DOCS["d1"][1] + " It was built in 1998 by Hvalur Works.",
                        "qas": [
                            {
                                "id": "a",
                                "question": "How many megawatts did the Zorblax turbine produce?",
                                "answers": [{"text": "42 megawatts", "answer_start": 0}],
                            }
                        ],
                    },
                    {"context": DOCS["d2"][1], "qas": []},
                ],
            }
        ]
    }
    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(data))
    args = ["eval", "squad", str(squad), "--work", str(tmp_path / "w"), "--max-tokens", "24"]
    assert main([*args, "--pipelines", "folio,naive,wide", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 1 and out["paragraphs"] == 2
    for name in ("folio", "naive", "wide"):
        p = out["pipelines"][name]
        assert p["n"] == 1 and 0 <= p["f1"] <= 100
        assert p["first_token_ms"]["p50"] > 0
    assert out["pipelines"]["folio"]["citation_of_gold"] == 100.0
    assert out["pipelines"]["wide"]["citation_of_gold"] == 100.0
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["eval", "squad", str(bad)]) == 1
    assert "not a SQuAD-format JSON file" in capsys.readouterr().err


def test_eval_answers_scores_each_configuration_and_the_removed_article(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def article(title: str, context: str, question: str, answer: str) -> dict[str, object]:
        qa = {"id": title, "question": question,
              "answers": [{"text": answer, "answer_start": context.index(answer)}]}  # fmt: skip
        return {"title": title, "paragraphs": [{"context": context, "qas": [qa]}]}

    data = {
        "data": [
            article(
                "Zorblax",
                DOCS["d1"][1],
                "How many megawatts did the Zorblax turbine produce?",
                "42 megawatts",
            ),  # fmt: skip
            article(
                "Travel",
                DOCS["d3"][1],
                "Which agency books flights to Reykjavik?",
                "the Hvalur agency",
            ),  # fmt: skip
        ]
    }
    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(data))
    args = ["eval", "answers", str(squad), "--work", str(tmp_path / "w"), "--max-tokens", "32"]
    args += ["--configs", "default,base,grounded,extractive", "--removed", "default,base"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["configs"]
    assert set(rows) == {"default (quote)", "base", "grounded", "extractive"}
    # The quote of the best sentence holds the answer here (one sentence a passage), and a
    # fresh install's quote too, with no model run (no tokens: its first token is the quote).
    for quoted in ("extractive", "default (quote)"):
        assert rows[quoted]["contains_gold"] == 100.0
        assert rows[quoted]["citation_of_gold"] == 100.0
    default, base = rows["default (quote)"], rows["base"]
    assert default["n"] == 2 and default["n_removed"] == 2 and base["n_removed"] == 2
    assert default["declined_article_removed"] == 100.0  # nothing else answers these
    assert 0 <= base["declined_article_removed"] <= 100
    assert base["format_compliance"] is None  # no adapter, no declared format
    assert rows["grounded"]["format_compliance"] is not None  # its sidecar declares one
    assert main(["eval", "answers", str(squad), "--configs", "nonsense"]) == 1
    assert "unknown configuration 'nonsense'" in capsys.readouterr().err
