"""Corpus building: dedup by sha256(title + " " + text), ids, order, abstracts dump, count check."""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from steper.cli import main
from steper.data.prepare import prepare

FIXTURES = Path(__file__).parent / "fixtures"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def corpus(*args) -> int:
    return main(["data", "corpus", *map(str, args)])


def test_corpus_from_records_dedups_and_ids(tmp_path):
    dev = tmp_path / "dev.jsonl"
    prepare("2wikimultihopqa", "2wikimultihopqa", FIXTURES / "2wikimultihopqa" / "dev.json", dev)
    musique = tmp_path / "musique.jsonl"
    prepare("musique", "musique", FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl", musique)
    out = tmp_path / "corpus.jsonl"
    assert corpus("--dataset", "2wikimultihopqa", "--records", dev, musique, "--output", out) == 0
    docs = _lines(out)
    # 2Wiki: 3 + 3 + 2 + 4 paragraphs, of which "Blind Shaft", "Polish-Russian War (film)", "Xawery Żuławski" repeat;
    # MuSiQue: 3 + 4 + 5, of which "Zürich" (2 distinct texts) and nothing else repeats exactly
    assert len(docs) == 9 + 12
    assert len({d["id"] for d in docs}) == len(docs)
    first = docs[0]
    assert first["title"] == "Maheen Khan"
    assert first["contents"] == (
        "Maheen Khan is a Pakistani fashion and costume designer. She has done many national and international projects."
    )
    assert first["id"] == hashlib.sha256(f"{first['title']} {first['contents']}".encode()).hexdigest()[:16]
    assert [d["title"] for d in docs].count("Zürich") == 2
    stats = json.loads((tmp_path / "corpus.jsonl.stats.json").read_text())
    assert stats == {"dataset": "2wikimultihopqa", "count": 21, "duplicates": 3, "expected": None, "match": None}
    again = tmp_path / "again.jsonl"  # same inputs, same file
    corpus("--dataset", "2wikimultihopqa", "--records", dev, musique, "--output", again)
    assert again.read_bytes() == out.read_bytes()


def test_corpus_from_native_files_and_expected_count(tmp_path):
    out = tmp_path / "corpus.jsonl"
    answerable = FIXTURES / "musique" / "musique_ans_v1.0_dev.jsonl"
    full = FIXTURES / "musique" / "musique_full_v1.0_dev.json"
    code = corpus(
        "--dataset", "musique", "--native", "musique", "--records", answerable, full, "--output", out, "--expect-count"
    )
    assert code == 0
    stats = json.loads((tmp_path / "corpus.jsonl.stats.json").read_text())
    assert stats["count"] == 12 and stats["expected"] == 139_416 and stats["match"] is False
    corpus(
        "--dataset", "musique", "--native", "musique", "--records", answerable, "--output", out, "--expect-count", 12
    )
    assert json.loads((tmp_path / "corpus.jsonl.stats.json").read_text())["match"] is True


def _abstracts_archive(tmp_path: Path) -> Path:
    """The dump's layout: <dir>/AA/wiki_00.bz2, <dir>/AB/wiki_00.bz2, bz2 JSON lines inside a tar.bz2."""
    lines = (
        (FIXTURES / "hotpotqa" / "enwiki_abstracts_sample.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    )
    archive = tmp_path / "enwiki-abstracts.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for folder, chunk in (("AA", lines[:2]), ("AB", lines[2:])):
            data = bz2.compress("".join(chunk).encode("utf-8"))
            info = tarfile.TarInfo(f"enwiki-20171001-pages-meta-current-withlinks-abstracts/{folder}/wiki_00.bz2")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_corpus_from_wiki_abstracts(tmp_path):
    out = tmp_path / "hotpot.jsonl"
    archive = _abstracts_archive(tmp_path)
    code = corpus("--dataset", "hotpotqa", "--wiki-abstracts", archive, "--output", out, "--expect-count")
    assert code == 0
    docs = _lines(out)
    assert [d["title"] for d in docs] == ["Anarchism", "Zürich", "Łódź", "Empty abstract"]
    assert docs[0]["contents"] == (
        "Anarchism is a political philosophy that advocates self-governed societies based on voluntary institutions. "
        "These are often described as stateless societies."
    )
    assert docs[2]["contents"] == "Łódź is the third-largest city in Poland."
    assert docs[3]["contents"] == ""
    stats = json.loads((tmp_path / "hotpot.jsonl.stats.json").read_text())
    assert stats["count"] == 4 and stats["expected"] == 5_233_329 and stats["match"] is False


def test_broken_abstracts_line_is_named(tmp_path, capsys):
    archive = tmp_path / "bad.tar.bz2"
    data = bz2.compress(b'{"id": "1", "title": "A", "text": ["a."]}\n{"id": "2", "text": ["b."]}\n')
    with tarfile.open(archive, "w:bz2") as tar:
        info = tarfile.TarInfo("dump/AA/wiki_00.bz2")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "c.jsonl"
    assert corpus("--dataset", "hotpotqa", "--wiki-abstracts", archive, "--output", out) == 2
    err = capsys.readouterr().err
    assert "dump/AA/wiki_00.bz2, line 2" in err and "'title'" in err
    assert not out.exists()


def test_corpus_from_extracted_abstracts_directory(tmp_path):
    archive = _abstracts_archive(tmp_path)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "dump", filter="data")
    from_dir, from_tar = tmp_path / "dir.jsonl", tmp_path / "tar.jsonl"
    corpus("--dataset", "hotpotqa", "--wiki-abstracts", tmp_path / "dump", "--output", from_dir)
    corpus("--dataset", "hotpotqa", "--wiki-abstracts", archive, "--output", from_tar)
    assert from_dir.read_bytes() == from_tar.read_bytes()


@pytest.mark.parametrize(
    "payload, reason",
    [(b"BZh91AY&SY not a bz2 stream", "not a readable bz2 file"), (bz2.compress(b'{"title": "\xff\xfe"}\n'), "not a readable bz2 file of UTF-8")],
    ids=["corrupt-bz2", "non-utf8"],
)
def test_unreadable_abstracts_member_is_named(tmp_path, capsys, payload, reason):
    archive = tmp_path / "enwiki-abstracts.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        info = tarfile.TarInfo("abstracts/AA/wiki_00.bz2")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    folder = tmp_path / "extracted" / "AA"
    folder.mkdir(parents=True)
    (folder / "wiki_00.bz2").write_bytes(payload)
    for source, member in ((archive, "abstracts/AA/wiki_00.bz2"), (tmp_path / "extracted", "wiki_00.bz2")):
        out = tmp_path / "hotpot.jsonl"
        assert corpus("--dataset", "hotpotqa", "--wiki-abstracts", source, "--output", out) == 2
        err = capsys.readouterr().err
        assert member in err and reason in err and "Traceback" not in err
        assert not out.exists()
