"""`steper retrieval index|evaluate` end to end on the fixture corpus and five hand-written questions.

Expected figures, by hand, from the rankings both backends give the fixture (eval_k 1, 2, 3):
  q1 supporting {The Hollow Orchard, Tamsin Everhart}: ranks 2 and 1       -> 1/2, 2/2, 2/2
  q2 supporting {Müller & Søn, Aarhus}: ranks 1 and 2                      -> 1/2, 2/2, 2/2
  q3 supporting {Cardiff, with other text: matched by title}: rank 1       -> 1/1, 1/1, 1/1
  q4 supporting {Paper Lantern (film), Idris Calloway}: ranks 1 and 3      -> 1/2, 1/2, 2/2
  q5 has no supporting passage and is left out.
recall@1 = (50+50+100+50)/4 = 62.5, @2 = (100+100+100+50)/4 = 87.5, @3 = 100;
all found @1 = 1/4 (q3), @2 = 3/4, @3 = 4/4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steper.cli import main
from steper.io import read_json
from steper.retrieval import Passage
from steper.retrieval.evaluation import overlap, passage_id

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"
SETTINGS = json.dumps({"eval_k": [1, 2, 3], "k1": 0.9, "b": 0.4, "agreement_k": 3})


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "index" / "fixture"
    for backend in ("pyserini", "bm25s"):
        code = main(["retrieval", "index", "--corpus", str(FIXTURES / "corpus.jsonl"), "--backend", backend,
                     "--output", str(root / backend), "--settings", '{"k1": 0.9, "b": 0.4, "threads": 1}'])
        assert code == 0
    return root


def test_index_command_writes_resolved_settings(index_dir):
    for backend in ("pyserini", "bm25s"):
        info = read_json(index_dir / backend / "steper_settings.json")
        assert info["settings"] == {"k1": 0.9, "b": 0.4, "threads": 1}
        assert info["backend"] == backend and info["n_docs"] == 15
        assert len(info["config_hash"]) == 16


def test_evaluate_recall_matches_hand_computation(index_dir, tmp_path):
    output = tmp_path / "retrieval" / "fixture.json"
    code = main(["retrieval", "evaluate", "--records", str(FIXTURES / "records.jsonl"), "--index-dir", str(index_dir),
                 "--backends", "pyserini", "bm25s", "--dataset", "fixture", "--output", str(output), "--settings", SETTINGS])
    assert code == 0
    result = read_json(output)
    assert result["dataset"] == "fixture"
    assert result["n_questions"] == 4 and result["n_without_supporting"] == 1
    for backend in ("pyserini", "bm25s"):
        scores = result["backends"][backend]
        assert scores["recall"] == pytest.approx({"1": 62.5, "2": 87.5, "3": 100.0})
        assert scores["all_found"] == pytest.approx({"1": 25.0, "2": 75.0, "3": 100.0})
        assert scores["matched_by_title"] == 1
    assert result["agreement"] == {"backends": ["pyserini", "bm25s"], "k": 3, "overlap": 1.0}
    assert result["settings"] == {"eval_k": [1, 2, 3], "k1": 0.9, "b": 0.4, "agreement_k": 3}
    assert read_json(f"{output}.settings.json")["config_hash"] == result["config_hash"]


def test_evaluate_one_backend_has_no_agreement(index_dir, tmp_path):
    output = tmp_path / "one.json"
    assert main(["retrieval", "evaluate", "--records", str(FIXTURES / "records.jsonl"), "--index-dir", str(index_dir),
                 "--backends", "bm25s", "--dataset", "fixture", "--output", str(output), "--settings", SETTINGS]) == 0
    result = read_json(output)
    assert result["agreement"] is None and list(result["backends"]) == ["bm25s"]


def test_evaluate_errors_name_the_problem(index_dir, tmp_path, capsys):
    output = tmp_path / "bad.json"
    args = ["retrieval", "evaluate", "--index-dir", str(index_dir), "--dataset", "fixture", "--output", str(output)]
    records = tmp_path / "records.jsonl"
    records.write_text('{"id": "a", "question": "q", "supporting": [{"title": "T"}]}\n', encoding="utf-8")
    assert main(args + ["--records", str(records), "--backends", "bm25s"]) == 2
    assert "line 1: field 'supporting'" in capsys.readouterr().err
    assert main(args + ["--records", str(FIXTURES / "records.jsonl"), "--backends", "bm25s", "--settings", '{"kz": [1]}']) == 2
    assert "field 'kz' unknown setting" in capsys.readouterr().err
    assert main(args + ["--records", str(FIXTURES / "records.jsonl"), "--backends", "bm25s", "--settings", '{"eval_k": [0, 2]}']) == 2
    assert "field 'eval_k[0]' 0 is less than the minimum of 1" in capsys.readouterr().err
    assert main(["retrieval", "evaluate", "--records", str(FIXTURES / "records.jsonl"), "--index-dir", str(tmp_path),
                 "--backends", "pyserini", "--dataset", "x", "--output", str(output)]) == 2
    assert "index directory does not exist" in capsys.readouterr().err
    assert not output.exists()


def test_overlap_is_the_shared_fraction_of_the_top_k():
    def hits(*ids: str) -> list[Passage]:
        return [Passage(i, "", "") for i in ids]

    assert overlap(hits("a", "b", "c", "d"), hits("d", "a", "x", "y")) == 0.5
    assert overlap(hits("a", "b"), hits("a")) == 0.5
    assert overlap(hits(), hits()) == 1.0


def test_passage_id_is_the_corpus_id():
    line = json.loads((FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[5])
    assert passage_id(line["title"], line["contents"]) == line["id"]
