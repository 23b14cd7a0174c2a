"""The datasets steper reads, and the native files each is read from.

The toy world writes the files the official releases have (HotpotQA under shorter names), so the
same readers and corpus builder run on both. IRCoT's corpora: HotpotQA's is the 2017 Wikipedia
abstracts (a download of its own); 2Wiki's and MuSiQue's are every paragraph of every split, test
files included (they carry no answers, so they are read natively).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    reader: str  # the `steper data prepare --format` of its native files
    official: tuple[str, str]  # (train, dev) file names of the official release
    toy: tuple[str, str]  # (train, dev) file names the toy world writes
    corpus: tuple[str, ...] = ()  # official files whose paragraphs are the corpus
    aliases: str | None = None  # answer aliases beside the native files


WIKI_ABSTRACTS_DOWNLOAD = "hotpotqa-wiki"
WIKI_ABSTRACTS = "enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"

DATASETS: dict[str, Dataset] = {
    "hotpotqa": Dataset(
        reader="hotpotqa",
        official=("hotpot_train_v1.1.json", "hotpot_dev_distractor_v1.json"),
        toy=("train.json", "dev.json"),
    ),
    "2wikimultihopqa": Dataset(
        reader="2wikimultihopqa",
        official=("train.json", "dev.json"),
        toy=("train.json", "dev.json"),
        corpus=("train.json", "dev.json", "test.json"),
        aliases="id_aliases.json",
    ),
    "musique": Dataset(
        reader="musique",
        official=("musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
        toy=("musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
        corpus=tuple(f"musique_{kind}_v1.0_{split}.jsonl" for kind in ("ans", "full") for split in ("train", "dev", "test")),
    ),
}
