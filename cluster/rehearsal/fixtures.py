"""Small stand-ins for the paper tier's official downloads, in the real file names and formats.

The paper DAG downloads HotpotQA's JSON files, the 2017 Wikipedia abstracts tarball, 2Wiki's
`data_ids.zip`, MuSiQue's `musique_v1.0.zip` and IRCoT's annotation jsonnet files. For a rehearsal
on a machine without those hosts, this writes files with the same names and layouts, filled from
the toy world (`steper data toy`), under one directory that `cluster/rehearsal.sh` serves over
http on 127.0.0.1:

    <out>/hotpotqa/hotpot_train_v1.1.json, hotpot_dev_distractor_v1.json
    <out>/hotpotqa-wiki/enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2
    <out>/2wikimultihopqa/data_ids.zip      (data_ids/{train,dev,test}.json, id_aliases.json)
    <out>/musique/musique_v1.0.zip          (data/musique_{ans,full}_v1.0_{train,dev,test}.jsonl)
    <out>/annotations/{dataset}.jsonnet     (IRCoT's prompt_generator/data_annotations format)
    <out>/sha256.json                       (file name -> sha256 of the downloads above)
    <out>/subqa/hotpotqa_dev_subqa.json     (SubQA stand-in, steper/data/subqa.py's format: the
                                             paper tier's paper.subquestions.subqa, a user-provided file)
    <out>/followups/hotpotqa.jsonl          (Self-Ask decompositions of the annotated HotpotQA questions:
                                             data.annotations.followups, whose default covers IRCoT's real ones)

    python cluster/rehearsal/fixtures.py --output results/rehearsal-fixtures
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import json
import logging
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger("rehearsal.fixtures")

DATASETS = ("hotpotqa", "2wikimultihopqa", "musique")
# The directories of `steper data download`'s datasets (steper/data/download.py SOURCES): `--mirror` layout.
DOWNLOADS = ("hotpotqa", "hotpotqa-wiki", "2wikimultihopqa", "musique")
SUBQA = "subqa/hotpotqa_dev_subqa.json"
FOLLOWUPS = "followups/hotpotqa.jsonl"
WIKI_ABSTRACTS = "enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"
# Enough questions for IRCoT's protocol at the rehearsal's split sizes (config/rehearsal.yaml).
TOY_SETTINGS = {"seed": 0, "n_entities": 160, "n_train": 40, "n_dev": 40, "n_distractors": 4}


def toy_world(dataset: str, directory: Path) -> Path:
    """The toy world of one dataset in its native format."""
    raw = directory / dataset
    subprocess.run(
        [sys.executable, "-m", "steper.cli", "data", "toy", "--dataset", dataset, "--output-dir", str(raw),
         "--settings", json.dumps(TOY_SETTINGS)],
        check=True,
    )
    return raw


def unlabelled(records: list[dict], answer_keys: tuple[str, ...]) -> list[dict]:
    """A test split as the datasets publish it: the questions and paragraphs without their answers."""
    return [{key: value for key, value in record.items() if key not in answer_keys} for record in records]


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def hotpotqa(raw: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "hotpot_train_v1.1.json").write_text((raw / "train.json").read_text())
    (out / "hotpot_dev_distractor_v1.json").write_text((raw / "dev.json").read_text())


def wiki_abstracts(raw: Path, out: Path) -> None:
    """Every HotpotQA context paragraph as one abstract: bz2 JSON lines inside a tar.bz2, as in the dump."""
    articles: dict[str, list[str]] = {}
    for name in ("train.json", "dev.json"):
        for record in json.loads((raw / name).read_text()):
            for title, sentences in record["context"]:
                articles.setdefault(title, sentences)
    lines = [
        {"id": str(i), "url": f"https://en.wikipedia.org/wiki?curid={i}", "title": title, "text": [sentences]}
        for i, (title, sentences) in enumerate(sorted(articles.items()), start=1)
    ]
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / WIKI_ABSTRACTS, "w:bz2") as archive:
        for part, start in enumerate(range(0, len(lines), 100)):
            data = bz2.compress(jsonl(lines[start : start + 100]).encode())
            info = tarfile.TarInfo(f"enwiki-20171001-pages-meta-current-withlinks-abstracts/AA/wiki_{part:02d}.bz2")
            info.size, info.mtime = len(data), 0
            archive.addfile(info, io.BytesIO(data))


def zip_members(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED)


def twowiki(raw: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    dev = json.loads((raw / "dev.json").read_text())
    test = unlabelled(dev, ("answer", "answer_id", "supporting_facts", "evidences", "evidences_id"))
    zip_members(
        out / "data_ids.zip",
        {
            "data_ids/train.json": (raw / "train.json").read_text(),
            "data_ids/dev.json": json.dumps(dev),
            "data_ids/test.json": json.dumps(test),
            "data_ids/id_aliases.json": (raw / "id_aliases.json").read_text(),
        },
    )


def musique(raw: Path, out: Path) -> None:
    """The answerable files from the toy world; `full` adds nothing unanswerable (the corpus dedups them)."""
    out.mkdir(parents=True, exist_ok=True)
    train = (raw / "musique_ans_v1.0_train.jsonl").read_text()
    dev_records = [json.loads(line) for line in (raw / "musique_ans_v1.0_dev.jsonl").read_text().splitlines() if line]
    test = jsonl(unlabelled(dev_records, ("answer", "answer_aliases", "question_decomposition")))
    members = {}
    for kind in ("ans", "full"):
        members[f"data/musique_{kind}_v1.0_train.jsonl"] = train
        members[f"data/musique_{kind}_v1.0_dev.jsonl"] = jsonl(dev_records)
        members[f"data/musique_{kind}_v1.0_test.jsonl"] = test
    zip_members(out / "musique_v1.0.zip", members)


def gold_steps(dataset: str, record: dict) -> list[tuple[str, str]]:
    """(title, sentence) of each reasoning step of a training question, from its gold annotations."""
    if dataset == "musique":
        paragraphs = {p["idx"]: p for p in record["paragraphs"]}
        steps = []
        for step in record["question_decomposition"]:
            paragraph = paragraphs[step["paragraph_support_idx"]]
            sentences = [s.strip() + "." for s in paragraph["paragraph_text"].split(". ") if s.strip()]
            sentence = next((s for s in sentences if step["answer"] in s), sentences[0])
            steps.append((paragraph["title"], sentence.replace("..", ".")))
        return steps
    context = {title: sentences for title, sentences in record["context"]}
    return [(title, context[title][i].strip()) for title, i in record["supporting_facts"]]


def annotations(dataset: str, raw: Path, out: Path, count: int = 8) -> None:
    """IRCoT annotation jsonnet for the first `count` training questions: one reasoning step per gold
    supporting sentence, then the answer sentence; with IRCoT's `#` comments and trailing commas.
    The ids are the records' own, as in IRCoT's files, so Self-Ask demonstrations get the records'
    decompositions (MuSiQue's, 2Wiki's evidences) as follow-ups."""
    if dataset == "musique":
        records = [json.loads(line) for line in (raw / "musique_ans_v1.0_train.jsonl").read_text().splitlines() if line]
    else:
        records = json.loads((raw / "train.json").read_text())
    items = []
    for number, record in enumerate(records[:count], start=1):
        qid = record.get("_id", record.get("id"))
        steps = [
            f'{{"paragraphs": [{json.dumps({"title": title, "text_substring": sentence[:40]})},], "cot_sent": {json.dumps(sentence)},}}'
            for title, sentence in gold_steps(dataset, record)
        ]
        answer = f'{{"paragraphs": [{{"title": null, "text_substring": null}},], "cot_sent": {json.dumps("So the answer is: " + record["answer"] + ".")},}}'
        items.append(
            f"    # {number}\n    {{\n        \"question_id\": {json.dumps(qid)},\n"
            f"        \"question_text\": {json.dumps(record['question'])},\n"
            "        \"reasoning_steps\": [\n            " + ",\n            ".join(steps + [answer]) + ",\n        ],\n    },"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("[\n" + "\n".join(items) + "\n]\n")


def write_if_changed(out: Path, text: str) -> None:
    """Rules take the user-provided stand-ins as inputs: an unchanged one keeps a rerun of the
    rehearsal from redoing their branches."""
    if not out.exists() or out.read_text() != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


def chains(raw: Path) -> list[dict]:
    return [json.loads(line) for line in (raw / "chains.jsonl").read_text().splitlines() if line]


def subqa(raw: Path, out: Path) -> None:
    """HotpotQA dev questions with their sub-questions (the toy world's gold chains), as SubQA gives
    them for the real dev set."""
    dev = {record["_id"] for record in json.loads((raw / "dev.json").read_text())}
    entries = [{"id": chain["id"], "sub_questions": chain["decomposition"]} for chain in chains(raw) if chain["id"] in dev]
    write_if_changed(out, json.dumps(entries, indent=1) + "\n")


def followups(raw: Path, out: Path, count: int = 8) -> None:
    """The Self-Ask decompositions of the questions `annotations` writes, from the toy world's gold chains."""
    gold = {chain["id"]: chain for chain in chains(raw)}
    records = json.loads((raw / "train.json").read_text())[:count]
    lines = [
        json.dumps({"id": record["_id"], "question": record["question"],
                    "followups": [{"question": hop["question"], "answer": hop["answer"]} for hop in gold[record["_id"]]["decomposition"]]})
        for record in records
    ]
    write_if_changed(out, "\n".join(lines) + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(output: Path) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as scratch:
        worlds = {dataset: toy_world(dataset, Path(scratch)) for dataset in DATASETS}
        hotpotqa(worlds["hotpotqa"], output / "hotpotqa")
        wiki_abstracts(worlds["hotpotqa"], output / "hotpotqa-wiki")
        twowiki(worlds["2wikimultihopqa"], output / "2wikimultihopqa")
        musique(worlds["musique"], output / "musique")
        for dataset, raw in worlds.items():
            annotations(dataset, raw, output / "annotations" / f"{dataset}.jsonnet")
        subqa(worlds["hotpotqa"], output / SUBQA)
        followups(worlds["hotpotqa"], output / FOLLOWUPS)
    downloads = sorted(path for name in (*DOWNLOADS, "annotations") for path in (output / name).iterdir())
    sums = {path.name: sha256(path) for path in downloads}
    (output / "sha256.json").write_text(json.dumps(sums, indent=2) + "\n")
    log.info("fixtures in %s: %s", output, ", ".join(sums))
    return sums


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, type=Path)
    build(parser.parse_args().output)


if __name__ == "__main__":
    main()
