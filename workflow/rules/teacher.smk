"""Few-shot teacher traces: the teacher runs a framework (IRCoT, Self-Ask) over a split (code: steper/frameworks/).

A trace file is produced by `shards` parallel jobs, then merged. Each shard job is resumable: it
appends finished questions to `<shard>.partial` (not a Snakemake output, so Snakemake never deletes
it) and renames it into place when done, so a killed job restarted loses and recomputes nothing.

A (framework, dataset, teacher) of `teacher.imports` is not run: `teacher_import` puts the traces
made elsewhere, checked against this run's records, where the merged file would be.
"""


rule teacher_shard:
    input:
        records=P("records"),
        index=P("index", backend=config["retrieval"]["backend"]),
        model=lambda w: plan.model_dir(w.model),
        demonstrations=lambda w: plan.demonstrations(w.dataset),
    output:
        P("trace_shard"),
    log:
        LOG("teacher_shard"),
    benchmark:
        BENCH("teacher_shard")
    conda:
        ENV_GPU
    threads: config["teacher"]["resources"]["threads"]
    resources:
        **plan.resources("teacher"),
    params:
        index_dir=lambda w: plan.index_dir(w.dataset),
        settings=lambda w: plan.teacher_settings(w.model),
    shell:
        "OMP_NUM_THREADS={threads} steper teacher run --framework {wildcards.framework:q}"
        " --records {input.records:q} --index-dir {params.index_dir:q} --model {input.model:q}"
        " --model-name {wildcards.model:q} --demonstrations {input.demonstrations:q}"
        " --shard {wildcards.shard:q} --num-shards {wildcards.n:q} --output {output:q}"
        " --settings {params.settings:q} 2> {log:q}"


rule teacher_merge:
    input:
        records=P("records"),
        shards=expand(P("trace_shard"), shard=range(plan.shards), n=plan.shards, allow_missing=True),
    output:
        traces=P("traces"),
        summary=P("traces_summary"),
    log:
        LOG("teacher_merge"),
    benchmark:
        BENCH("teacher_merge")
    conda:
        ENV_CPU
    shell:
        "steper teacher merge --inputs {input.shards:q} --records {input.records:q} --output {output.traces:q} 2> {log:q}"


rule teacher_import:
    """Traces made elsewhere (teacher.imports) where the merged traces of the teacher go; the
    ruleorder below makes it, not teacher_merge, produce them, so no teacher job runs for them."""
    input:
        records=lambda w: P("records", dataset=plan.imported[w.traced].dataset, split="train"),
    output:
        traces=import_output(P("traces", split="train")),
        summary=import_output(P("traces_summary", split="train")),
    log:
        LOG("teacher_import"),
    benchmark:
        BENCH("teacher_import")
    wildcard_constraints:
        traced=one_of(plan.imported),
    conda:
        ENV_CPU
    params:
        framework=lambda w: plan.imported[w.traced].framework,
        teacher=lambda w: plan.imported[w.traced].teacher,
        source=lambda w: import_source(plan.imported[w.traced], workflow.basedir),
        sha256=lambda w: plan.imported[w.traced].sha256,
    shell:
        "steper teacher import --framework {params.framework:q} --model-name {params.teacher:q} --records {input.records:q}"
        " --input {params.source:q} --sha256 {params.sha256:q} --output {output.traces:q} 2> {log:q}"


ruleorder: teacher_import > teacher_merge
