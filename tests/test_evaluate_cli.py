"""`steper evaluate score|run` end to end: hand-written predictions, and a tiny random model run."""

import json
import shutil
from pathlib import Path

import pytest

from steper import layout
from steper.cli import main
from steper.settings import config_hash

FIXTURES = Path(__file__).parent / "fixtures" / "results" / "predictions"
FRAMEWORK_FIXTURES = Path(__file__).parent / "fixtures" / "frameworks"


def _score(tmp_path, *extra, predictions=FIXTURES / "stu--steper.predictions.jsonl", records=FIXTURES / "test.jsonl"):
    output = tmp_path / "eval" / "ircot" / "hotpotqa" / "stu--steper.json"
    argv = [
        "evaluate", "score", "--framework", "ircot", "--dataset", "hotpotqa", "--system", "stu--steper",
        "--records", str(records), "--predictions", str(predictions), "--output", str(output), *extra,
    ]
    return main(argv), output


def test_score_writes_the_evaluation_json(tmp_path):
    code, output = _score(tmp_path)
    assert code == 0
    result = json.loads(output.read_text())
    assert (result["system"], result["framework"], result["dataset"]) == ("stu--steper", "ircot", "hotpotqa")
    assert result["metrics"]["acc"] == pytest.approx(50.0)
    assert result["metrics"]["em"] == pytest.approx(25.0)
    assert result["metrics"]["n"] == 4 and result["n_records"] == 4
    assert result["abilities"]["expansion"] == pytest.approx(50.0)
    assert result["model_dir"] is None and result["n_parameters"] is None
    assert len(result["config_hash"]) == 16
    assert "created" not in result
    # per-question rows (sorted by id) average to the reported metrics: the bootstrap resamples them
    rows = result["per_question"]
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows) and len(rows) == 4
    assert 100.0 * sum(row["acc"] for row in rows) / 4 == pytest.approx(result["metrics"]["acc"])
    assert 100.0 * sum(row["em"] for row in rows) / 4 == pytest.approx(result["metrics"]["em"])
    expansion = [row["expansion"] for row in rows if row["expansion"] is not None]
    assert 100.0 * sum(expansion) / len(expansion) == pytest.approx(result["abilities"]["expansion"])


def test_score_is_deterministic(tmp_path):
    _, first = _score(tmp_path / "a")
    _, second = _score(tmp_path / "b")
    assert first.read_text() == second.read_text()


def test_missing_predictions_fail_unless_partial(tmp_path, capsys):
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join((FIXTURES / "stu--steper.predictions.jsonl").read_text().splitlines(keepends=True)[:2]))
    code, output = _score(tmp_path, predictions=partial)
    assert code == 2 and not output.exists()
    assert "2 of 4 records" in capsys.readouterr().err
    code, output = _score(tmp_path, "--partial", predictions=partial)
    assert code == 0
    assert json.loads(output.read_text())["metrics"]["n"] == 2


def test_prediction_for_unknown_record_is_an_error(tmp_path, capsys):
    records = tmp_path / "records.jsonl"
    records.write_text("".join((FIXTURES / "test.jsonl").read_text().splitlines(keepends=True)[1:]))
    code, output = _score(tmp_path, "--partial", records=records)
    assert code == 2 and not output.exists()
    assert "'q1'" in capsys.readouterr().err


def test_unknown_settings_key_is_an_error(tmp_path, capsys):
    code, output = _score(tmp_path, "--settings", json.dumps({"framework": {"top_k": 2}, "sampling": {}}))
    assert code == 2 and not output.exists()
    assert "sampling" in capsys.readouterr().err
    code, output = _score(tmp_path, "--settings", json.dumps({"framework": {"topk": 2}}))
    assert code == 2
    assert "topk" in capsys.readouterr().err


@pytest.fixture
def one_torch_thread():
    """Torch computes on one thread here: a process forked after torch started its thread pool (as
    mutmut forks one per mutant) waits forever on that pool's lock."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_run_with_a_tiny_random_model(tmp_path, monkeypatch, one_torch_thread):
    from steper.models.tiny import RandomModelSettings, build_random_model
    from steper.retrieval import build_index
    from steper.retrieval.bm25s_backend import Bm25sRetriever

    opened = []
    open_index = Bm25sRetriever.__init__

    def counting(self, *args, **kwargs):
        opened.append(args[0])
        open_index(self, *args, **kwargs)

    monkeypatch.setattr(Bm25sRetriever, "__init__", counting)

    corpus = FRAMEWORK_FIXTURES / "corpus.jsonl"
    model = tmp_path / "model"
    build_random_model([corpus], model, RandomModelSettings(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64, vocab_size=400))
    build_index(corpus, tmp_path / "index" / "bm25s", "bm25s")
    # the fixture's records, e1 with a supporting passage whose text differs from the corpus's: only the
    # index (by title) finds it among the passages the run retrieved, as for real datasets' paragraphs
    records = tmp_path / "records.jsonl"
    rows = [json.loads(line) for line in (FRAMEWORK_FIXTURES / "records.jsonl").read_text().splitlines()]
    rows[0]["supporting"] = [{"title": "The Hollow Orchard", "text": "The Hollow Orchard (film), a drama."}]
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))
    predictions = tmp_path / "eval" / "ircot" / "toy" / "tiny--steper.predictions.jsonl"
    output = tmp_path / "eval" / "ircot" / "toy" / "tiny--steper.json"
    settings = {"framework": {"top_k": 2, "max_steps": 2, "max_passages": 4, "max_new_tokens": 6, "shots": 1, "retrieval_backend": "bm25s"},
                "generation": {"dtype": "float32", "batch_size": 2}}
    argv = [
        "evaluate", "run", "--framework", "ircot", "--dataset", "toy", "--system", "tiny--steper",
        "--records", str(records), "--index-dir", str(tmp_path / "index"), "--model", str(model),
        "--demonstrations", str(FRAMEWORK_FIXTURES / "demonstrations.jsonl"),
        "--predictions", str(predictions), "--output", str(output), "--settings", json.dumps(settings),
    ]
    assert main(argv) == 0
    # one index, opened once: the run's retrieval and the scoring's passage look-ups share it
    assert [Path(path) for path in opened] == [tmp_path / "index" / "bm25s"]
    result = json.loads(output.read_text())
    assert (result["system"], result["framework"], result["dataset"]) == ("tiny--steper", "ircot", "toy")
    assert (result["predictions"], result["records"], result["model_dir"]) == (str(predictions), str(records), str(model))
    assert result["metrics"]["n"] == 3 and result["n_records"] == 3
    assert [row["id"] for row in result["per_question"]] == ["e1", "e2", "e3"]
    assert [row["supporting_recall"] for row in result["per_question"]] == [1.0, None, None]
    assert 1 <= result["metrics"]["mean_steps"] <= 2
    assert result["metrics"]["prompt_tokens"] > 0 and result["metrics"]["seconds_per_question"] > 0
    assert result["settings"]["framework"]["top_k"] == 2 and result["settings"]["generation"]["seed"] == 0
    assert result["precision"] == {"storage_dtype": "float32", "compute_dtype_setting": "float32", "compute_dtype": "float32"}
    from transformers import AutoModelForCausalLM

    assert result["n_parameters"] == AutoModelForCausalLM.from_pretrained(model).num_parameters()
    sidecar = json.loads(Path(layout.settings_sidecar(output)).read_text())
    assert (sidecar["system"], sidecar["framework"], sidecar["dataset"]) == ("tiny--steper", "ircot", "toy")
    assert (sidecar["settings"], sidecar["config_hash"]) == (result["settings"], config_hash(result["settings"]))
    # the predictions: this system's, prompted with one demonstration, and the identity a resume checks
    traces = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert {(trace["framework"], trace["model"]) for trace in traces} == {("ircot", "tiny--steper")}
    identity = json.loads(Path(f"{predictions}.resume.json").read_text())["run"]["identity"]
    assert (identity["framework"], identity["model"]) == ("ircot", "tiny--steper")
    assert "model.safetensors" in identity["model_files"] and "corpus.jsonl" in identity["index_files"]
    assert identity["settings"]["shots"] == 1 and identity["demonstrations"] is not None
    # Resumable: a second run reuses every prediction and gives the same metrics.
    before = predictions.read_text()
    shutil.copy(output, tmp_path / "first.json")
    assert main(argv) == 0
    assert predictions.read_text() == before
    assert json.loads(output.read_text())["metrics"] == json.loads((tmp_path / "first.json").read_text())["metrics"]
