"""Result files -> every table and figure and REPORT.md (code: steper/paper/). Nothing here runs a model.

The paper rule renders exactly the files it declares: `paper_manifest` writes them, with what each
one is, to a JSON manifest that `steper paper render` reads instead of globbing results/{run}, so a
stale student or evaluation from older settings never enters a table or figure (steper/plan/paper.py).
"""

MANIFEST = paper_plan.manifest(plan, paper_plan.benchmark_results())
TABLES = paper_plan.tables(plan)
FIGURES = paper_plan.figures(plan)


rule paper_manifest:
    """The declared inputs of `paper`, with what each is; rewritten when the config changes what they are."""
    output:
        P("manifest"),
    log:
        LOG("paper_manifest"),
    localrule: True
    params:
        manifest=as_json(MANIFEST),
    run:
        paper_plan.write_manifest(output[0], params.manifest, log[0])


rule paper:
    input:
        paper_plan.result_files(plan, MANIFEST),
        manifest=P("manifest"),
    output:
        [reported(P("table", table=t, ext="md"), contents.TABLES[t]) for t in TABLES]
        + [P("table", table=t, ext="tex") for t in TABLES]
        + [reported(P("figure", figure=name, ext="png"), contents.FIGURES[name]) for name in FIGURES]
        + [P("figure", figure=name, ext="pdf") for name in FIGURES]
        + [reported(P("case_study"), contents.CASE_STUDY_CAPTION)],
        report=reported(P("report"), contents.REPORT_CAPTION),
    log:
        LOG("paper"),
    benchmark:
        BENCH("paper")
    conda:
        ENV_CPU
    params:
        output_dir=lambda w, output: os.path.dirname(output.report),
        settings=as_json(paper_plan.settings(plan)),
    shell:
        "steper paper render --manifest {input.manifest:q} --output-dir {params.output_dir:q} --settings {params.settings:q} 2> {log:q}"


rule check:
    """`snakemake check`: compare this run's results with the numbers committed in config/expected/{run}.yaml."""
    input:
        [entry["path"] for entry in MANIFEST["evals"]],
        expected=P("expected"),
    output:
        P("check"),
    log:
        LOG("check"),
    conda:
        ENV_CPU
    params:
        results_dir=lambda w: P("results"),
    shell:
        "steper paper check --results-dir {params.results_dir:q} --expected {input.expected:q} > {output:q}.tmp 2> {log:q};"
        " status=$?; cat {output:q}.tmp; mv {output:q}.tmp {output:q}; exit $status"
