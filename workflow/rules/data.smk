"""Raw data (generated toy world or official downloads) -> unified records -> IRCoT splits -> corpora."""

TOY = config["data"]["source"] == "toy"

# Native file names of each dataset's train and dev files, and the reader format.
NATIVE = {
    "toy": {
        "hotpotqa": ("hotpotqa", "train.json", "dev.json"),
        "2wikimultihopqa": ("2wikimultihopqa", "train.json", "dev.json"),
        "musique": ("musique", "musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
    },
    "official": {
        "hotpotqa": ("hotpotqa", "hotpot_train_v1.1.json", "hotpot_dev_distractor_v1.json"),
        "2wikimultihopqa": ("2wikimultihopqa", "train.json", "dev.json"),
        "musique": ("musique", "musique_ans_v1.0_train.jsonl", "musique_ans_v1.0_dev.jsonl"),
    },
}[config["data"]["source"]]
EXPECTED_CORPUS_SIZE = {"hotpotqa": 5233329, "2wikimultihopqa": 430225, "musique": 139416}


if TOY:

    rule toy_world:
        output:
            raw=directory(R("raw/{dataset}")),
            demonstrations=R("raw/annotations/{dataset}.jsonl"),
        params:
            settings=as_json(config["data"]["toy"]),
        conda:
            ENV_CPU
        log:
            LOG("data/toy_world/{dataset}"),
        benchmark:
            BENCH("data/toy_world/{dataset}")
        shell:
            "steper data toy --dataset {wildcards.dataset} --output-dir {output.raw} --demonstrations {output.demonstrations}"
            " --settings {params.settings:q} 2> {log}"

else:

    rule download:
        output:
            directory(R("raw/{name}")),
        wildcard_constraints:
            name="hotpotqa|hotpotqa-wiki|2wikimultihopqa|musique",
        conda:
            ENV_CPU
        log:
            LOG("data/download/{name}"),
        benchmark:
            BENCH("data/download/{name}")
        shell:
            "steper data download --dataset {wildcards.name} --output-dir {output} 2> {log}"

    rule annotations:
        input:
            records=expand(R("data/{{dataset}}/full_{part}.jsonl"), part=["train", "dev"]),
        output:
            R("raw/annotations/{dataset}.jsonl"),
        params:
            url=lambda w: config["data"]["annotations"]["url"].format(dataset=w.dataset),
        conda:
            ENV_CPU
        log:
            LOG("data/annotations/{dataset}"),
        benchmark:
            BENCH("data/annotations/{dataset}")
        shell:
            "steper teacher annotations --dataset {wildcards.dataset} --input {params.url:q} --records {input.records}"
            " --output {output} 2> {log}"


def prepare_flags(wildcards, input):
    fmt, train, dev = NATIVE[wildcards.dataset]
    raw = input.raw
    flags = [f"--format {fmt}", f"--input {raw}/{train if wildcards.part == 'train' else dev}"]
    if wildcards.dataset == "2wikimultihopqa":
        flags.append(f"--aliases {raw}/id_aliases.json")
    if TOY:
        flags.append(f"--chains {raw}/chains.jsonl")
    return " ".join(flags)


rule prepare:
    input:
        raw=R("raw/{dataset}"),
    output:
        R("data/{dataset}/full_{part}.jsonl"),
    wildcard_constraints:
        part="train|dev",
    params:
        flags=prepare_flags,
    conda:
        ENV_CPU
    log:
        LOG("data/prepare/{dataset}_{part}"),
    benchmark:
        BENCH("data/prepare/{dataset}_{part}")
    shell:
        "steper data prepare --dataset {wildcards.dataset} {params.flags} --output {output} 2> {log}"


rule split:
    input:
        train=R("data/{dataset}/full_train.jsonl"),
        dev=R("data/{dataset}/full_dev.jsonl"),
    output:
        train=R("data/{dataset}/train.jsonl"),
        dev=R("data/{dataset}/dev.jsonl"),
        test=R("data/{dataset}/test.jsonl"),
    params:
        settings=as_json(config["data"]["split"]),
    conda:
        ENV_CPU
    log:
        LOG("data/split/{dataset}"),
    benchmark:
        BENCH("data/split/{dataset}")
    shell:
        "steper data split --train {input.train} --dev {input.dev} --output-dir $(dirname {output.train})"
        " --settings {params.settings:q} 2> {log}"


# IRCoT's corpora: HotpotQA = the 2017 Wikipedia abstracts; 2Wiki and MuSiQue = every paragraph of
# every split, test files included (they carry no answers, so they are read natively).
NATIVE_CORPUS_FILES = {
    "2wikimultihopqa": ["train.json", "dev.json", "test.json"],
    "musique": [f"musique_{kind}_v1.0_{split}.jsonl" for kind in ("ans", "full") for split in ("train", "dev", "test")],
}


def corpus_sources(wildcards):
    if TOY:
        return {"records": [R(f"data/{wildcards.dataset}/full_train.jsonl"), R(f"data/{wildcards.dataset}/full_dev.jsonl")]}
    if wildcards.dataset == "hotpotqa":
        return {"wiki": R("raw/hotpotqa-wiki")}
    return {"raw": R(f"raw/{wildcards.dataset}")}


def corpus_flags(wildcards, input):
    if TOY:
        return "--records " + " ".join(input.records)
    if wildcards.dataset == "hotpotqa":
        flags = f"--wiki-abstracts {input.wiki}/enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"
    else:
        files = " ".join(f"{input.raw}/{name}" for name in NATIVE_CORPUS_FILES[wildcards.dataset])
        flags = f"--native {NATIVE[wildcards.dataset][0]} --records {files}"
    return f"{flags} --expect-count {EXPECTED_CORPUS_SIZE[wildcards.dataset]}"


rule corpus:
    input:
        unpack(corpus_sources),
    output:
        R("corpus/{dataset}.jsonl"),
    params:
        flags=corpus_flags,
    conda:
        ENV_CPU
    log:
        LOG("data/corpus/{dataset}"),
    benchmark:
        BENCH("data/corpus/{dataset}")
    shell:
        "steper data corpus --dataset {wildcards.dataset} {params.flags} --output {output} 2> {log}"
